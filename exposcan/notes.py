"""Scan notes as codes and parameters; their words are catalogue data.

A note says what the scan decided or could not see ("the box lists only the
forwards programs asked for").  It is recorded as a code and its parameters
(:class:`exposcan.models.Notice`); the report's JSON also carries its English
words (``scan.notes``), and a French report words it from the code, never by
matching the English.  Code declares the codes it writes, next to where it
writes them; the words, in every report language, are in the catalogue
(``probes/notes/*.yaml``, kind ``notes``)::

    NOTE_NO_IGD = declare_note("note.upnp.no-igd")
    ctx.scan.note(NOTE_NO_IGD, nets="198.18.0.0/24")

    # probes/notes/protocols.upnp.probe.yaml
    kind: notes
    notes:
      note.upnp.no-igd:
        en: No UPnP IGD answered on {nets} ...
        fr: (the same in French, with the same {nets} field)
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from exposcan.catalogue import LANGUAGES, CatalogueModel, catalogue_kind, default_catalogue
from exposcan.models import Notice, NoticeValue

if TYPE_CHECKING:
    from exposcan.catalogue import Catalogue


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class NoteText(CatalogueModel):
    """The words of one note, in English and French, with ``{name}`` fields
    for its parameters; ``values`` words the parameters that are codes, per
    language (``{en: {"off": "off"}}``)."""

    en: str
    fr: str
    values: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _same_fields(self) -> NoteText:
        try:
            en, fr = _fields(self.en), _fields(self.fr)
        except ValueError as exc:
            raise ValueError(f"not a format string: {exc}") from None
        if en != fr:
            raise ValueError(f"the languages take other parameters: en {en}, fr {fr}")
        unknown = set(self.values) - set(LANGUAGES)
        if unknown:
            raise ValueError(f"values for unknown languages: {sorted(unknown)}")
        return self

    def words(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en

    def value(self, lang: str, value: NoticeValue) -> NoticeValue:
        return self.values.get(lang, {}).get(str(value), value)


@catalogue_kind("notes")
class NoteWords(CatalogueModel):
    """A file of note words: ``notes: {code: {en, fr, values}}``."""

    notes: dict[str, NoteText]


_DECLARED: set[str] = set()


def declare_note(code: str) -> str:
    """Declare that this module writes note ``code``; its words are in the
    catalogue (a unit test checks every declared code has them)."""
    _DECLARED.add(code)
    return code


def declared_codes() -> frozenset[str]:
    return frozenset(_DECLARED)


def note_words(catalogue: Catalogue) -> dict[str, NoteText]:
    """Every note's words in ``catalogue``, by code."""
    return catalogue.derived(_index)


def _index(catalogue: Catalogue) -> dict[str, NoteText]:
    index: dict[str, NoteText] = {}
    for doc in catalogue.documents(NoteWords):
        index.update(doc.notes)
    return index


def notice(code: str, **params: NoticeValue) -> Notice:
    """A note of a declared code; a code nobody declared is a bug, said here."""
    if code not in _DECLARED and code not in note_words(default_catalogue()):
        raise KeyError(f"note {code!r} is not declared (exposcan.notes.declare_note)")
    return Notice(code=code, params=params)


def render_note(note: Notice, lang: str, catalogue: Catalogue | None = None) -> str | None:
    """The note in ``lang``; None when the catalogue does not know the code (a
    report from another version: its English ``scan.notes`` stand)."""
    text = note_words(catalogue or default_catalogue()).get(note.code)
    if text is None:
        return None
    try:
        params = {k: text.value(lang, v) for k, v in note.params.items()}
        return text.words(lang).format(**params)
    except (KeyError, IndexError, ValueError):
        return text.en if lang != "en" else None


NOTE_INTERRUPTED = declare_note("note.scan.interrupted")
