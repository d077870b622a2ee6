"""The outside view around one LAN scan, into the report's ``outside`` block.

``start`` sends the reflector its one request as soon as discovery is done
(so the request can name the LAN's global IPv6 addresses), while the LAN
scan goes on: the reflector's scan costs no extra wall time. ``finish``
waits for its answer, learns the public address, sweeps it from inside
(NAT loopback), joins every public door to the LAN service behind it, and
adds the reflector's internet-only findings (those of rules that hold only
from the internet vantage, a catalogue field) to the LAN report, so that
the exit code, a baseline diff and the notifications name a new outside
exposure like any other finding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

from exposcan.catalogue import Catalogue
from exposcan.config import ScanConfig
from exposcan.engine import Scanner
from exposcan.findings import sort_findings
from exposcan.models import (
    Finding,
    Notice,
    Outside,
    OutsidePath,
    PublicAddress,
    Report,
    SeenFrom,
    Service,
    Vantage,
)
from exposcan.net.portspec import PortSpecError, parse_ports
from exposcan.notes import declare_note, notice, render_note
from exposcan.outside.address import (
    LoopbackTarget,
    NoLoopback,
    decide_public,
    loopback_target,
    publicly_routed,
)
from exposcan.outside.ask import ReflectorAnswer, ask_reflector
from exposcan.outside.join import Side, join, signature
from exposcan.outside.loopback import loopback_ports, sweep
from exposcan.outside.settings import OutsideSettings
from exposcan.reflector.wire import MAX_IPV6
from exposcan.state import HostState

log = logging.getLogger("exposcan.outside")

NOTE_IPV4_UNCHECKED = declare_note("note.outside.ipv4-unchecked")

NOTE_ANSWER_DROPPED = declare_note("note.outside.answer-dropped")
NOTE_LOOPBACK_DISAGREE = declare_note("note.outside.loopback-disagree")
NOTE_LOOPBACK_ONE_WITNESS = declare_note("note.outside.loopback-one-witness")
NOTE_LOOPBACK_NOT_ROUTED = declare_note("note.outside.loopback-not-routed")
_NO_LOOPBACK_NOTES = {
    NoLoopback.DISAGREE: NOTE_LOOPBACK_DISAGREE,
    NoLoopback.ONE_WITNESS: NOTE_LOOPBACK_ONE_WITNESS,
    NoLoopback.NOT_ROUTED: NOTE_LOOPBACK_NOT_ROUTED,
}
#: Ports the reflector saw open on the agreed public address that join the
#: NAT loopback check (a forward set by hand is on no list), at most.
MAX_REFLECTOR_PORTS = 64

#: (settings, IPv6 addresses to name, deadline, address family) -> answer.
Asker = Callable[[OutsideSettings, Sequence[str], float, int], Awaitable[ReflectorAnswer]]
#: How long the request waits for the LAN discovery before it goes without
#: the IPv6 addresses (a discovery that takes longer is not waited for).
DISCOVERY_WAIT_S = 30.0
REFLECTOR_DEADLINE_S = 300.0
#: A failed request naming IPv6 addresses is asked again without them only
#: if this much of the deadline is left.
RETRY_MIN_S = 30.0
#: What a public door is joined by when no fingerprint matched but the box's
#: IGD names the forward's inside end.
UPNP_JOIN = "upnp-mapping"
_ULA = IPv6Network("fc00::/7")


def global_ipv6(addresses: Iterable[str]) -> list[str]:
    """The addresses an outside view can reach over IPv6 (no NAT in front)."""
    out: list[str] = []
    for text in addresses:
        try:
            ip = ip_address(text)
        except ValueError:
            continue
        if not isinstance(ip, IPv6Address):
            continue
        if ip.is_link_local or ip.is_loopback or ip.is_multicast or ip.is_unspecified:
            continue
        if ip in _ULA:
            continue
        out.append(str(ip))
    return out


def _reaches_over_ipv6(url: str) -> bool:
    """The reflector scans IPv6 addresses only for a request that came over
    IPv6 from the same /64: a reflector named by an IPv4 address cannot be
    asked for them (a name may resolve to either)."""
    host = urlsplit(url).hostname or ""
    try:
        return not isinstance(ip_address(host), IPv4Address)
    except ValueError:
        return True


def _named_by_name(url: str) -> bool:
    """A reflector named by a host name (not an address literal) may be
    reached over IPv4 and over IPv6."""
    host = urlsplit(url).hostname or ""
    try:
        ip_address(host)
    except ValueError:
        return bool(host)
    return False


def ipv4_unchecked(answer: ReflectorAnswer | None, report: Report) -> bool:
    """The reflector saw only an IPv6 source while the LAN speaks IPv4: its
    scan says nothing of the box's public IPv4 address, where the forwards
    are, and must not read as "nothing answered"."""
    if answer is None or answer.report is None or not answer.source:
        return False
    try:
        if not isinstance(ip_address(answer.source), IPv6Address):
            return False
    except ValueError:
        return False
    return any(isinstance(_ip(h.address), IPv4Address) for h in report.hosts)


def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None


def merge_answers(v4: ReflectorAnswer, v6: ReflectorAnswer) -> ReflectorAnswer:
    """One outside view from a request over IPv4 and one over IPv6: what the
    reflector saw of both addresses; complete only if both scans were.  The
    IPv4 source stays the public address (the box's forwards are there);
    either answer alone when the other failed."""
    if v4.report is None or v6.report is None:
        return v4 if v4.report is not None or v6.report is None else v6
    a, b = v4.report, v6.report
    scan = a.scan.model_copy(
        update={
            "targets": list(dict.fromkeys([*a.scan.targets, *b.scan.targets])),
            "complete": a.scan.complete and b.scan.complete,
            "notes": list(dict.fromkeys([*a.scan.notes, *b.scan.notes])),
            "notices": [*a.scan.notices, *(n for n in b.scan.notices if n not in a.scan.notices)],
            "hosts_scanned": a.scan.hosts_scanned + b.scan.hosts_scanned,
            "finished": max(a.scan.finished, b.scan.finished),
        }
    )
    report = a.model_copy(
        update={
            "scan": scan,
            "hosts": [*a.hosts, *b.hosts],
            "findings": [*a.findings, *b.findings],
            "errors": [*a.errors, *b.errors],
        }
    )
    return ReflectorAnswer(
        reflector=v4.reflector,
        report=report,
        source=v4.source,
        ports_tried=max(v4.ports_tried, v6.ports_tried),
        dropped=v4.dropped + v6.dropped,
    )


def _with_note(report: Report, note: Notice) -> Report:
    text = render_note(note, "en") or note.code
    if text in report.scan.notes:
        return report
    scan = report.scan.model_copy(
        update={"notes": [*report.scan.notes, text], "notices": [*report.scan.notices, note]}
    )
    return report.model_copy(update={"scan": scan})


def _with_loopback_note(report: Report, target: LoopbackTarget) -> Report:
    if target.reason is None:
        return report
    code = _NO_LOOPBACK_NOTES[target.reason]
    if target.reason is NoLoopback.DISAGREE:
        return _with_note(report, notice(code, named=", ".join(target.named)))
    return _with_note(report, notice(code, address=target.named[0]))


def _door(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


@dataclass(frozen=True)
class _Mapping:
    external_port: int
    lan: str  # host:port


@dataclass(frozen=True)
class _Seen:
    address: str
    service: Service
    imaging: str | None
    #: The imaging proof ("4 imaging files in a directory listing"): counts,
    #: the same from both sides of a forward, a join key.
    proof: str | None = None


#: What each door or LAN service serves: (kind, proof) by (address, port).
_Imaging = dict[tuple[str, int | None], tuple[str, str | None]]


def _side(where: str, svc: Service, imaging: tuple[str, str | None] | None) -> Side:
    kind, proof = imaging or (None, None)
    return Side(
        where,
        svc.protocol,
        signature(svc.protocol, svc.product, svc.version, svc.details, imaging=kind, proof=proof),
        svc.product,
        svc.version,
    )


class OutsideCheck:
    def __init__(
        self,
        settings: OutsideSettings | None,
        config: ScanConfig,
        catalogue: Catalogue,
        asker: Asker = ask_reflector,
        deadline: float = REFLECTOR_DEADLINE_S,
        declared_public: str | None = None,
        routed: Callable[[str], bool] = publicly_routed,
    ) -> None:
        """``declared_public``: the public address the user set
        (``--outside-public``), a witness of its own; ``routed``: which
        addresses the internet routes (the NAT loopback check goes to no
        other)."""
        self.settings = settings
        self.declared_public = declared_public
        self._routed = routed
        self.config = config
        self.catalogue = catalogue
        self._asker = asker
        self._deadline = deadline
        self._task: asyncio.Task[ReflectorAnswer] | None = None
        self.ipv6_named: list[str] = []
        self._twins: dict[str, str] = {}

    # -- during the LAN scan ---------------------------------------------------

    def start(self, scanner: Scanner) -> None:
        if self.settings is not None and self._task is None:
            self._task = asyncio.create_task(self._ask(scanner, self.settings))

    async def _ask(self, scanner: Scanner, settings: OutsideSettings) -> ReflectorAnswer:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DISCOVERY_WAIT_S):
                await scanner.discovered.wait()
        if _reaches_over_ipv6(settings.url):
            self.ipv6_named = global_ipv6(scanner.state.hosts)[:MAX_IPV6]
        log.info("asking the reflector (%d IPv6 address(es) named)", len(self.ipv6_named))
        if _named_by_name(settings.url):
            # A name with A and AAAA records: one request over each, side by
            # side.  Over whichever one the system prefers (IPv6, RFC 6724),
            # the reflector would see only that address, and an IPv4 forward
            # would go unchecked behind a "No" of the IPv6 side.
            v4, v6 = await asyncio.gather(
                self._asker(settings, (), self._deadline, socket.AF_INET),
                self._asker(settings, self.ipv6_named, self._deadline, socket.AF_INET6),
            )
            if v6.report is None:
                self.ipv6_named = []
            return merge_answers(v4, v6)
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await self._asker(settings, self.ipv6_named, self._deadline, 0)
        left = self._deadline - (loop.time() - started)
        if answer.report is None and self.ipv6_named and left >= RETRY_MIN_S:
            # A reflector's name may resolve to IPv4 too, and it refuses IPv6
            # addresses named over IPv4: ask once more for the source alone.
            log.info("the reflector refused; asking again without IPv6 addresses")
            self.ipv6_named = []
            answer = await self._asker(settings, (), left, 0)
        return answer

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    # -- after it ------------------------------------------------------------------

    async def finish(self, scanner: Scanner, report: Report) -> Report:
        answer: ReflectorAnswer | None = None
        if self._task is not None:
            try:
                answer = await self._task
            except asyncio.CancelledError:
                raise
        # Here, not at module level: the UPnP probe's client imports aiohttp,
        # which a scan with no probes (a port sweep) never needs.
        from exposcan.protocols.upnp.probe import IGD_FACT, MAPPING_FACT

        facts = scanner.state.facts()
        upnp_ip = next(
            (
                str(f.data["external_ip"])
                for f in facts
                if f.kind == IGD_FACT and f.data.get("external_ip")
            ),
            None,
        )
        mappings = [
            _Mapping(
                int(f.data["external_port"]), f"{f.data['internal_host']}:{f.data['internal_port']}"
            )
            for f in facts
            if f.kind == MAPPING_FACT and f.data.get("transport", "TCP") == "TCP"
        ]
        public = decide_public(answer.source if answer else None, upnp_ip, self._routed)
        target = loopback_target(public, self.declared_public, self._routed)
        if public.address is None and target.address is not None:
            public = public.model_copy(update={"address": target.address})  # the user's word
        if answer is None and public.address is None and not public.carrier_grade_nat:
            return report
        seen_outside = self._reflector_services(answer)
        looped: list[_Seen] = []
        tried = 0
        if target.address is not None:
            # Only the agreed address, on the catalogue's ports, the box's
            # UPnP forwards and (capped) what the reflector saw open there.
            at_target = sorted(
                {s.service.port for s in seen_outside if s.address == target.address}
            )
            loop_ports = loopback_ports(
                self.catalogue,
                (m.external_port for m in mappings),
                at_target[:MAX_REFLECTOR_PORTS],
            )
            host = await sweep(target.address, loop_ports, self.config, self.catalogue)
            if host is not None:
                tried = len(loop_ports)
                looped = _loopback_services(host)
        report = _with_loopback_note(report, target)
        if answer is not None and answer.dropped:
            report = _with_note(report, notice(NOTE_ANSWER_DROPPED, count=answer.dropped))
        lan = _lan_sides(report, public, _imaging_facts(scanner))
        self._twins = _twins(report)
        box = _box_addresses(report)
        paths = [self._path(s, SeenFrom.INTERNET, lan, mappings) for s in seen_outside]
        for s in looped:
            path = self._path(s, SeenFrom.LOOPBACK, lan, mappings)
            # From inside, the box's own services answer on its public address
            # too (its web pages, its IGD): that is no loopback of a forward.
            inside = path.lan.rpartition(":")[0].strip("[]") if path.lan else None
            if path.imaging is not None or (inside is not None and inside not in box):
                paths.append(path)
        v4_unchecked = ipv4_unchecked(answer, report)
        if v4_unchecked:
            assert answer is not None and answer.source is not None
            report = _with_note(report, notice(NOTE_IPV4_UNCHECKED, source=answer.source))
        outside = Outside(
            status="not-asked" if answer is None else "failed" if answer.report is None else "done",
            reflector=answer.reflector if answer else None,
            checked=answer.report.scan.finished if answer and answer.report else None,
            error=answer.error if answer else None,
            complete=(answer is None or answer.report is None or answer.report.scan.complete)
            and not v4_unchecked,
            ports_tried=_ports_tried(answer),
            loopback_ports_tried=tried,
            ipv6_named=self.ipv6_named,
            public=public,
            paths=paths,
        )
        findings = list(report.findings)
        if answer is not None and answer.report is not None:
            findings += self._internet_findings(answer.report, paths)
        return report.model_copy(update={"outside": outside, "findings": sort_findings(findings)})

    def _reflector_services(self, answer: ReflectorAnswer | None) -> list[_Seen]:
        if answer is None or answer.report is None:
            return []
        kinds = self._imaging_kinds(answer.report)
        return [
            _Seen(h.address, s, *kinds.get((h.address, s.port), (None, None)))
            for h in answer.report.hosts
            for s in h.services
        ]

    def _imaging_kinds(self, report: Report) -> _Imaging:
        """What each door serves, from the findings of rules that read the
        ``imaging.service`` fact (the catalogue says which: no rule id here)."""
        imaging_rules = {
            rule.id
            for rule in self.catalogue.rules.values()
            if rule.match.fact == "imaging.service"
        }
        out: _Imaging = {}
        for f in report.findings:
            if f.rule in imaging_rules:
                kind, proof = f.evidence.get("service"), f.evidence.get("proof")
                out.setdefault(
                    (f.host, f.port),
                    (str(kind) if kind else "service", str(proof) if proof else None),
                )
        return out

    def _path(
        self, seen: _Seen, how: SeenFrom, lan: list[Side], mappings: list[_Mapping]
    ) -> OutsidePath:
        svc = seen.service
        imaging = (seen.imaging, seen.proof) if seen.imaging else None
        outside = _side(_door(seen.address, svc.port), svc, imaging)
        # An IPv6 door is a LAN device's own address (no NAT): the join is
        # made among that device's services only.
        device = self._twins.get(seen.address, seen.address)
        own = [x for x in lan if _host_of(x.where) == device] if ":" in seen.address else []
        found = join(outside, own or lan)
        where, keys = found.lan, list(found.keys)
        # Joined: name the software as the LAN scan knows it (a PACS's web
        # API names what its DICOM port, built on dcmtk, cannot).
        product, version = next(
            ((x.product, x.version) for x in lan if x.where == where and x.product),
            (svc.product, svc.version),
        )
        # The box's UPnP forwards are IPv4 NAT: an IPv6 door has none.
        listed = [] if ":" in seen.address else [m for m in mappings if m.external_port == svc.port]
        if where is None and len(listed) == 1:
            # No fingerprint to compare (a service that says nothing of
            # itself), but the box itself names the forward's inside end.
            where, keys = listed[0].lan, [UPNP_JOIN]
        # Not joined: the LAN services it could be, none told apart.
        alike = [] if where else sorted(found.alike)
        return OutsidePath(
            public=outside.where,
            seen=how,
            protocol=svc.protocol,
            product=product,
            version=version,
            imaging=seen.imaging,
            lan=where,
            joined_by=keys,
            via_upnp=any(m.lan == where for m in listed) if where else bool(listed),
            candidates=alike,
        )

    def _internet_findings(self, report: Report, paths: list[OutsidePath]) -> list[Finding]:
        internet_only = {
            rule.id
            for rule in self.catalogue.rules.values()
            if rule.match.vantage is Vantage.INTERNET
        }
        behind = {p.public: p.lan for p in paths if p.seen is SeenFrom.INTERNET}
        out: list[Finding] = []
        for f in report.findings:
            if f.rule not in internet_only or report.scan.vantage is not Vantage.INTERNET:
                continue
            door = _door(f.host, f.port) if f.port is not None else f.host
            evidence = {**f.evidence, "seen_from": "internet"}
            if behind.get(door):
                evidence["lan_service"] = behind[door]
            out.append(f.model_copy(update={"evidence": evidence}))
        return out


def _ports_tried(answer: ReflectorAnswer | None) -> int:
    if answer is None or answer.report is None:
        return 0
    if answer.ports_tried:
        return answer.ports_tried
    with contextlib.suppress(PortSpecError, ValueError):
        return len(parse_ports(answer.report.scan.ports))
    return 0


def _facts_imaging(host: HostState) -> dict[int | None, tuple[str, str | None]]:
    out: dict[int | None, tuple[str, str | None]] = {}
    for f in host.facts:
        if f.kind == "imaging.service":
            proof = f.data.get("proof")
            out.setdefault(
                f.port, (str(f.data.get("service") or "service"), str(proof) if proof else None)
            )
    return out


def _imaging_facts(scanner: Scanner) -> _Imaging:
    return {
        (h.address, port): value
        for h in scanner.state.hosts.values()
        for port, value in _facts_imaging(h).items()
    }


def _loopback_services(host: HostState) -> list[_Seen]:
    kinds = _facts_imaging(host)
    return [
        _Seen(host.address, host.services[p].to_model(), *kinds.get(p, (None, None)))
        for p in sorted(host.services)
    ]


def _box_addresses(report: Report) -> set[str]:
    """The internet box's own LAN addresses (the host answering UPnP)."""
    return {
        a
        for h in report.hosts
        if any(s.protocol == "upnp" for s in h.services)
        for a in (h.address, *h.ipv6)
    }


def _twins(report: Report) -> dict[str, str]:
    """IPv6 address -> the IPv4 address of the same device (its Host.ipv6
    list, or the same MAC address)."""
    twins = {a: h.address for h in report.hosts if ":" not in h.address for a in h.ipv6}
    by_mac = {h.mac: h.address for h in report.hosts if h.mac and ":" not in h.address}
    for h in report.hosts:
        if ":" in h.address and h.mac in by_mac:
            twins.setdefault(h.address, by_mac[h.mac])
    return twins


def _host_of(where: str) -> str:
    return where.rpartition(":")[0].strip("[]")


def _lan_sides(report: Report, public: PublicAddress, imaging: _Imaging) -> list[Side]:
    skip: set[str | None] = {public.address, public.reflector_source, public.upnp_external_ip}
    # A device seen at its IPv4 and its IPv6 addresses is one device: joined
    # at its IPv4 address (the one a forward leads to), not counted twice.
    skip |= set(_twins(report))
    return [
        _side(_door(h.address, s.port), s, imaging.get((h.address, s.port)))
        for h in report.hosts
        if h.address not in skip
        for s in h.services
    ]
