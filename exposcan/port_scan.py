"""A port scan alone (``scan --no-probes`` of named targets), as ``nmap -sS``
or ``-sT`` without ``-sV``: discovery when asked, the sweep, and the report.

Why beside the engine (:mod:`exposcan.engine`): a port scan uses none of
what the engine is made of (probes, facts, the catalogue's rules, budgets),
and loading it costs what the scan itself costs.  Measured here (2-core
Xeon, ``python -X importtime`` and ``make bench``): the engine's start-up
0.37 s (the pydantic models, the catalogue, rich), a SYN sweep of all 65,535
ports of one host 0.3-0.4 s, ``nmap -sS -p-`` of the same host 0.46 s in
all.  This path imports the network layer and the standard library only.

The report it writes is the engine's ``exposcan.report/1``, field for field:
:func:`report_document` builds the JSON document the report model would
serialise (a test validates it with :class:`exposcan.models.Report` and
compares it with the engine's report of the same scan).  What needs the
model (the terminal summary, an HTML report, the hub) builds it from the
document, after the scan.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from exposcan import __version__
from exposcan.net.portscan import PortResult, PortState, Sweeper, sweep
from exposcan.net.synscan import SynScanUnavailable, choose_sweeper
from exposcan.net.targets import IPAddress, text_key
from exposcan.portlist import PortGuess
from exposcan.sanitise import clean_value
from exposcan.vocabulary import Vantage

SCHEMA_ID = "exposcan.report/1"


@dataclass
class PortScanRequest:
    addresses: Sequence[IPAddress]
    labels: Sequence[str]
    ports: list[int]
    ports_spec: str
    guesses: dict[int, PortGuess]
    vantage: Vantage = Vantage.LAN
    scan_type: str = "auto"
    concurrency: int = 500
    scan_timeout: float = 1.0
    rate: float = 0.0
    discovery: bool = True


@dataclass
class _Host:
    address: str
    discovered_by: str = "assumed"
    mac: str | None = None
    open: set[int] = field(default_factory=set)


@dataclass
class PortScanOutcome:
    document: dict[str, Any]
    #: False when a signal (^C, SIGTERM) ended the sweep early.
    complete: bool


def run_port_scan(request: PortScanRequest, view: Any = None) -> PortScanOutcome:
    """Discovery (LAN, unless turned off), then the sweep of every live
    host's ports; SIGINT and SIGTERM end the sweep within its poll interval
    and the report says it is incomplete."""
    started = datetime.now(UTC)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda _sig, _frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        hosts = _discover(request, view)
        live = list(hosts)
        if not stop.is_set():
            _sweep(request, live, hosts, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, _restore(handler))
    complete = not stop.is_set()
    document = report_document(request, hosts, started, datetime.now(UTC), complete)
    if not complete:
        text, note = interrupted_note()
        document["scan"]["notes"].append(text)
        document["scan"]["notices"].append(note)
    return PortScanOutcome(document, complete)


def _restore(handler: Any) -> Any:
    return handler if handler is not None else signal.SIG_DFL


def _discover(request: PortScanRequest, view: Any) -> dict[str, _Host]:
    """The hosts to sweep, in target order: every address named (from the
    internet, or with discovery off, as nmap -Pn), else those that answer."""
    if not request.discovery or request.vantage is Vantage.INTERNET:
        return {str(a): _Host(str(a)) for a in request.addresses}
    # Imported when used: an asyncio loop for ARP and the TCP pings.
    import asyncio

    from exposcan.net.discovery import discover

    found = asyncio.run(
        discover(list(request.addresses), view, request.scan_timeout, request.concurrency)
    )
    hosts: dict[str, _Host] = {}
    for address in map(str, request.addresses):
        if address in found:
            how, mac = found[address]
            hosts[address] = _Host(address, how, mac)
    return hosts


def _sweep(
    request: PortScanRequest, live: list[str], hosts: dict[str, _Host], stop: threading.Event
) -> None:
    ports = request.ports

    # Port-major order, as the engine's: a fragile device never sees all
    # its ports at once.
    def jobs() -> Iterator[tuple[str, int]]:
        for port in ports:
            for host in live:
                yield host, port

    opened = PortState.OPEN

    def on_result(result: PortResult) -> None:
        if result.state is opened:
            hosts[result.host].open.add(result.port)

    def on_closed(count: int) -> None:  # closed ports come as counts; the report lists none
        pass

    window = max(1, min(request.concurrency, len(live) * len(ports)))

    def run(sweeper: Sweeper) -> None:
        sweeper(
            jobs(),
            window=window,
            timeout=request.scan_timeout,
            rate=request.rate,
            on_result=on_result,
            stop=stop,
            on_closed=on_closed,
        )

    try:
        run(choose_sweeper(request.scan_type))
    except SynScanUnavailable:  # refused before the first packet: the connect scan
        run(sweep)


def _when(moment: datetime) -> str:
    # As pydantic writes an aware UTC datetime.
    return moment.isoformat().replace("+00:00", "Z")


def report_document(
    request: PortScanRequest,
    hosts: dict[str, _Host],
    started: datetime,
    finished: datetime,
    complete: bool,
) -> dict[str, Any]:
    """The report of a port scan as :class:`exposcan.models.Report` would
    serialise it (``model_dump(mode="json", by_alias=True)``)."""
    listed = [
        h
        for h in sorted(hosts.values(), key=lambda h: text_key(h.address))
        if h.open or h.discovered_by in ("arp", "tcp", "ndp")
    ]
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "exposcan", "version": __version__},
        "scan": {
            "started": _when(started),
            "finished": _when(finished),
            "vantage": request.vantage.value,
            "targets": [clean_value(label) for label in request.labels],
            "complete": complete,
            "ports": request.ports_spec,
            "hosts_scanned": len(hosts),
            "probed": False,
            "notes": [],
            "notices": [],
        },
        "hosts": [
            {
                "address": h.address,
                "mac": h.mac,
                "discovered_by": h.discovered_by,
                "services": [_service(port, request.guesses.get(port)) for port in sorted(h.open)],
                "ipv6": [],
            }
            for h in listed
        ],
        "findings": [],
        "errors": [],
        "outside": None,
    }


def _service(port: int, guess: PortGuess | None) -> dict[str, Any]:
    return {
        "port": port,
        "transport": "tcp",
        "protocol": guess.protocol if guess else "unknown",
        "product": None,
        "version": None,
        "tls": guess.tls if guess else False,
        "details": {},
        "cpe": [],
        "toolkit": None,
        "decoy": None,
    }


def interrupted_note() -> tuple[str, dict[str, Any]]:
    """The engine's note for a scan ended by a signal, in English and as a
    notice (imported only then: the note's words are catalogue data)."""
    from exposcan.notes import NOTE_INTERRUPTED, notice, render_note

    note = notice(NOTE_INTERRUPTED)
    return render_note(note, "en") or note.code, note.model_dump(mode="json")


__all__ = [
    "PortScanOutcome",
    "PortScanRequest",
    "interrupted_note",
    "report_document",
    "run_port_scan",
]
