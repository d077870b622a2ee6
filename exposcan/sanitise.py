"""One sanitiser for every string that came off the network.

A banner, an HTTP ``Server`` header, a page title, a UPnP ``friendlyName``,
an AE title or a reflector's answer may hold terminal escape sequences
(``ESC [ 31 m`` colours, ``ESC ] 8 ;;`` OSC 8 hyperlinks, a window title
change, a bell), C1 controls (U+009B is a CSI on its own, ECMA-48 §5.3) or
Unicode format characters (the bidi overrides U+202A-U+202E and isolates
U+2066-U+2069 of CVE-2021-42574, zero-width characters) that make a terminal
or a report show what the report does not hold.  Every string a report or a
fact model receives goes through :func:`clean_text` (the models' validators
call it, so no path into a report can forget it): Unicode categories Cc
and Cf are removed, and the whitespace controls (tab, newline, carriage
return...) become one space, so that words stay apart and a value cannot
draw a line of its own in the terminal.

Rich markup (``[link=...]``, ``[bold]``) is ordinary text here: the
terminal renders network strings as ``rich.text.Text``, never as markup.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import cache
from typing import Any

#: Whitespace controls: a space in their place keeps words apart.
_SPACES = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85")


@cache
def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf")


def clean_text(text: str) -> str:
    """``text`` without control (Cc) or format (Cf) characters."""
    if text.isprintable():
        # The common case, in C: str.isprintable() is False for every Cc
        # and Cf character (and for the separators, which stay).
        return text
    return "".join(
        " " if char in _SPACES else char for char in text if char in _SPACES or not _unsafe(char)
    )


def clean_value(value: Any) -> Any:
    """A model field's value with every string in it cleaned: strings,
    and the strings inside lists, tuples and mappings (keys too)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clean_value(v) for v in value)
    if isinstance(value, Mapping):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    return value
