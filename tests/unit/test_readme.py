"""The README is the newcomer's contract: keep it in step with the project."""

from pathlib import Path

from exposcan.catalogue import default_catalogue

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_it_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_every_rule_of_the_catalogue_is_documented() -> None:
    missing = [rule for rule in default_catalogue().rules if f"`{rule}`" not in README]
    assert missing == []


def test_exit_codes_are_documented() -> None:
    for code in ("| 0 |", "| 1 |", "| 2 |"):
        assert code in README
