"""What a scan learns, while it learns it: hosts, services, facts, errors.

Facts are the typed results protocol modules gather (an association result,
an HTTP response's fingerprint, a share listing's counts).  The catalogue's
rules turn facts into findings; probes of one host share facts and *hints*
(a PACS web API that disclosed the DICOM AE title helps the DICOM probe).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exposcan.models import (
    DecoyLabel,
    ErrorReason,
    ErrorRecord,
    EvidenceValue,
    Host,
    Notice,
    NoticeValue,
    Service,
)
from exposcan.notes import notice, render_note


@dataclass(frozen=True)
class Fact:
    kind: str  # e.g. "dicom.query", "http.pacs", "imaging.service"
    host: str
    port: int | None
    protocol: str
    data: dict[str, Any]


@dataclass
class ServiceState:
    port: int
    protocol: str  # guessed, then confirmed or corrected by probes
    tls: bool = False
    product: str | None = None
    version: str | None = None
    confirmed: bool = False
    banner: bytes = b""
    details: dict[str, EvidenceValue] = field(default_factory=dict)
    #: Set once the probes are done (exposcan.software.identify, .decoys).
    cpe: list[str] = field(default_factory=list)
    toolkit: str | None = None
    decoy: DecoyLabel | None = None

    def to_model(self) -> Service:
        return Service(
            port=self.port,
            protocol=self.protocol,
            product=self.product,
            version=self.version,
            tls=self.tls,
            details=dict(self.details),
            cpe=list(self.cpe),
            toolkit=self.toolkit,
            decoy=self.decoy,
        )


@dataclass
class HostState:
    address: str
    discovered_by: str = "assumed"
    mac: str | None = None
    services: dict[int, ServiceState] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)
    hints: dict[str, list[str]] = field(default_factory=dict)
    #: The same device's IPv6 addresses (neighbour discovery, joined by MAC).
    ipv6: list[str] = field(default_factory=list)
    #: Probes of earlier phases still running when a later phase started
    #: (the engine starts it after a read deadline so that a straggler does
    #: not hold the host): a later probe that needs their hints awaits them.
    earlier_probes: list[asyncio.Task[None]] = field(default_factory=list)
    #: What a probe records only once all of this host's probes are done
    #: (engine ``_probe_host``): a conclusion that an earlier straggler may
    #: still change (the product a PACS web API names for a DICOM port).
    finalizers: list[Callable[[], None]] = field(default_factory=list)

    def earlier_probes_running(self) -> bool:
        return any(not t.done() for t in self.earlier_probes)

    async def earlier_probes_done(self) -> None:
        """Wait for the earlier phases' probes (each ends at its own deadline),
        so that what a probe concludes never depends on which of them happened
        to be slow (an AE title disclosed late by a loaded PACS web API)."""
        pending = [t for t in self.earlier_probes if not t.done()]
        if pending:
            await asyncio.wait(pending)

    def add_hint(self, name: str, value: str) -> None:
        values = self.hints.setdefault(name, [])
        if value not in values:
            values.append(value)

    def to_model(self) -> Host:
        return Host(
            address=self.address,
            mac=self.mac,
            discovered_by=self.discovered_by,  # type: ignore[arg-type]
            services=[self.services[p].to_model() for p in sorted(self.services)],
            ipv6=list(self.ipv6),
        )


@dataclass
class Progress:
    hosts_found: int = 0
    ports_checked: int = 0
    ports_total: int = 0
    probes_run: int = 0
    findings: int = 0
    phase: str = "starting"


@dataclass
class ScanState:
    hosts: dict[str, HostState] = field(default_factory=dict)
    errors: list[ErrorRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # English, for the report's JSON
    notices: list[Notice] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)

    def host(self, address: str) -> HostState:
        state = self.hosts.get(address)
        if state is None:
            state = self.hosts[address] = HostState(address)
        return state

    def error(
        self, host: str, port: int | None, probe: str, reason: ErrorReason, detail: str = ""
    ) -> None:
        # Details come from exceptions of network code: cap them so a hostile
        # peer cannot grow a report by sending a huge error string.
        self.errors.append(
            ErrorRecord(host=host, port=port, probe=probe, reason=reason, detail=detail[:300])
        )

    def facts(self) -> list[Fact]:
        return [fact for host in self.hosts.values() for fact in host.facts]

    def note(self, code: str, **params: NoticeValue) -> None:
        """Record note ``code`` (declared with :func:`exposcan.notes.declare_note`)."""
        self.add_notice(notice(code, **params))

    def add_notice(self, note: Notice) -> None:
        text = render_note(note, "en") or note.code
        if text not in self.notes:
            self.notes.append(text)
            self.notices.append(note)
