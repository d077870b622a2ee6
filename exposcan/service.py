"""One scan, asked for and answered: the service the CLI, the reflector and
the NAT loopback check all run (``run_scan(request) -> outcome``).

What differs between them is data of the request: the probes or none (a port
scan), the network probes or none (a sweep of one public address), the
outside view alongside or not, a total deadline that ends the scan (the
reflector's) or none.  A scan ended by its deadline, or cancelled (^C,
SIGTERM, a client that went away), still answers: its report holds what was
gathered, marked incomplete, with a note that says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exposcan.engine import Scanner
from exposcan.notes import NOTE_INTERRUPTED, declare_note

if TYPE_CHECKING:
    from exposcan.catalogue import Catalogue
    from exposcan.config import ScanConfig
    from exposcan.models import Report
    from exposcan.net.localview import LocalView
    from exposcan.net.targets import IPAddress
    from exposcan.outside.view import OutsideCheck

NOTE_DEADLINE = declare_note("note.reflector.deadline")


@dataclass(frozen=True)
class ScanRequest:
    config: ScanConfig
    catalogue: Catalogue
    addresses: Sequence[IPAddress]
    #: How the targets were named (ranges, names); the addresses by default.
    labels: Sequence[str] | None = None
    #: This machine's networks, for a LAN scan (discovery, the box).
    view: LocalView | None = None
    #: Probe the services found; False is a port scan (--no-probes).
    probes: bool = True
    #: The box and the IPv6 path; False for a sweep of one public address.
    network_probes: bool = True
    #: The outside view, asked alongside the scan and merged into its report.
    outside: OutsideCheck | None = None
    #: A total deadline in seconds that ends the scan (the reflector's).
    deadline: float | None = None
    #: A cancellation is answered with the report so far (the CLI's ^C)
    #: rather than raised (a reflector client that went away).
    answer_cancellation: bool = False


@dataclass(frozen=True)
class ScanOutcome:
    report: Report
    #: False when the deadline or a cancellation ended the scan early.
    complete: bool
    #: The engine, for callers that read its state (the loopback check).
    scanner: Scanner


def scanner_for(request: ScanRequest) -> Scanner:
    """The engine a request runs on (the CLI shows its progress live)."""
    return Scanner(
        request.config,
        request.catalogue,
        None if request.probes else [],
        None if request.probes and request.network_probes else [],
    )


async def run_scan(request: ScanRequest, scanner: Scanner | None = None) -> ScanOutcome:
    """Run ``request`` to its report.  A cancellation of the caller's task
    is answered, not raised: the report of what was gathered, incomplete."""
    scanner = scanner or scanner_for(request)
    labels = list(request.labels if request.labels is not None else map(str, request.addresses))
    check = request.outside if request.probes else None
    try:
        async with asyncio.timeout(request.deadline):
            if check is not None:
                check.start(scanner)
            await scanner.run(list(request.addresses), labels, request.view)
            report = scanner.report(complete=True)
            if check is not None:
                scanner.state.progress.phase = "outside"
                report = await check.finish(scanner, report)
            return ScanOutcome(report, True, scanner)
    except TimeoutError:
        _stop(check)
        scanner.state.note(NOTE_DEADLINE, seconds=request.deadline or 0.0)
    except asyncio.CancelledError:
        _stop(check)
        if not request.answer_cancellation:
            raise
        scanner.state.note(NOTE_INTERRUPTED)
    return ScanOutcome(scanner.report(complete=False), False, scanner)


def _stop(check: OutsideCheck | None) -> None:
    if check is not None:
        check.cancel()
