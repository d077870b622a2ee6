"""Proof sentences: codes and parameters in code, words in probes/proofs.yaml;
a French report words the JSON's English proof again."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml

from exposcan.catalogue import Catalogue, CatalogueError, default_catalogue
from exposcan.proofs import declared_proofs, proof_text, proof_words, translate_proof
from exposcan.protocols import service_probes
from exposcan.report.i18n import Texts
from exposcan.report.labels import evidence_value

CATALOGUE = default_catalogue()


def _sample(text: str) -> dict[str, object]:
    """A parameter value per field: numbers, and a share name with a comma."""
    fields = [f for _, f, _, _ in string.Formatter().parse(text) if f]
    values: dict[str, object] = {"session": "guest", "share": "Imagerie, 2024"}
    return {f: values.get(f, 7 + i) for i, f in enumerate(fields)}


def test_every_declared_proof_has_its_words_and_every_word_is_declared() -> None:
    # Given the probes' modules loaded (they declare their proof codes)
    service_probes()
    # Then the catalogue words each code, and words no code nobody writes
    words = set(proof_words(CATALOGUE))
    assert declared_proofs() == words, declared_proofs() ^ words


@pytest.mark.parametrize("code", sorted(proof_words(CATALOGUE)))
def test_each_proof_is_worded_again_in_french(code: str) -> None:
    # Given a proof as a probe writes it (English, in the JSON report)
    text = proof_words(CATALOGUE)[code]
    params = _sample(text.en)
    english = proof_text(CATALOGUE, code, **params)
    # Then the French report has the French words, the same parameters
    # (a code-valued one in French too), and English stays as written
    french = text.fr.format(
        **{k: text.values.get("fr", {}).get(str(v), v) for k, v in params.items()}
    )
    assert translate_proof(CATALOGUE, english, "fr") == french
    assert evidence_value(CATALOGUE, english, Texts("fr", CATALOGUE)) == french
    assert evidence_value(CATALOGUE, english, Texts("en", CATALOGUE)) == english


def test_a_proof_of_several_parts_is_worded_part_by_part() -> None:
    parts = [
        proof_text(CATALOGUE, "http.count-patients", count=4),
        proof_text(CATALOGUE, "http.count-studies", count=10),
        proof_text(CATALOGUE, "http.qido-study-readable"),
    ]
    french = translate_proof(CATALOGUE, ", ".join(parts), "fr")
    assert french == "4 patients, 10 examens, QIDO-RS : au moins un examen lisible"


def test_a_sentence_no_code_words_stays_as_written() -> None:
    # Given a proof from another version of exposcan, Then it is shown as it is
    other = "12 imaging files on a tape"
    assert translate_proof(CATALOGUE, other, "fr") is None
    assert evidence_value(CATALOGUE, other, Texts("fr", CATALOGUE)) == other


@pytest.mark.parametrize(
    "words",
    [
        {"en": "{files} files", "fr": "{fichiers} fichiers"},
        {"en": "{files} files in {files}", "fr": "{files} fichiers dans {files}"},
        {"en": "{files} files", "fr": "{files} fichiers", "values": {"de": {}}},
        {"en": "{files files", "fr": "{files} fichiers"},
    ],
)
def test_proof_words_that_do_not_agree_are_refused(
    tmp_path: Path, words: dict[str, object]
) -> None:
    root = tmp_path / "probes"
    root.mkdir()
    (root / "proofs.yaml").write_text(yaml.safe_dump({"kind": "proofs", "proofs": {"x.y": words}}))
    with pytest.raises(CatalogueError):
        Catalogue.load(root)


def test_no_proof_is_written_as_english_text() -> None:
    # Given every proof=... a call of the product passes
    import ast

    root = Path(__file__).resolve().parents[2] / "exposcan"
    sentences = [
        f"{p.relative_to(root.parent)}:{node.lineno}"
        for p in root.rglob("*.py")
        for call in ast.walk(ast.parse(p.read_text()))
        if isinstance(call, ast.Call)
        for node in call.keywords
        if node.arg == "proof" and isinstance(node.value, ast.JoinedStr | ast.Constant | ast.BinOp)
    ]
    # Then each is a code's words from the catalogue (proof_text), never a sentence
    assert sentences == []


def test_a_french_html_report_words_the_proof_in_french() -> None:
    # Given a report whose internet finding carries a listing's proof
    from exposcan.report.html import render_html
    from tests.unit.test_html_report import lab_like_report, visible_text
    from tests.unit.test_verdict import finding

    report = lab_like_report()
    proof = proof_text(CATALOGUE, "http.listing-imaging", files=4)
    extra = finding("exposure.internet-imaging", "198.18.0.30", 80, service="listing", proof=proof)
    report = report.model_copy(update={"findings": [*report.findings, extra]})
    # Then the French report shows it in French, the English one as written
    fr = visible_text(render_html(report, "fr"))
    en = visible_text(render_html(report, "en"))
    assert "4 fichiers d'imagerie dans un index de répertoire" in fr
    assert proof not in fr and proof in en
