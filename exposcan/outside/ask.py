"""A request to the reflector (``exposcan.reflector.client``).

The reflector scans back the source address it sees (never an IPv4 address
the request names) and answers with an exposcan.report/1 report of the
internet vantage. A failure of any kind is data here (an error string for
the report), never an exception through the LAN scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from exposcan.models import Report
from exposcan.outside.settings import OutsideSettings
from exposcan.reflector.client import ReflectorError, request_outside_view

#: An error message is cut to this (a hostile server's text must not grow a report).
ERROR_CAP = 300


@dataclass(frozen=True)
class ReflectorAnswer:
    reflector: str
    report: Report | None = None
    source: str | None = None
    ports_tried: int = 0
    error: str | None = None
    #: Hosts, findings and errors of the answer naming an address the
    #: request did not ask about: left out (exposcan.reflector.client).
    dropped: int = 0


def _clean(text: str, secret: str) -> str:
    # Whatever a library puts in its message, the token never reaches a report.
    if secret:
        text = text.replace(secret, "***")
    return " ".join(text.split())[:ERROR_CAP]


async def ask_reflector(
    settings: OutsideSettings, ipv6: Sequence[str], deadline: float, family: int = 0
) -> ReflectorAnswer:
    try:
        view = await request_outside_view(
            settings.url,
            token=settings.token,
            ca_file=Path(settings.ca_file) if settings.ca_file else None,
            pin_sha256=settings.pin_sha256,
            ipv6=tuple(ipv6),
            deadline=deadline,
            family=family,
        )
    except ReflectorError as exc:
        return ReflectorAnswer(settings.url, error=_clean(str(exc) or "failed", settings.token))
    except (OSError, ValueError) as exc:  # the client maps its own; a last guard
        return ReflectorAnswer(settings.url, error=_clean(type(exc).__name__, settings.token))
    return ReflectorAnswer(
        reflector=view.reflector or settings.url,
        report=view.report,
        source=view.source or None,
        ports_tried=view.ports_tried,
        dropped=view.dropped,
    )
