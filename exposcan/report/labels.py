"""How an evidence name is labelled in a report, in every language: the
catalogue's ``evidence-labels`` kind (``probes/evidence-labels.yaml``), not a
table in code; a new evidence name is a catalogue line."""

from __future__ import annotations

from pydantic import field_validator

from exposcan.catalogue import LANGUAGES, Catalogue, CatalogueModel, catalogue_kind
from exposcan.proofs import translate_proof
from exposcan.report.i18n import Texts


@catalogue_kind("evidence-labels")
class EvidenceLabels(CatalogueModel):
    #: evidence name -> {language: label}
    labels: dict[str, dict[str, str]] = {}
    #: a fixed value a probe writes -> {language: words}
    values: dict[str, dict[str, str]] = {}

    @field_validator("labels", "values")
    @classmethod
    def _every_language(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for name, words in value.items():
            missing = [lang for lang in LANGUAGES if not words.get(lang)]
            extra = sorted(set(words) - set(LANGUAGES))
            if missing or extra:
                raise ValueError(f"{name}: missing {missing or '-'}, unknown {extra or '-'}")
        return value


def evidence_labels(catalogue: Catalogue) -> dict[str, dict[str, str]]:
    """Every label of the catalogue: {language: {evidence name: label}}."""
    out: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for doc in catalogue.documents(EvidenceLabels):
        for name, words in doc.labels.items():
            for lang in LANGUAGES:
                out[lang][name] = words[lang]
    return out


def evidence_label(catalogue: Catalogue, name: str, lang: str) -> str:
    """The label of ``name`` in ``lang``; an unknown name as it is."""
    return catalogue.derived(evidence_labels)[lang].get(name, name.replace("_", " "))


def value_words(catalogue: Catalogue) -> dict[str, dict[str, str]]:
    """{language: {value: words}} of the catalogue's fixed evidence values."""
    out: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for doc in catalogue.documents(EvidenceLabels):
        for value, words in doc.values.items():
            for lang in LANGUAGES:
                out[lang][value] = words[lang]
    return out


def evidence_value(catalogue: Catalogue, value: object, texts: Texts) -> str:
    """An evidence value for a reader: lists joined, booleans in words, the
    catalogue's fixed values in the report's language, anything else as it is."""
    if isinstance(value, bool):
        return texts("yes") if value else texts("no")
    if isinstance(value, list):
        return ", ".join(evidence_value(catalogue, v, texts) for v in value)
    text = "" if value is None else str(value)
    fixed = catalogue.derived(value_words)[texts.lang].get(text)
    if fixed is not None:
        return fixed
    # A proof sentence, worded again from the catalogue (exposcan.proofs).
    return translate_proof(catalogue, text, texts.lang) or text
