"""The report's words that are not models: its languages, severities,
vantages, safety classes and error reasons (``str`` enums).

Apart from :mod:`exposcan.models` because what only names them (the command
line, the catalogue's rules, the network layer's error records) needs no
pydantic: a port scan's start-up loads none (the models cost 0.15 s of it,
measured with ``python -X importtime``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum

#: The languages of the reports, the notes and the catalogue's words.
LANGUAGES = ("en", "fr")
DEFAULT_LANG = "en"


def default_lang(env: Mapping[str, str] | None = None) -> str:
    """The language of the user's locale: POSIX precedence (LC_ALL, then
    LC_MESSAGES, then LANG); French when it starts with ``fr``, else English."""
    env = os.environ if env is None else env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "fr" if value.lower().startswith("fr") else DEFAULT_LANG
    return DEFAULT_LANG


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Vantage(StrEnum):
    LAN = "lan"
    INTERNET = "internet"


class Safety(StrEnum):
    """nmap NSE-style category: only safe checks run by default."""

    SAFE = "safe"
    INTRUSIVE = "intrusive"


class ErrorReason(StrEnum):
    TIMEOUT = "timeout"
    REFUSED = "refused"
    RESET = "reset"
    UNREACHABLE = "unreachable"
    PROTOCOL = "protocol"
    TOO_LARGE = "too-large"
    TLS = "tls"
    RESOLVE = "resolve"
    INTERNAL = "internal"
