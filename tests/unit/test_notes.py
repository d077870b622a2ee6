"""Scan notes are codes and parameters in code, worded in English and French
in the catalogue (probes/notes/): no regular expression over English anywhere
in the report's words, and no sentence in the code."""

from __future__ import annotations

import ast
import re
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exposcan.catalogue import default_catalogue
from exposcan.models import Notice, ScanInfo, Vantage
from exposcan.notes import note_words, notice, render_note
from exposcan.report.i18n import Texts

ROOT = Path(__file__).resolve().parents[2] / "exposcan"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
DECLARED = re.compile(r"declare_note\(\s*\"([^\"]+)\"\s*\)")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _declared_in_code() -> set[str]:
    return {code for p in ROOT.rglob("*.py") for code in DECLARED.findall(p.read_text())}


def test_the_report_words_use_no_regular_expression() -> None:
    # Given the modules that put the report into words
    for name in ("i18n.py", "verdict_text.py", "terminal.py"):
        tree = ast.parse((ROOT / "report" / name).read_text())
        # Then none imports re
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "re" not in imported, name


def test_every_note_is_worded_in_both_languages_with_the_same_fields() -> None:
    # Given every note the catalogue words
    notes = note_words(default_catalogue())
    assert len(notes) >= 15
    # Then its French and English take the same parameters, and differ
    for code, text in notes.items():
        assert _fields(text.en) == _fields(text.fr), code
        assert text.en != text.fr, code


def test_every_note_the_code_declares_is_worded_and_every_worded_note_is_declared() -> None:
    # Given the codes the product's modules declare, and the catalogue's words
    declared = _declared_in_code()
    worded = set(note_words(default_catalogue()))
    # Then each side names the same notes: no code without words, no dead words
    assert declared, 'no declare_note("code") found'
    assert declared - worded == set(), "declared but not worded in probes/notes/"
    assert worded - declared == set(), "worded in probes/notes/ but declared nowhere"


def test_no_declaration_carries_words() -> None:
    # Given every declare_note call of the product
    calls = [
        f"{p.relative_to(ROOT.parent)}:{node.lineno}"
        for p in ROOT.rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "declare_note"
        and (node.keywords or len(node.args) != 1)
    ]
    # Then each is a code alone: the words are catalogue data
    assert calls == []


def _scan(*notices: Notice) -> ScanInfo:
    return ScanInfo(
        started=NOW,
        finished=NOW,
        vantage=Vantage.LAN,
        targets=["198.18.0.0/24"],
        complete=True,
        ports="104",
        notes=[render_note(n, "en") or n.code for n in notices],
        notices=list(notices),
    )


def test_a_note_is_french_from_its_code_and_parameters() -> None:
    # Given a scan note recorded as a code and parameters
    box = notice("note.upnp.public-address", address="198.18.0.1", ip="203.0.113.7")
    firewall = notice(
        "note.upnp.ipv6-firewall", address="198.18.0.1", firewall="off", pinholes="yes"
    )
    scan = _scan(box, firewall)
    # When worded in each language
    en, fr = Texts("en").notes(scan), Texts("fr").notes(scan)
    # Then both carry the parameters, and parameters that are codes are worded too
    assert en[0].startswith("The internet box 198.18.0.1 gives its public address as 203.0.113.7")
    assert fr[0].startswith("La box internet 198.18.0.1 donne comme adresse publique 203.0.113.7")
    assert "firewall is off" in en[1] and "programs may open" in en[1]
    assert "pare-feu IPv6 est désactivé" in fr[1] and "programmes peuvent y ouvrir" in fr[1]


def test_an_unknown_code_keeps_its_english_words() -> None:
    # Given a report from another version: a code this build does not know
    scan = _scan().model_copy(
        update={"notes": ["a note of the future"], "notices": [Notice(code="x.future")]}
    )
    # Then the French report shows its English words rather than nothing
    assert Texts("fr").notes(scan) == ["a note of the future"]
    # And an undeclared code cannot be recorded
    with pytest.raises(KeyError, match="not declared"):
        notice("x.undeclared")


def test_no_note_is_written_as_english_text() -> None:
    # Given every .note(...) call of the product
    sentences = [
        f"{p.relative_to(ROOT.parent)}:{node.lineno}"
        for p in ROOT.rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "note"
        and node.args
        and isinstance(node.args[0], ast.JoinedStr | ast.Constant | ast.BinOp)
    ]
    # Then each names a declared note (a code), never a sentence
    assert sentences == []


def test_evidence_words_come_from_the_catalogue() -> None:
    # Given the catalogue's labels and fixed values
    from exposcan.catalogue import Catalogue, catalogue_dir
    from exposcan.report.labels import evidence_label, evidence_value

    catalogue = Catalogue.load(catalogue_dir())
    fr = Texts("fr")
    # Then a label and a fixed value are French, a peer's value stays as it is
    assert evidence_label(catalogue, "called_ae", "fr") == "AE title appelé"
    assert evidence_value(catalogue, "open to any caller", fr) == "ouvert à tout appelant"
    assert evidence_value(catalogue, ["guest", "Orthanc"], fr) == "invité, Orthanc"
    assert evidence_value(catalogue, True, fr) == "oui"
