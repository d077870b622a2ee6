"""The one request to the reflector (``exposcan.reflector.client``).

The reflector scans back the source address it sees (never an IPv4 address
the request names) and answers with an exposcan.report/1 report of the
internet vantage. A failure of any kind is data here (an error string for
the report), never an exception through the LAN scan.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exposcan.models import Report
from exposcan.outside.settings import OutsideSettings

#: An error message is cut to this (a hostile server's text must not grow a report).
ERROR_CAP = 300


@dataclass(frozen=True)
class ReflectorAnswer:
    reflector: str
    report: Report | None = None
    source: str | None = None
    ports_tried: int = 0
    error: str | None = None


def _ports_tried(value: object) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return len(value)
    return 0


def _clean(text: str, secret: str) -> str:
    # Whatever a library puts in its message, the token never reaches a report.
    if secret:
        text = text.replace(secret, "***")
    return " ".join(text.split())[:ERROR_CAP]


async def ask_reflector(
    settings: OutsideSettings, ipv6: Sequence[str], deadline: float
) -> ReflectorAnswer:
    try:
        client: Any = importlib.import_module("exposcan.reflector.client")
    except ImportError:
        return ReflectorAnswer(settings.url, error="this exposcan has no reflector client")
    try:
        view = await client.request_outside_view(
            settings.url,
            token=settings.token,
            ca_file=settings.ca_file,
            pin_sha256=settings.pin_sha256,
            ipv6=tuple(ipv6),
            deadline=deadline,
        )
    except client.ReflectorError as exc:
        return ReflectorAnswer(
            settings.url, error=_clean(str(exc) or type(exc).__name__, settings.token)
        )
    except (OSError, ValueError, TimeoutError) as exc:
        return ReflectorAnswer(
            settings.url, error=_clean(f"{type(exc).__name__}: {exc}", settings.token)
        )
    report = view.report if isinstance(view.report, Report) else None
    if report is None:
        return ReflectorAnswer(settings.url, error="the reflector's answer holds no report")
    return ReflectorAnswer(
        reflector=str(getattr(view, "reflector", "") or settings.url),
        report=report,
        source=str(view.source) if view.source else None,
        ports_tried=_ports_tried(view.ports_tried),
    )
