"""The report's own words in English and French; the rules' words are in the
catalogue (``info`` in English, ``info.i18n.fr``).

Every string here is plain text with ``{name}`` fields: the HTML template
escapes whatever it is given, so a translation never carries markup, and a
value from the network put into a field cannot either.
"""

from __future__ import annotations

import string

from pydantic import model_validator

from exposcan.catalogue import (
    LANGUAGES,
    Catalogue,
    CatalogueModel,
    catalogue_kind,
    default_catalogue,
)
from exposcan.models import ScanInfo
from exposcan.notes import render_note
from exposcan.vocabulary import DEFAULT_LANG as DEFAULT_LANG
from exposcan.vocabulary import default_lang as default_lang


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    return lang


@catalogue_kind("report-words")
class ReportWords(CatalogueModel):
    """The report's own words: ``words: {lang: {key: text}}``, every language
    with the same keys and, per key, the same ``{name}`` fields."""

    words: dict[str, dict[str, str]]

    @model_validator(mode="after")
    def _same_keys_and_fields(self) -> ReportWords:
        missing = set(LANGUAGES) - set(self.words)
        if missing:
            raise ValueError(f"no words for {sorted(missing)}")
        keys = set(self.words[DEFAULT_LANG])
        for lang, texts in self.words.items():
            if set(texts) != keys:
                raise ValueError(
                    f"{lang}: other keys than {DEFAULT_LANG}: {sorted(set(texts) ^ keys)[:5]}"
                )
            for key, text in texts.items():
                if not text.strip():
                    raise ValueError(f"{lang}.{key}: empty")
                if _fields(text) != _fields(self.words[DEFAULT_LANG][key]):
                    raise ValueError(f"{lang}.{key}: other fields than {DEFAULT_LANG}")
        return self


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def report_words(catalogue: Catalogue | None = None) -> dict[str, dict[str, str]]:
    """The report's words by language, from ``catalogue`` (the default one
    when none is given)."""
    return (catalogue or default_catalogue()).derived(_merged)


def _merged(catalogue: Catalogue) -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for doc in catalogue.documents(ReportWords):
        for lang, texts in doc.words.items():
            merged.setdefault(lang, {}).update(texts)
    return merged


class Texts:
    """The words of one language."""

    def __init__(self, lang: str, catalogue: Catalogue | None = None) -> None:
        self.lang = check_lang(lang)
        self._texts = report_words(catalogue)[lang]

    def __call__(self, key: str, **fields: object) -> str:
        text = self._texts[key]
        return text.format(**fields) if fields else text

    def notes(self, scan: ScanInfo) -> list[str]:
        """The scan's notes in this language, worded from their codes
        (:mod:`exposcan.notes`); a report from a version that wrote no codes,
        or a code this build does not know, keeps its English words."""
        if len(scan.notices) != len(scan.notes):
            return list(scan.notes)
        return [
            render_note(code, self.lang) or english
            for code, english in zip(scan.notices, scan.notes, strict=True)
        ]
