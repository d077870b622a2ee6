"""Scan notes as codes and parameters, worded in every report language.

A note says what the scan decided or could not see ("the box lists only the
forwards programs asked for").  It is recorded as a code and its parameters
(:class:`exposcan.models.Notice`); the report's JSON also carries its English
words (``scan.notes``), and a French report words it from the code, never by
matching the English.  Each module declares the notes it writes, next to
where it writes them::

    NOTE_NO_IGD = declare_note(
        "note.upnp.no-igd",
        en="No UPnP IGD answered on {nets}...",
        fr="Aucun UPnP IGD n'a répondu sur {nets}...",
    )
    ctx.scan.note(NOTE_NO_IGD, nets="198.18.0.0/24")
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from exposcan.models import Notice, NoticeValue


@dataclass(frozen=True)
class NoteText:
    en: str
    fr: str
    #: Parameters that are codes, worded per language: {lang: {code: words}}.
    values: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def words(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en

    def value(self, lang: str, value: NoticeValue) -> NoticeValue:
        for value_lang, pairs in self.values:
            if value_lang == lang:
                return dict(pairs).get(str(value), value)
        return value


_NOTES: dict[str, NoteText] = {}


def declare_note(
    code: str, *, en: str, fr: str, values: dict[str, dict[str, str]] | None = None
) -> str:
    """Register the words of note ``code`` (``{name}`` fields: its parameters;
    ``values`` words the parameters that are codes, per language)."""
    frozen = tuple(sorted((lang, tuple(sorted(v.items()))) for lang, v in (values or {}).items()))
    text = NoteText(en, fr, frozen)
    if _NOTES.setdefault(code, text) != text:
        raise RuntimeError(f"note {code!r} declared twice with other words")
    return code


def notice(code: str, **params: NoticeValue) -> Notice:
    """A note of a declared code; a code nobody declared is a bug, said here."""
    if code not in _NOTES:
        raise KeyError(f"note {code!r} is not declared (exposcan.notes.declare_note)")
    return Notice(code=code, params=params)


#: The modules that declare notes: imported before a report is worded, so that
#: a saved report re-rendered in French finds every note's words
#: (tests/unit/test_notes.py checks the list against the source).
NOTE_MODULES = (
    "exposcan.engine",
    "exposcan.net.ndp",
    "exposcan.outside.view",
    "exposcan.protocols.dicom.probe",
    "exposcan.protocols.smb.probe",
    "exposcan.protocols.upnp.find",
    "exposcan.protocols.upnp.probe",
    "exposcan.protocols.upnp.read",
    "exposcan.reflector.server",
    "exposcan.service",
)


@cache
def _declared() -> None:
    for module in NOTE_MODULES:
        importlib.import_module(module)


def render_note(note: Notice, lang: str) -> str | None:
    """The note in ``lang``; None when this build does not know the code (a
    report from another version: its English ``scan.notes`` stand)."""
    text = _NOTES.get(note.code)
    if text is None:
        _declared()
        text = _NOTES.get(note.code)
    if text is None:
        return None
    try:
        params = {k: text.value(lang, v) for k, v in note.params.items()}
        return text.words(lang).format(**params)
    except (KeyError, IndexError, ValueError):
        return text.en if lang != "en" else None


def declared_notes() -> dict[str, NoteText]:
    _declared()
    return dict(_NOTES)


NOTE_INTERRUPTED = declare_note(
    "note.scan.interrupted",
    en="scan interrupted: this report holds what was gathered until then",
    fr="analyse interrompue : ce rapport contient ce qui a été recueilli jusque-là",
)
