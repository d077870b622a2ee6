"""Proof sentences: what a probe saw that proves an exposure ("12 imaging
files in a directory listing"), as a code and its parameters in code, and
its words in the catalogue (``probes/proofs.yaml``, kind ``proofs``, English
and French with the same ``{fields}``).

A probe writes ``proof=proof_text(catalogue, "http.listing-imaging",
files=12)``: the English sentence, which the JSON report keeps (the outside
view compares it between the two sides of a door, whichever version of
exposcan wrote each).  A report in another language words it again with
:func:`translate_proof`: the English words of each code, with their fields
as patterns, find the code and its parameters back; a sentence no code
matches (a report from another version) stays as written.
"""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from exposcan.catalogue import LANGUAGES, CatalogueModel, catalogue_kind

if TYPE_CHECKING:
    from exposcan.catalogue import Catalogue


def _fields(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


class ProofText(CatalogueModel):
    """One proof's words, ``{name}`` fields for its parameters; ``values``
    words the parameters that are codes, per language."""

    en: str
    fr: str
    values: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _same_fields(self) -> ProofText:
        try:
            en, fr = _fields(self.en), _fields(self.fr)
        except ValueError as exc:
            raise ValueError(f"not a format string: {exc}") from None
        if sorted(en) != sorted(fr) or len(set(en)) != len(en):
            raise ValueError(f"the languages take other parameters, or one twice: en {en}, fr {fr}")
        unknown = set(self.values) - set(LANGUAGES)
        if unknown:
            raise ValueError(f"values for unknown languages: {sorted(unknown)}")
        return self

    def words(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


@catalogue_kind("proofs")
class ProofWords(CatalogueModel):
    """A file of proof words: ``proofs: {code: {en, fr, values}}``."""

    proofs: dict[str, ProofText]


_DECLARED: set[str] = set()


def declare_proof(code: str) -> str:
    """Declare that this module writes proof ``code`` (a unit test checks
    every declared code has its words)."""
    _DECLARED.add(code)
    return code


def declared_proofs() -> frozenset[str]:
    return frozenset(_DECLARED)


def proof_words(catalogue: Catalogue) -> dict[str, ProofText]:
    """Every proof's words in ``catalogue``, by code."""
    return catalogue.derived(_index)


def _index(catalogue: Catalogue) -> dict[str, ProofText]:
    index: dict[str, ProofText] = {}
    for doc in catalogue.documents(ProofWords):
        index.update(doc.proofs)
    return index


def proof_text(catalogue: Catalogue, code: str, **params: object) -> str:
    """Proof ``code`` in English, its parameters filled in."""
    return proof_words(catalogue)[code].en.format(**params)


def _patterns(catalogue: Catalogue) -> list[tuple[re.Pattern[str], ProofText]]:
    """Each code's English words as a pattern, its fields as named groups;
    the longest words first (a cut walk's proof before the whole one's)."""
    out = []
    for text in sorted(proof_words(catalogue).values(), key=lambda t: -len(t.en)):
        pattern = "".join(
            re.escape(literal) + (f"(?P<{name}>.+?)" if name else "")
            for literal, name, _, _ in string.Formatter().parse(text.en)
        )
        out.append((re.compile(f"^{pattern}$", re.DOTALL), text))
    return out


def translate_proof(catalogue: Catalogue, sentence: str, lang: str) -> str | None:
    """``sentence`` (a proof in English) in ``lang``; None when no code's
    words match it.  A proof of several parts (", ") is worded part by part
    when every part matches."""
    if lang == "en":
        return None
    whole = _translate_one(catalogue, sentence, lang)
    if whole is not None or ", " not in sentence:
        return whole
    parts = [_translate_one(catalogue, part, lang) for part in sentence.split(", ")]
    return ", ".join(p for p in parts if p is not None) if None not in parts else None


def _translate_one(catalogue: Catalogue, sentence: str, lang: str) -> str | None:
    for pattern, text in catalogue.derived(_patterns):
        found = pattern.match(sentence)
        if found is None:
            continue
        words = text.values.get(lang, {})
        params = {k: words.get(v, v) for k, v in found.groupdict().items()}
        return text.words(lang).format(**params)
    return None
