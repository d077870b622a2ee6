"""The repository stands alone: its code, catalogue, tests and docs cite no
tracker issue and no file outside it, and the words of the reports live in
the catalogue, not in Python."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Written in pieces, so that this file does not match itself.
OUTSIDE = re.compile(
    r"\b[Ii]ssues? ?#?\d+\b|" + "DOMAIN" + r"\.md|" + "LAB-" + "NOTES|" + r"\.\./" + "shared"
)
#: Another project's tracker is fine to cite by its own name.
ALLOWED = re.compile(r"(aiohttp|pynetdicom|scapy|impacket|orthanc|samba|nmap) issue", re.I)
TREES = ("exposcan", "exposcan_lab", "probes", "tests", "docker", "docs", "bench", "scripts")
FILES = ("README.md", "CONTRIBUTING.md", "Makefile", "pyproject.toml")
SUFFIXES = {".py", ".yaml", ".yml", ".md", ".j2", ".sh", ".conf", ".toml", ".cfg", ""}


def _texts() -> list[Path]:
    found = [REPO / name for name in FILES]
    for tree in TREES:
        for path in (REPO / tree).rglob("*"):
            if path.is_file() and path.suffix in SUFFIXES and "results" not in path.parts:
                found.append(path)
    return found


def test_nothing_cites_the_tracker_or_a_file_outside_the_repository() -> None:
    # Given every text file of the repository (benchmark results aside: records)
    cited = []
    for path in _texts():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line) and not ALLOWED.search(line):
                cited.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}")
    # Then none points at an issue number or at a file the repository lacks
    assert cited == []


def test_no_python_file_of_the_product_holds_french() -> None:
    # Given the product's Python files
    accented = re.compile(r"[àâäçéèêëîïôöùûüÿœæÀÂÇÉÈÊËÎÏÔÙÛÜŒ]")
    holding = [
        f"{path.relative_to(REPO)}:{number}"
        for path in (REPO / "exposcan").rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if accented.search(line)
    ]
    # Then none holds French words: they are catalogue data (probes/)
    assert holding == []
