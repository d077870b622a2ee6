"""The one interface between the engine and protocol modules.

A :class:`ServiceProbe` looks at one service of one host (DICOM, HTTP, SMB);
a :class:`NetworkProbe` looks at the whole scan once the hosts are known (the
internet box's UPnP forwards).  Probes only gather *facts*; the catalogue's
rules decide which facts make which finding.  A new protocol is one module
plus one entry in :mod:`exposcan.protocols`.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from exposcan.catalogue import Catalogue
from exposcan.config import ScanConfig
from exposcan.facts import FactError, fact_model, validate_fact
from exposcan.limits import Limits, progressed
from exposcan.models import ErrorReason, Safety
from exposcan.state import Fact, HostState, ScanState, ServiceState


@dataclass
class ProbeContext:
    """What a probe may use and where it writes what it learned."""

    host: HostState
    scan: ScanState
    config: ScanConfig
    catalogue: Catalogue
    limits: Limits
    probe_name: str
    #: The probe's declared steps and their safety (``ServiceProbe.steps``).
    steps: Mapping[str, Safety] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.host.address

    def step(self, name: str) -> bool:
        """May the probe run its step ``name``?  The engine's decision, from
        the probe's declaration: an intrusive step only with ``--intrusive``
        (nmap NSE's categories).  An undeclared step is a bug, said here."""
        if name not in self.steps:
            raise KeyError(f"probe {self.probe_name}: step {name!r} is not declared in its steps")
        return self.steps[name] is Safety.SAFE or self.config.intrusive

    def fact(self, kind: str, port: int | None, protocol: str, **data: Any) -> Fact:
        """Record a fact; ``data`` is checked against ``kind``'s model
        (:mod:`exposcan.facts`): an undeclared field raises :class:`FactError`,
        and a fact only an intrusive step gathers needs ``--intrusive``."""
        model = fact_model(kind)
        if model is not None and model.safety is Safety.INTRUSIVE and not self.config.intrusive:
            raise FactError(f"fact {kind} comes from an intrusive step: not without --intrusive")
        data = validate_fact(kind, data)
        fact = Fact(kind, self.host.address, port, protocol, data)
        self.host.facts.append(fact)
        # The live display counts findings as they appear; the report itself
        # is evaluated once, at the end.
        vantage = self.config.vantage
        self.scan.progress.findings += sum(
            1 for rule in self.catalogue.rules.values() if rule.matches(kind, data, vantage)
        )
        return fact

    def progress(self, nbytes: int) -> None:
        """The probe received ``nbytes`` (a directory page, a listing's
        entries: what they took on the wire, an estimate will do).  The
        bounded I/O layer counts what it reads by itself; a step that reads
        through a library of its own says so here, so that the host's error
        budget (:class:`exposcan.limits.HostBudget`) sees it progressing and
        does not cut it for another port's stall.  Safe from a worker thread
        run by ``limits.run_blocking``."""
        progressed(nbytes)

    def error(self, port: int | None, reason: ErrorReason, detail: str = "") -> None:
        self.scan.error(self.host.address, port, self.probe_name, reason, detail)

    def imaging(self, port: int, protocol: str, what: str, **data: Any) -> None:
        """Mark a service that serves imaging: what the box's forwards and the
        internet view are joined on."""
        self.fact("imaging.service", port, protocol, service=what, **data)

    def health_data(self, port: int, protocol: str, what: str, **data: Any) -> None:
        """Mark a service that serves health data that is not an image
        (laboratory results, HL7 messages, clinical documents): joined with
        the internet view and the box's forwards as :meth:`imaging` is."""
        self.fact("health-data.service", port, protocol, service=what, **data)


class ServiceProbe(abc.ABC):
    name: ClassVar[str]
    protocols: ClassVar[frozenset[str]]
    # Lower phases run first on a host, so later probes can use their hints.
    phase: ClassVar[int] = 50
    #: What this probe learns decides which later probes want a service (its
    #: protocol): the next phase waits for it, within a read deadline.  A
    #: later phase that only uses hints (AE titles) starts sooner (engine).
    decides_protocols: ClassVar[bool] = False
    safety: ClassVar[Safety] = Safety.SAFE
    #: Steps of a safe probe that are not safe themselves (a login with a
    #: documented default account): run only when ``ctx.step(name)`` allows.
    steps: ClassVar[Mapping[str, Safety]] = {}

    def wants(self, service: ServiceState) -> bool:
        return service.protocol in self.protocols

    def total_deadline(self, config: ScanConfig) -> float:
        """The most this probe may take on one service (a protocol whose
        peers are slow by design says so here)."""
        return config.deadlines.total

    @abc.abstractmethod
    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None: ...


# Callback a network probe uses to scan a follow-up target (host, ports).
ScanMore = Callable[[str, list[int]], Awaitable[HostState]]


@dataclass
class NetworkContext:
    scan: ScanState
    config: ScanConfig
    catalogue: Catalogue
    limits: Limits
    probe_name: str
    scan_more: ScanMore
    targets: list[str]
    # Total seconds this network probe may take, follow-up scans included.
    budget: float = 120.0
    # Set when every host's service probes are done.  The engine starts
    # network probes alongside them so that their own waits (SSDP's MX)
    # overlap; a network probe awaits this before it reads what host probes
    # found.  Already set by default (nothing runs alongside).
    host_probes: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))
    # Set once discovery and the port scan are done: the hosts and their open
    # ports are known.  The engine starts network probes before discovery so
    # that a wait of their own that needs no host (SSDP's MX) overlaps the
    # whole scan; they await this before they look at the hosts.
    hosts_known: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))
    # The addresses the scan was asked to cover (before discovery).
    addresses: tuple[str, ...] = ()

    def context_for(self, host: HostState) -> ProbeContext:
        return ProbeContext(
            host, self.scan, self.config, self.catalogue, self.limits, self.probe_name
        )


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


class NetworkProbe(abc.ABC):
    name: ClassVar[str]
    phase: ClassVar[int] = 90
    safety: ClassVar[Safety] = Safety.SAFE

    @abc.abstractmethod
    async def run(self, ctx: NetworkContext) -> None: ...
