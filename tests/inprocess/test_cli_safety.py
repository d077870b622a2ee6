"""The CLI's own safety: bad command lines and catalogues, the
--max-hosts guard, credentials never on the command line.

The real CLI in a subprocess. Every target here is on loopback: were a
guard to fail, nothing would leave this machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exposcan.catalogue import catalogue_dir
from exposcan.cli import build_parser
from tests.support.cli import run_cli

SECRET = "Cli-Secret-4b1d-never-echoed"


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("exposcan") and ": error: " in lines[0], err
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--bogus", "127.0.0.1"],
        ["frobnicate"],
        ["scan", "-p", "0", "127.0.0.1"],
        ["scan", "-p", "80-", "-p", "x", "127.0.0.1"],
        ["scan", "127.0.0.40-10"],
        ["scan", "127.0.0.1/33"],
        ["scan", "127.0.0.1", "--timeout", "-1"],
        ["scan", "127.0.0.1", "--max-hosts", "0"],
        ["scan", "127.0.0.1", "--max-hosts", "70000"],
        ["scan", "127.0.0.1", "-o", "report.exe"],
        # 8,190 addresses: over the default --max-hosts 4096
        ["scan", "127.0.0.0/19"],
    ],
)
def test_a_bad_command_line_is_one_error_line_and_exit_2(args: list[str]) -> None:
    # When exposcan is run with a bad command line
    run = run_cli(*args)
    # Then it exits 2 with one clear line on stderr and nothing on stdout
    assert run.returncode == 2, run.stderr
    _one_error_line(run.stderr)
    assert run.stdout == ""


def test_more_than_4096_addresses_name_the_option_that_allows_them() -> None:
    run = run_cli("scan", "127.0.0.0/19", "--exclude", "127.0.0.0/30")
    line = _one_error_line(run.stderr)
    # (8,190 hosts of the /19, less the 3 of the excluded /30 that are hosts of it)
    assert run.returncode == 2 and "8187 addresses" in line and "--max-hosts 8187" in line


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("rules/broken.yaml", "kind: rule\nid: [unclosed\n  : :\n", "not valid YAML"),
        (
            "rules/broken.yaml",
            "kind: rule\nid: x.y\ninfo: {name: n}\nmatch: {fact: f}\n",
            "info.severity: Field required",
        ),
        ("ports.yaml", "kind: ports\nports: 104\n", "ports: Input should be a valid list"),
        ("rules/broken.yaml", "- just\n- a list\n", "not a mapping"),
        ("rules/broken.yaml", b"kind: rule\xff\xfe\n".decode("latin-1"), "broken.yaml"),
    ],
)
def test_a_broken_catalogue_is_one_error_line_and_exit_2(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    # Given a copy of the catalogue with one broken file, named by EXPOSCAN_CATALOGUE
    root = tmp_path / "probes"
    shutil.copytree(catalogue_dir(), root)
    (root / name).write_bytes(text.encode("latin-1"))
    # When a scan starts
    run = run_cli("scan", "127.0.0.1", "-p", "9", env={"EXPOSCAN_CATALOGUE": str(root)})
    # Then one line names the file and the problem, exit 2, no scan
    line = _one_error_line(run.stderr)
    assert run.returncode == 2 and expected in line and name.split("/")[-1] in line
    assert run.stdout == ""


def test_no_option_of_a_scan_takes_a_credential() -> None:
    # Given every option of `exposcan scan`
    scan = build_parser()._subparsers._group_actions[0].choices["scan"]  # type: ignore[union-attr]
    names = [s for action in scan._actions for s in action.option_strings]
    # Then none names a password, a user, a token or a key: credentials come
    # from the environment or a file (the intrusive checks use only the
    # catalogue's documented default accounts)
    words = ("pass", "user", "login", "token", "secret", "cred", "key", "auth")
    assert [n for n in names if any(w in n.lower() for w in words)] == []


def test_a_password_in_a_notify_url_is_refused_and_not_echoed() -> None:
    # Given --notify, which takes a mail or web address for the summary
    # When a password is put in a --notify URL on the command line
    run = run_cli(
        "scan",
        "127.0.0.1",
        "-p",
        "9",
        "--notify",
        f"smtp://doc:{SECRET}@127.0.0.1:2525?to=a@cabinet.test",
    )
    # Then exposcan refuses it in one line, and never prints the password
    assert run.returncode == 2
    line = _one_error_line(run.stderr)
    assert "password" in line
    assert SECRET not in run.stdout + run.stderr
