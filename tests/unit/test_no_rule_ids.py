"""No code names a rule id: which finding answers which verdict question,
which are "imaging", which action they call for, live in the catalogue (a
rule's ``verdict:`` block).  nuclei's engine never names a template either."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import pytest

from exposcan.catalogue import Catalogue, CatalogueError, RuleAction, catalogue_dir
from exposcan.report.i18n import report_words
from exposcan.verdict import ACTIONS, DECIDED_ACTIONS, KINDS

ROOT = Path(__file__).resolve().parents[2] / "exposcan"
#: Protocol code gathers facts; some fact kinds share a rule's name
#: ("http.cleartext"), and facts are the protocols' to name.
FACT_WRITERS = ROOT / "protocols"
RULE_LIKE = re.compile(r"^(dicom|http|smb|upnp|exposure|ftp|ipv6|tls)\.[a-z0-9-]+$")


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module (f-string parts too), not comments."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def _engine_report_verdict_files() -> list[Path]:
    return [p for p in sorted(ROOT.rglob("*.py")) if FACT_WRITERS not in p.parents]


def test_engine_report_and_verdict_code_name_no_rule_id() -> None:
    # Given every rule id of the shipped catalogue, and the shape of one
    ids = set(Catalogue.load(catalogue_dir()).rules)
    # When the engine, report and verdict code's string literals are read
    named = [
        f"{path.relative_to(ROOT.parent)}:{line}: {value}"
        for path in _engine_report_verdict_files()
        for line, value in _string_literals(path)
        if value in ids or RULE_LIKE.match(value)
    ]
    # Then none is a rule id
    assert named == []


def test_the_scan_finds_a_rule_id_when_there_is_one(tmp_path: Path) -> None:
    # Given a module that names a rule (the negative case of the test above)
    bad = tmp_path / "bad.py"
    bad.write_text('LOCK = {"dicom.query-open": "dicom"}  # "smb.v1" in a comment is fine\n')
    # Then the reader finds the literal and only it
    assert [v for _, v in _string_literals(bad) if RULE_LIKE.match(v)] == ["dicom.query-open"]


def test_every_action_is_either_decided_or_called_for_by_rules() -> None:
    # Given the verdict's ordered actions and the actions a rule may name
    rule_actions = set(get_args(RuleAction))
    # Then the two sets split the ordered list exactly
    assert set(ACTIONS) == DECIDED_ACTIONS | rule_actions
    assert not DECIDED_ACTIONS & rule_actions
    assert len(ACTIONS) == len(set(ACTIONS))


def test_the_shipped_rules_declare_the_verdict_questions() -> None:
    # Given the shipped catalogue
    rules = Catalogue.load(catalogue_dir()).rules.values()
    # Then some rule answers each question, and the imaging ways are all used
    assert any(r.verdict.internet == "proven" for r in rules)
    assert any(r.verdict.internet == "forward" for r in rules)
    assert {r.verdict.imaging for r in rules if r.verdict.imaging} == {
        "dicom",
        "pacs-web",
        "listing",
        "share",
        "ftp",
        "default-account",
    }
    # And every action a rule may call for is called for by one
    assert {a for r in rules for a in r.verdict.actions} == set(get_args(RuleAction))


@pytest.mark.parametrize(
    "verdict",
    [
        "{imaging: dicom-web}",  # not a way of reading images
        "{internet: maybe}",
        "{actions: [close-forwards]}",  # decided from the answers, not a rule's
        "{imagin: dicom}",  # misspelt
    ],
)
def test_a_broken_verdict_block_is_refused_at_load(tmp_path: Path, verdict: str) -> None:
    # Given a rule whose verdict block is wrong
    (tmp_path / "r.yaml").write_text(
        "kind: rule\nid: test.x\ninfo: {name: n, severity: high, description: d, "
        f"remediation: r}}\nmatch: {{fact: smb.negotiate}}\nverdict: {verdict}\n"
    )
    # Then the catalogue does not load, and says where
    with pytest.raises(CatalogueError, match=r"r\.yaml: verdict\."):
        Catalogue.load(tmp_path)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_verdict_word_has_a_text(lang: str) -> None:
    # Given the report's words in one language
    texts = report_words()[lang]
    # Then every action (and the internet-side form of close-forwards) and
    # every imaging way a rule may declare is worded
    assert [a for a in (*ACTIONS, "close-public") if f"action.{a}" not in texts] == []
    assert [k for k in KINDS if f"kind.{k}" not in texts] == []
