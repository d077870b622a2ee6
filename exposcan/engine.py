"""The scan, end to end: discovery, port scan, identification, protocol probes,
network probes (the box), then the catalogue's rules.

Structured concurrency throughout (TaskGroup): every task has an owner and
every probe a total deadline; a probe that fails becomes an error record and
never stops the scan.  If the scan is cancelled (Ctrl-C) the state gathered
so far is still there to report, marked incomplete.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime

from exposcan import __version__
from exposcan.catalogue import Catalogue
from exposcan.config import ScanConfig
from exposcan.findings import evaluate, sort_findings
from exposcan.limits import HostBudget, Limits, probe_flow
from exposcan.models import (
    ErrorReason,
    Report,
    ScanInfo,
    Tool,
    Vantage,
)
from exposcan.net import ndp
from exposcan.net.discovery import discover
from exposcan.net.localview import LocalView
from exposcan.net.netio import ProbeError, classify
from exposcan.net.portscan import PortResult, Sweeper, connect_scan, sweep
from exposcan.net.synscan import SynScanUnavailable, choose_sweeper
from exposcan.net.targets import IPAddress, text_key
from exposcan.notes import declare_note
from exposcan.probe import NetworkContext, NetworkProbe, ProbeContext, ServiceProbe
from exposcan.protocols import network_probes, service_probes
from exposcan.software.decoys import label_findings, label_hosts
from exposcan.software.identify import annotate
from exposcan.state import HostState, ScanState, ServiceState

log = logging.getLogger("exposcan")

NOTE_GLOBAL_PREFIX_ROUTER = declare_note("note.ipv6.global-prefix")
NOTE_GLOBAL_PREFIX_OWN = declare_note("note.ipv6.global-prefix-own")
NOTE_FORWARD_EXCLUDED = declare_note("note.scope.forward-excluded")
NOTE_FORWARD_OUT_OF_SCOPE = declare_note("note.scope.forward-not-named")
NOTE_FORWARD_DOWN = declare_note("note.scope.forward-down")

# How many service-probe budgets a network probe (the box) gets.
NETWORK_BUDGET = 4
# Probes of one host that may run into their deadline before the host's
# other probes are watched for stalls (limits.HostBudget).
HOST_ERROR_BUDGET = 1
# The window of that watch: a probe of such a host that receives less than
# its rate floor (limits.RATE_FLOOR) in HOST_GRACE seconds is cut; one that
# receives more goes on to its own deadline.  An honest service answers a
# probe in milliseconds (the lab's PACS: its whole HTTP probe in 0.3 s); a
# host that has just tarpitted one probe for a full deadline gets that much
# for each of its stalled others, not a read deadline each (5 s: the lab's
# hostile hosts then made the practice scan's critical path).  What the
# protocol asks beyond the usual total (DICOM's association wait) is still
# granted on top, for the first window.
HOST_GRACE = 2.0
# How long a host's later probe phase (DICOM, which uses the AE titles HTTP
# and SMB learn) waits for the earlier one before it starts alongside its
# stragglers.  The lab's honest web services give their hints within a
# second; a tarpit or a drip would hold the phase for a read deadline.
# DICOM still waits for the earlier probes if every AE title it knows so far
# is refused (engine ``host.earlier_probes``).  A phase that decides
# protocols (identify) is waited for up to a read deadline: what it finds
# decides which probes run.
PHASE_WAIT = 1.0


class Scanner:
    def __init__(
        self,
        config: ScanConfig,
        catalogue: Catalogue,
        service_probe_types: list[type[ServiceProbe]] | None = None,
        network_probe_types: list[type[NetworkProbe]] | None = None,
    ) -> None:
        self.config = config
        self.catalogue = catalogue
        self.state = ScanState()
        self.started = datetime.now(UTC)
        self.target_labels: list[str] = []
        # The registry's probes are imported in run(), in a thread, while the
        # network probes' waits and the port scan go on: the libraries of the
        # service probes (pynetdicom, pydicom, aiohttp) take most of a
        # second to import (start-up).
        self._service_probe_types = service_probe_types
        self._service_probes: list[ServiceProbe] = []
        self._network_probes = [
            t()
            for t in (network_probes() if network_probe_types is None else network_probe_types)
            if config.intrusive or t.safety == "safe"
        ]
        self._limits: Limits | None = None
        self._budget: HostBudget | None = None
        #: Targets discovery found down: a box forward to one is not scanned.
        self._down: set[str] = set()
        self._sweeper: Sweeper | None = None
        #: Set once discovery is done (or the scan ended): the outside view's
        #: request waits for it to name the LAN's IPv6 addresses.
        self.discovered = asyncio.Event()

    # -- the whole scan -------------------------------------------------

    async def run(
        self, targets: list[IPAddress], labels: list[str], view: LocalView | None = None
    ) -> None:
        self.target_labels = labels
        self._limits = Limits(self.config.concurrency, self.config.per_host, self.config.rate)
        self._budget = HostBudget(HOST_ERROR_BUDGET, min(HOST_GRACE, self.config.deadlines.read))
        try:
            progress = self.state.progress
            # Network probes start first, so that their own waits (SSDP:
            # 1.5 s for the MX delay of UDA 1.1 §1.3.2) overlap discovery,
            # the port scan and the host probes; they await ``hosts_known``
            # before looking at hosts and ``probes_done`` before reading
            # host facts.
            hosts_known, probes_done = asyncio.Event(), asyncio.Event()
            async with asyncio.TaskGroup() as group:
                addresses = tuple(str(a) for a in targets)
                group.create_task(self._network_phase(labels, addresses, hosts_known, probes_done))
                loading = group.create_task(asyncio.to_thread(self._make_service_probes))
                progress.phase = "discovery"
                live = await self._discover(targets, view)
                self.discovered.set()
                progress.hosts_found = len(live)
                progress.phase = "port scan"
                await self._port_scan(live, self.config.ports)
                hosts_known.set()
                self._service_probes = await loading
                progress.phase = "probes"
                async with asyncio.TaskGroup() as host_group:
                    for host in list(self.state.hosts.values()):
                        host_group.create_task(self._probe_host(host))
                probes_done.set()
                progress.phase = "network"
            progress.phase = "done"
        finally:
            self.discovered.set()
            self._limits.close()

    def _make_service_probes(self) -> list[ServiceProbe]:
        types = self._service_probe_types
        return [
            t()
            for t in (service_probes() if types is None else types)
            if self.config.intrusive or t.safety == "safe"
        ]

    async def _discover(self, targets: list[IPAddress], view: LocalView | None) -> list[str]:
        # From the internet a box answers no ARP and may drop pings: every
        # address named is scanned, as nmap -Pn.
        if not self.config.discovery or self.config.vantage is Vantage.INTERNET:
            for address in targets:
                self.state.host(str(address)).discovered_by = "assumed"
            return [str(a) for a in targets]
        neighbours: asyncio.Task[ndp.NdpResult] | None = None
        if self.config.neighbour_discovery:
            # Alongside ARP: a second, bounded (about 1 s) look at the LAN.
            names = sorted({n.interface for n in view.networks}) if view else None
            neighbours = asyncio.create_task(
                asyncio.to_thread(ndp.discover, names, ndp.DEFAULT_WAIT)
            )
        found = await discover(targets, view, self.config.scan_timeout, self.config.concurrency)
        for address in targets:  # keep target order
            if str(address) in found:
                how, mac = found[str(address)]
                host = self.state.host(str(address))
                host.discovered_by, host.mac = how, mac
                log.info("host %s is up (%s)", address, how)
        log.info("discovery: %d of %d addresses up", len(found), len(targets))
        live = [str(a) for a in targets if str(a) in found]
        self._down.update(str(a) for a in targets if str(a) not in found)
        if neighbours is not None:
            live += self._join_ipv6(await neighbours, set(live))
        return live

    def _join_ipv6(self, result: ndp.NdpResult, live: set[str]) -> list[str]:
        """Each IPv6 neighbour joined by MAC to the IPv4 host of the same
        device (``Host.ipv6``); global addresses become hosts to scan: the
        path from the internet that needs no forward at all."""
        log.info(
            "IPv6 neighbour discovery (%s): %d neighbours, %d prefixes in %.2f s",
            result.method,
            len(result.neighbours),
            len(result.prefixes),
            result.seconds,
        )
        for note in result.notices:
            self.state.add_notice(note)
        for prefix in result.prefixes:
            if prefix.kind == "global":
                self.state.note(
                    NOTE_GLOBAL_PREFIX_ROUTER if prefix.router else NOTE_GLOBAL_PREFIX_OWN,
                    network=str(prefix.network),
                    interface=prefix.interface,
                    router=str(prefix.router) if prefix.router else None,
                )
        by_mac = {h.mac: h for h in self.state.hosts.values() if h.mac and h.address in live}
        extra: list[str] = []
        for n in result.neighbours:
            if n.address in self.config.excluded:
                continue
            owner = by_mac.get(n.mac) if n.mac else None
            if owner is not None and n.address not in owner.ipv6:
                owner.ipv6.append(n.address)
            if n.kind == "global" and n.address not in live:
                host = self.state.host(n.address)
                host.discovered_by, host.mac = "ndp", n.mac
                extra.append(n.address)
                log.info("host %s is up (ndp, %s)", n.address, n.found_by)
        return extra

    async def _port_scan(self, hosts: list[str], ports: list[int]) -> list[ServiceState]:
        assert self._limits is not None
        progress = self.state.progress
        progress.ports_total += len(hosts) * len(ports)
        checked_before = progress.ports_checked
        opened: list[ServiceState] = []

        # Port-major order spreads the load across hosts, so a fragile device
        # never sees a burst of all its ports at once.
        def jobs() -> Iterator[tuple[str, int]]:
            for port in ports:
                for host in hosts:
                    yield host, port

        def on_open(result: PortResult) -> None:
            host = self.state.host(result.host)
            if result.port not in host.services:
                entry = self.catalogue.guess(result.port)
                service = ServiceState(
                    port=result.port,
                    protocol=entry.protocol if entry else "unknown",
                    tls=entry.tls if entry else False,
                )
                host.services[result.port] = service
                opened.append(service)
                log.info("%s:%d open (%s?)", result.host, result.port, service.protocol)

        def on_progress(done: int) -> None:
            progress.ports_checked = checked_before + done

        if self._sweeper is None:
            self._sweeper = choose_sweeper(self.config.scan_type)
            log.info(
                "port scan: %s", "SYN (raw packets)" if self._sweeper is not sweep else "connect"
            )
        workers = min(self.config.concurrency, max(1, len(hosts) * len(ports)))
        try:
            await connect_scan(
                jobs(),
                workers=workers,
                timeout=self.config.scan_timeout,
                rate=self.config.rate,
                on_result=on_open,
                on_progress=on_progress,
                sweeper=self._sweeper,
            )
        except SynScanUnavailable:
            # Refused before the first packet (a sandbox without CAP_NET_RAW
            # though root): the connect scan needs no privilege.
            log.info("port scan: raw sockets refused, connect scan instead")
            self._sweeper = sweep
            await connect_scan(
                jobs(),
                workers=workers,
                timeout=self.config.scan_timeout,
                rate=self.config.rate,
                on_result=on_open,
                on_progress=on_progress,
            )
        return opened

    # -- probes ---------------------------------------------------------

    async def _probe_host(self, host: HostState, only: set[int] | None = None) -> None:
        by_phase: dict[int, list[ServiceProbe]] = {}
        for probe in self._service_probes:
            by_phase.setdefault(probe.phase, []).append(probe)
        try:
            await self._probe_phases(host, by_phase, only)
        finally:
            # Also when the scan's deadline cancels the host: what its probes
            # proved is recorded.
            finalizers, host.finalizers = host.finalizers, []
            for finish in finalizers:
                try:
                    finish()
                except Exception:  # a probe bug must not stop the scan
                    log.debug("a finalizer failed on %s", host.address, exc_info=True)

    async def _probe_phases(
        self, host: HostState, by_phase: dict[int, list[ServiceProbe]], only: set[int] | None
    ) -> None:
        async with asyncio.TaskGroup() as group:
            started: list[asyncio.Task[None]] = []
            for phase in sorted(by_phase):
                host.earlier_probes = [t for t in started if not t.done()]
                tasks = [
                    group.create_task(self._run_service_probe(probe, host, host.services[port]))
                    for probe in by_phase[phase]
                    for port in sorted(host.services)
                    if (only is None or port in only) and probe.wants(host.services[port])
                ]
                # Later phases use what earlier ones learned (an AE title
                # from a PACS's web API), which an honest service gives in
                # well under a read deadline; a straggler (a drip, a stall:
                # 11 s of a dripped SMB frame on the lab's hostile2) must not
                # hold the host's other services: they start after
                # PHASE_WAIT while it goes on.
                started += tasks
                read = self.config.deadlines.read
                if tasks:
                    decides = any(p.decides_protocols for p in by_phase[phase])
                    await asyncio.wait(tasks, timeout=read if decides else min(PHASE_WAIT, read))

    async def _run_service_probe(
        self, probe: ServiceProbe, host: HostState, service: ServiceState
    ) -> None:
        assert self._limits is not None
        ctx = ProbeContext(
            host, self.state, self.config, self.catalogue, self._limits, probe.name, probe.steps
        )
        facts_before = len(host.facts)
        total = probe.total_deadline(self.config)
        await self._guarded(
            probe.name,
            host.address,
            service.port,
            probe.probe(ctx, service),
            total=total,
            # What the protocol asks beyond the usual total (slow by design)
            # survives the host's error budget.
            allowance=max(0.0, total - self.config.deadlines.total),
        )
        # Fact kinds only: their data is what rules read, not what logs print.
        # Other probes of this host run alongside: only this port's new facts.
        mine = [f.kind for f in host.facts[facts_before:] if f.port == service.port]
        log.info(
            "%s:%d probe %s: %s",
            host.address,
            service.port,
            probe.name,
            ", ".join(mine) or "no fact",
        )

    async def _guarded(
        self,
        name: str,
        address: str,
        port: int | None,
        coro: object,
        total: float | None = None,
        clock_from: asyncio.Event | None = None,
        allowance: float = 0.0,
    ) -> None:
        """Run one probe under its total deadline; failures become error records.

        With ``clock_from`` the deadline counts from when that event is set
        (a network probe waiting for the host probes is not using its time).
        """
        total = total or self.config.deadlines.total
        loop = asyncio.get_running_loop()
        starter: asyncio.Task[bool] | None = None
        running = True
        cut = False
        # Host probes spend their host's error budget (a network probe, port
        # None, is the scan's).
        budget = self._budget if port is not None else None

        def start_clock(deadline: asyncio.Timeout) -> None:
            if running:  # not once the probe has returned
                deadline.reschedule(loop.time() + total)

        try:
            async with asyncio.timeout(total) as deadline:
                if clock_from is not None and not clock_from.is_set():
                    deadline.reschedule(None)
                    starter = asyncio.create_task(clock_from.wait())
                    starter.add_done_callback(lambda _: start_clock(deadline))
                with (
                    probe_flow() as flow,
                    budget.watch(address, deadline, allowance, flow) if budget else nullcontext(),
                ):
                    try:
                        await coro  # type: ignore[misc]
                    finally:
                        running = False
                        cut = budget is not None and budget.was_cut(deadline)
        except ProbeError as exc:
            log.info("%s:%s probe %s: %s", address, port, name, exc.reason.value)
            self.state.error(address, port, name, exc.reason, exc.detail)
            if budget is not None and exc.reason is ErrorReason.TIMEOUT:
                budget.burn(address)
        except TimeoutError:
            if cut and budget is not None:
                detail = (
                    f"probe cut by the host's error budget: {budget.burnt(address)} of its "
                    f"probes had already run into their deadline"
                )
            else:
                detail = f"probe exceeded its {total:g} s total deadline"
            self.state.error(address, port, name, ErrorReason.TIMEOUT, detail)
            if budget is not None:
                budget.burn(address)
        except (OSError, ValueError, EOFError, UnicodeError) as exc:
            self.state.error(address, port, name, classify(exc), type(exc).__name__)
        except Exception as exc:  # a probe bug must not stop the scan
            # Only the exception type: a message may quote what the peer sent.
            log.debug("probe %s crashed on %s:%s", name, address, port, exc_info=True)
            self.state.error(address, port, name, ErrorReason.INTERNAL, type(exc).__name__)
        finally:
            if starter is not None:
                starter.cancel()
            self.state.progress.probes_run += 1

    async def scan_more(self, address: str, ports: list[int]) -> HostState:
        """Scan and probe extra ports of a host (a box forward's internal target)."""
        if address in self.config.excluded:
            self.state.note(NOTE_FORWARD_EXCLUDED, address=address)
            return HostState(address)
        if not self.config.in_scope(address):
            self.state.note(NOTE_FORWARD_OUT_OF_SCOPE, address=address)
            return HostState(address)
        if address in self._down:
            # Discovery found nothing there a moment ago (ARP on the LAN):
            # a forward to it leads nowhere; scanning its ports again would
            # cost their timeouts for nothing (12 such forwards: 37 s).
            self.state.note(NOTE_FORWARD_DOWN, address=address)
            return HostState(address)
        host = self.state.host(address)
        if host.discovered_by == "assumed" and not host.services:
            host.discovered_by = "upnp"
        todo = [p for p in ports if p not in host.services]
        opened = await self._port_scan([address], todo) if todo else []
        if opened:
            await self._probe_host(host, only={s.port for s in opened})
        return host

    async def _network_phase(
        self,
        labels: list[str],
        addresses: tuple[str, ...],
        hosts_known: asyncio.Event,
        probes_done: asyncio.Event,
    ) -> None:
        assert self._limits is not None
        for probe in sorted(self._network_probes, key=lambda p: p.phase):
            budget = self.config.deadlines.total * NETWORK_BUDGET
            ctx = NetworkContext(
                self.state,
                self.config,
                self.catalogue,
                self._limits,
                probe.name,
                self.scan_more,
                labels,
                budget,
                probes_done,
                hosts_known,
                addresses,
            )
            # A network probe may scan and probe follow-up targets (a box
            # forward's internal host): its budget covers several probes.
            await self._guarded(
                probe.name, "*", None, probe.run(ctx), total=budget, clock_from=probes_done
            )

    # -- the report -----------------------------------------------------

    def report(self, complete: bool) -> Report:
        # What the probes found, joined with the catalogue: CPE names and
        # advisories per service, and the hosts that are likely decoys.
        known_vulnerable = annotate(self.catalogue, self.state)
        decoys = label_hosts(self.catalogue, self.state)
        findings = label_findings(
            sort_findings(
                evaluate(
                    self.catalogue,
                    [*self.state.facts(), *known_vulnerable],
                    self.config.vantage,
                    intrusive=self.config.intrusive,
                )
            ),
            decoys,
        )
        hosts = [
            h.to_model()
            for h in sorted(self.state.hosts.values(), key=lambda h: text_key(h.address))
            if h.services or h.discovered_by in ("arp", "tcp", "ndp")
        ]
        return Report(
            tool=Tool(version=__version__),
            scan=ScanInfo(
                started=self.started,
                finished=datetime.now(UTC),
                vantage=self.config.vantage,
                targets=self.target_labels,
                complete=complete,
                ports=self.config.ports_spec,
                hosts_scanned=len(self.state.hosts),
                probed=self._service_probe_types is None or bool(self._service_probe_types),
                notes=list(self.state.notes),
                notices=list(self.state.notices),
            ),
            hosts=hosts,
            findings=findings,
            errors=list(self.state.errors),
        )
