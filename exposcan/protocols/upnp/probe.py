"""The internet box's UPnP IGD: its forwards, joined to what the LAN scan found.

CNIL SAN-2020-014/-015: the images were reachable because the practice's box
forwarded internet ports to the imaging server.  An IGD lists the forwards
programs asked it for (GetGenericPortMappingEntry) and tells its public
address (GetExternalIPAddress).  Each forward is joined to the internal
host:port it leads to; a forward to a service with an ``imaging.service``
fact is ``upnp.mapping-imaging``.  Forwards set by hand in the box's pages
never show in the IGD: the report says so, and gives the command for the
only proof, a scan from outside.

Finding the box (LAN vantage only): SSDP M-SEARCH from each directly connected
network that the scan covers; failing that, the default gateway's usual IGD
description addresses (catalogue ``upnp-igd-locations``); and scanned hosts
with an open IGD-specific port (a second router).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from exposcan.catalogue import Catalogue
from exposcan.models import ErrorReason, Vantage
from exposcan.net.localview import LocalView, local_view
from exposcan.net.netio import ProbeError
from exposcan.net.portscan import PortState, probe_port
from exposcan.net.targets import url_host
from exposcan.notes import declare_note
from exposcan.probe import NetworkContext, NetworkProbe
from exposcan.protocols.upnp import natpmp, ssdp
from exposcan.protocols.upnp.catalogue import IgdLocationsFile
from exposcan.protocols.upnp.client import MAX_MAPPINGS, HttpStatus, IgdClient
from exposcan.protocols.upnp.xml import (
    FirewallStatus,
    IgdDescription,
    NotAnIgd,
    PortMapping,
    UnsafeXml,
    UpnpFault,
)
from exposcan.state import Fact, HostState, ServiceState

log = logging.getLogger("exposcan.upnp")

LOOPBACK = IPv4Network("127.0.0.0/8")
# RFC 1918 and RFC 6598 (carrier-grade NAT): a box whose WAN address is one of
# these is not what the internet sees.  (Not ipaddress.is_private: it calls
# the lab's TEST-NET ranges private too.)
_NOT_PUBLIC = tuple(
    IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)

#: The facts this probe records (what the outside view reads: the box's
#: public address and its forwards).
IGD_FACT = "upnp.igd"
MAPPING_FACT = "upnp.mapping"

HAND_SET_CAVEAT = (
    "UPnP lists only the forwards that programs asked the box for: forwards and DMZ "
    "set by hand in the box's own pages do not appear in it. Only a scan from outside "
    "the practice proves what the internet reaches."
)
NOTE_HAND_SET = declare_note(
    "note.upnp.hand-set-forwards",
    en=HAND_SET_CAVEAT,
    fr="UPnP ne liste que les redirections que des programmes ont demandées à la box : les "
    "redirections et la DMZ réglées à la main dans les pages de la box n'y apparaissent pas. "
    "Seule une analyse depuis l'extérieur du cabinet prouve ce qu'internet atteint.",
)
NOTE_NO_IGD = declare_note(
    "note.upnp.no-igd",
    en="No UPnP IGD answered on {nets} (SSDP, nor the gateway's usual description "
    "addresses): the box's forwards could not be listed. To see what the internet reaches: "
    "exposcan scan --outside <a reflector's URL>, or from a machine outside the practice: "
    "exposcan scan --vantage internet <the practice's public address>",
    fr="Aucun UPnP IGD n'a répondu sur {nets} (ni en SSDP, ni aux adresses de description "
    "habituelles de la passerelle) : les redirections de la box n'ont pas pu être listées. "
    "Pour voir ce qu'internet atteint : exposcan scan --outside <l'URL d'un réflecteur>, ou "
    "depuis une machine hors du cabinet : exposcan scan --vantage internet <l'adresse "
    "publique du cabinet>",
)
NOTE_BOX_NOT_NAMED = declare_note(
    "note.upnp.box-not-named",
    en="{address} answers as a UPnP internet box but is not among the named targets: its "
    "forwards were not read (name it, or use --follow-box).",
    fr="{address} répond comme une box internet UPnP mais ne fait pas partie des cibles "
    "nommées : ses redirections n'ont pas été lues (la nommer, ou utiliser --follow-box).",
)
NOTE_GATEWAY_NOT_NAMED = declare_note(
    "note.upnp.gateway-not-named",
    en="{address}, the default gateway (most often the internet box), is not among the named "
    "targets: it was not asked for its forwards, and no SSDP search went out (name it, or use "
    "--follow-box).",
    fr="{address}, la passerelle par défaut (le plus souvent la box internet), ne fait pas "
    "partie des cibles nommées : ses redirections ne lui ont pas été demandées, et aucune "
    "recherche SSDP n'est partie (la nommer, ou utiliser --follow-box).",
)
NOTE_MANY_MAPPINGS = declare_note(
    "note.upnp.many-mappings",
    en="The IGD of {address} lists {count} forwards or more: only the first {count} were read.",
    fr="L'IGD de {address} liste {count} redirections ou plus : seules les {count} premières "
    "ont été lues.",
)
NOTE_IPV6_FIREWALL = declare_note(
    "note.upnp.ipv6-firewall",
    en="The internet box {address} says through UPnP (WANIPv6FirewallControl) that its IPv6 "
    "firewall is {firewall} and that programs {pinholes} open inbound pinholes in it. The "
    "pinholes themselves cannot be listed through UPnP, and only a scan from outside proves "
    "what the internet reaches over IPv6.",
    fr="La box internet {address} dit par UPnP (WANIPv6FirewallControl) que son pare-feu IPv6 "
    "est {firewall} et que des programmes {pinholes} y ouvrir des accès entrants. Ces accès "
    "ne peuvent pas être listés par UPnP, et seule une analyse depuis l'extérieur prouve ce "
    "qu'internet atteint en IPv6.",
    values={
        "en": {
            "on": "on",
            "off": "off",
            "unknown": "in a state it did not say",
            "yes": "may",
            "no": "may not",
            "maybe": "may or may not",
        },
        "fr": {
            "on": "activé",
            "off": "désactivé",
            "unknown": "dans un état qu'elle n'a pas dit",
            "yes": "peuvent",
            "no": "ne peuvent pas",
            "maybe": "peuvent peut-être",
        },
    },
)
NOTE_IPV6_FIREWALL_UNREADABLE = declare_note(
    "note.upnp.ipv6-firewall-unreadable",
    en="The internet box {address} has a UPnP IPv6 firewall service but did not answer "
    "GetFirewallStatus ({error}): whether it filters inbound IPv6 is not known from here.",
    fr="La box internet {address} a un service UPnP de pare-feu IPv6 mais n'a pas répondu à "
    "GetFirewallStatus ({error}) : on ne sait pas d'ici si elle filtre l'IPv6 entrant.",
)
NOTE_PUBLIC_ADDRESS = declare_note(
    "note.upnp.public-address",
    en="The internet box {address} gives its public address as {ip}. To see what the internet "
    "reaches, run from a machine outside the practice: exposcan scan --vantage internet {ip}",
    fr="La box internet {address} donne comme adresse publique {ip}. Pour voir ce qu'internet "
    "atteint, lancer depuis une machine hors du cabinet : exposcan scan --vantage internet "
    "{ip}",
)
NOTE_PRIVATE_WAN = declare_note(
    "note.upnp.private-wan",
    en="The box's WAN address {ip} is itself private (carrier-grade NAT or a second router): "
    "the internet view must target the public address of the router in front of it.",
    fr="L'adresse WAN de la box {ip} est elle-même privée (CGNAT ou second routeur) : la vue "
    "internet doit viser l'adresse publique du routeur placé devant.",
)
NOTE_NO_PUBLIC_ADDRESS = declare_note(
    "note.upnp.no-public-address",
    en="The internet box {address} did not disclose its public address through UPnP "
    "(GetExternalIPAddress returned nothing). To see what the internet reaches, run from a "
    "machine outside the practice: exposcan scan --vantage internet <the box's public "
    "address>",
    fr="La box internet {address} n'a pas donné son adresse publique par UPnP "
    "(GetExternalIPAddress n'a rien renvoyé). Pour voir ce qu'internet atteint, lancer depuis "
    "une machine hors du cabinet : exposcan scan --vantage internet <l'adresse publique de la "
    "box>",
)


@dataclass(frozen=True)
class IgdLocations:
    """Catalogue ``upnp-igd-locations``: where a box's description usually is."""

    ports: tuple[int, ...]
    igd_specific_ports: tuple[int, ...]
    paths: tuple[str, ...]

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue) -> IgdLocations:
        ports: list[int] = []
        specific: list[int] = []
        paths: list[str] = []
        for entry in catalogue.documents(IgdLocationsFile):
            for item in entry.ports:
                ports.append(item.port)
                if item.igd_specific:
                    specific.append(item.port)
            paths += entry.paths
        return cls(
            tuple(dict.fromkeys(ports)), tuple(dict.fromkeys(specific)), tuple(dict.fromkeys(paths))
        )


@dataclass
class Igd:
    address: str
    port: int
    location: str
    description: IgdDescription
    found_by: str  # ssdp, gateway, scan
    server: str = ""
    external_ip: str | None = None
    mappings: list[PortMapping] = field(default_factory=list)
    ipv6_firewall: FirewallStatus | None = None
    ipv6_firewall_error: str | None = None
    #: The forwards were listed to their end (error 713) or to the cap: a
    #: listing that failed or was cut says "unknown", never "0 forwards".
    listed: bool = False


def _ipv4(text: str) -> IPv4Address | None:
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def same_connected_network(a: str, b: str, networks: list[IPv4Network]) -> bool:
    """Both addresses in one directly connected network (loopback counts when
    the box itself is on loopback: a test IGD on this machine)."""
    ia, ib = _ipv4(a), _ipv4(b)
    if ia is None or ib is None:
        return False
    return any(ia in net and ib in net for net in [*networks, LOOPBACK])


def _may_search(ctx: NetworkContext, view: LocalView, net: IPv4Network) -> bool:
    """Whether an SSDP search goes out on ``net``.  Every device there answers
    a multicast M-SEARCH: with named targets (and no --follow-box) it is sent
    only where the network's gateway, the box, is in scope.  Otherwise all it
    could bring is an answer from outside the scope, and the box's address is
    in the routing table already (a note says so without a packet).  On one
    named PACS this was the scan's last 1.3 s (the MX wait)."""
    if ctx.config.scope is None or ctx.config.follow_box:
        return True
    gateway = view.gateway
    return gateway is not None and gateway in net and ctx.config.in_scope(str(gateway))


async def _local_view() -> LocalView | None:
    try:
        return await asyncio.to_thread(local_view)
    except (OSError, ValueError, subprocess.SubprocessError, AssertionError):
        return None


class UpnpProbe(NetworkProbe):
    name = "upnp"
    phase = 90

    async def run(self, ctx: NetworkContext) -> None:
        # From the internet there is no IGD to ask: the box's LAN side is what
        # answers UPnP, and a box that answers it on its WAN side is found by
        # the internet scan's own port scan.
        if ctx.config.vantage is not Vantage.LAN:
            return
        #: Boxes left alone: out of the named targets' scope, or excluded.
        self._skipped: set[str] = set()
        loop = asyncio.get_running_loop()
        # scan_more runs inside this probe's total deadline: keep a margin so
        # the facts of what was read are recorded before it ends.
        total = ctx.budget
        budget_end = loop.time() + max(total * 0.85, total - 5.0)
        view = await _local_view()
        connected = [n.declared for n in view.networks] if view else []
        self._gateway = str(view.gateway) if view is not None and view.gateway else None
        #: Networks an SSDP search went out on.
        self._searched: set[IPv4Network] = set()
        # The search goes out before discovery, on the networks the targets
        # are in, so that its MX wait overlaps the scan; only the
        # answers on networks where hosts turned out alive are used.
        early: list[IPv4Network] = []
        searching: asyncio.Task[list[tuple[IPv4Network, ssdp.SsdpResponse]]] | None = None
        if view is not None:
            wanted = [ip for a in ctx.addresses if (ip := _ipv4(a)) is not None]
            early = [
                net
                for net in connected
                if any(ip in net for ip in wanted) and _may_search(ctx, view, net)
            ]
            if early:
                searching = asyncio.create_task(self._search(ctx, view, early))
        try:
            await ctx.hosts_known.wait()
            scanned = [
                net
                for net in connected
                if any((ip := _ipv4(h)) is not None and ip in net for h in ctx.scan.hosts)
            ]
            answers = (
                [a for net, a in await searching if net in scanned] if searching is not None else []
            )
        finally:
            if searching is not None:
                searching.cancel()
        if view is not None:
            late = [net for net in scanned if net not in early and _may_search(ctx, view, net)]
            if late:
                answers += [a for _, a in await self._search(ctx, view, late)]
        locations = IgdLocations.from_catalogue(ctx.catalogue)
        igds = await self._find(ctx, view, scanned, locations, answers)
        await self._natpmp(ctx, view, scanned)
        if scanned or igds:
            ctx.scan.note(NOTE_HAND_SET)
        if not igds:
            if scanned and not self._skipped:
                nets = ", ".join(str(n) for n in scanned)
                ctx.scan.note(NOTE_NO_IGD, nets=nets)
            return
        # What follows reads the hosts' facts (a forward's internal service):
        # their probes must be done; the reading's budget starts then.
        await ctx.host_probes.wait()
        budget_end = max(budget_end, loop.time() + max(total * 0.85, total - 5.0))
        for igd in igds:
            try:
                # A box that answers slowly must not eat the whole deadline:
                # what was read by then is still recorded and joined.
                async with asyncio.timeout_at(budget_end):
                    await self._read(ctx, igd)
            except ProbeError as exc:
                igd.listed = False
                ctx.scan.error(igd.address, igd.port, self.name, exc.reason, exc.detail)
            except TimeoutError:
                igd.listed = False
                ctx.scan.error(
                    igd.address,
                    igd.port,
                    self.name,
                    ErrorReason.TIMEOUT,
                    f"IGD listing cut at the deadline after {len(igd.mappings)} forwards",
                )
            self._record_box(ctx, igd)
            await self._join(ctx, igd, connected, budget_end)

    # -- finding the box ----------------------------------------------------

    async def _find(
        self,
        ctx: NetworkContext,
        view: LocalView | None,
        scanned: list[IPv4Network],
        locations: IgdLocations,
        answers: list[ssdp.SsdpResponse],
    ) -> list[Igd]:
        found: dict[str, Igd] = {}
        if view is not None and scanned:
            for igd in await self._ssdp(ctx, view, answers):
                found.setdefault(igd.address, igd)
            gateway = str(view.gateway) if view.gateway else None
            if (
                not found
                and gateway
                and view.gateway is not None
                and any(view.gateway in n for n in scanned)
            ):
                guessed = await self._guess(
                    ctx, gateway, locations.ports, locations.paths, "gateway"
                )
                if guessed:
                    found[guessed.address] = guessed
        # Scanned hosts with an IGD-specific port open: a second router, or
        # a box that is not the default gateway.
        for address, host in list(ctx.scan.hosts.items()):
            if address in found:
                continue
            # The IPv6 address of a box already found (same device, by MAC).
            if any(address in ctx.scan.hosts[a].ipv6 for a in found if a in ctx.scan.hosts):
                continue
            ports = tuple(p for p in locations.igd_specific_ports if p in host.services)
            if ports:
                guessed = await self._guess(
                    ctx, address, ports, locations.paths, "scan", known_open=True
                )
                if guessed:
                    found[guessed.address] = guessed
        return list(found.values())

    async def _search(
        self, ctx: NetworkContext, view: LocalView, networks: list[IPv4Network]
    ) -> list[tuple[IPv4Network, ssdp.SsdpResponse]]:
        """SSDP from each of ``networks``; each answer with the network it
        was heard on."""
        sources = [n for n in view.networks if n.declared in networks]
        self._searched.update(n.declared for n in sources)
        answers: list[tuple[IPv4Network, ssdp.SsdpResponse]] = []

        async def one(source: str, net: IPv4Network) -> None:
            try:
                answers.extend((net, a) for a in await ssdp.search(source))
            except OSError as exc:
                ctx.scan.error(
                    source,
                    ssdp.SSDP_PORT,
                    self.name,
                    ErrorReason.UNREACHABLE,
                    f"SSDP search: {type(exc).__name__}",
                )

        async with asyncio.TaskGroup() as group:
            for n in sources:
                group.create_task(one(str(n.address), n.declared))
        return answers

    async def _ssdp(
        self, ctx: NetworkContext, view: LocalView, answers: list[ssdp.SsdpResponse]
    ) -> list[Igd]:
        connected = [n.declared for n in view.networks]
        igds: list[Igd] = []
        tried: set[str] = set()
        for answer in answers:
            if not ssdp.is_igd_answer(answer) or answer.location in tried:
                continue
            tried.add(answer.location)
            if any(i.address == answer.responder for i in igds):
                continue
            if not ctx.config.in_scope(answer.responder):
                # --exclude holds for the box too; so does a named scope.
                self._out_of_scope(ctx, answer.responder)
                continue
            location = ssdp.trusted_location(answer.location, answer.responder, connected)
            if location is None:
                # Never fetch what an SSDP answer names elsewhere: anyone on the
                # LAN can answer, and could aim the scanner at any host.
                ctx.scan.error(
                    answer.responder,
                    ssdp.SSDP_PORT,
                    self.name,
                    ErrorReason.PROTOCOL,
                    "SSDP LOCATION names another host or network: not followed",
                )
                continue
            port = _url_port(location)
            try:
                async with IgdClient(answer.responder, ctx.limits, ctx.config.deadlines) as c:
                    description = await c.description(location)
            except (ProbeError, HttpStatus, ValueError) as exc:
                reason, detail = _describe(exc)
                ctx.scan.error(
                    answer.responder, port, self.name, reason, f"IGD description: {detail}"
                )
                continue
            igds.append(
                Igd(answer.responder, port, location, description, "ssdp", server=answer.server)
            )
        return igds

    async def _guess(
        self,
        ctx: NetworkContext,
        address: str,
        ports: tuple[int, ...],
        paths: tuple[str, ...],
        found_by: str,
        known_open: bool = False,
    ) -> Igd | None:
        """Try the usual description paths; a 404 or a non-IGD page is silent,
        a hostile answer (huge body, DTD) is an error record and ends that port."""
        if not ctx.config.in_scope(address):
            self._out_of_scope(ctx, address)
            return None
        async with IgdClient(address, ctx.limits, ctx.config.deadlines) as client:
            host = ctx.scan.hosts.get(address)
            for port in ports:
                if not known_open and not (host and port in host.services):
                    if host is not None and port in ctx.config.ports:
                        continue  # the port scan found it closed
                    state = await probe_port(address, port, ctx.config.scan_timeout)
                    if state is not PortState.OPEN:
                        continue
                for path in paths:
                    location = f"http://{url_host(address)}:{port}{path}"
                    try:
                        description = await client.description(location)
                    except (HttpStatus, NotAnIgd):
                        continue
                    except UnsafeXml as exc:
                        ctx.scan.error(
                            address,
                            port,
                            self.name,
                            ErrorReason.PROTOCOL,
                            f"IGD description refused: {exc} (DTD/entities)",
                        )
                        break
                    except ValueError:
                        continue  # not XML: some other web server
                    except ProbeError as exc:
                        if exc.reason in (ErrorReason.TOO_LARGE, ErrorReason.TIMEOUT):
                            ctx.scan.error(
                                address,
                                port,
                                self.name,
                                exc.reason,
                                f"IGD description: {exc.detail}",
                            )
                        break
                    return Igd(address, port, location, description, found_by)
        return None

    async def _natpmp(
        self, ctx: NetworkContext, view: LocalView | None, scanned: list[IPv4Network]
    ) -> None:
        """NAT-PMP on the default gateway (RFC 6886 §3: a client asks its
        gateway): the public-address request only."""
        gateway = view.gateway if view is not None else None
        if gateway is None or not any(gateway in n for n in scanned):
            return
        if not ctx.config.in_scope(str(gateway)):
            return
        try:
            answer = await natpmp.public_address(str(gateway), min(2.0, ctx.config.deadlines.read))
        except OSError:
            return
        if answer is None:
            return
        box = ctx.scan.host(str(gateway))
        ctx.context_for(box).fact(
            "upnp.natpmp",
            natpmp.NATPMP_PORT,
            "natpmp",
            transport="UDP",
            version=answer.version,
            result=answer.result,
            external_ip=answer.external_ip,
        )

    def _out_of_scope(self, ctx: NetworkContext, address: str) -> None:
        first = address not in self._skipped
        self._skipped.add(address)
        if address in ctx.config.excluded or not first:
            return
        ip = _ipv4(address)
        if address == self._gateway and not any(ip in net for net in self._searched):
            ctx.scan.note(NOTE_GATEWAY_NOT_NAMED, address=address)
        else:
            ctx.scan.note(NOTE_BOX_NOT_NAMED, address=address)

    # -- reading it ---------------------------------------------------------

    async def _read(self, ctx: NetworkContext, igd: Igd) -> None:
        seen: set[tuple[str, int, str, int]] = set()
        listed = True
        async with IgdClient(igd.address, ctx.limits, ctx.config.deadlines) as client:
            for service in igd.description.services:
                if igd.external_ip is None:
                    try:
                        igd.external_ip = await client.external_ip(service)
                    except (UpnpFault, HttpStatus, ValueError) as exc:
                        log.debug("GetExternalIPAddress on %s: %s", igd.address, type(exc).__name__)
                count = 0
                try:
                    async for mapping in client.mappings(service, MAX_MAPPINGS):
                        count += 1
                        key = (
                            mapping.protocol,
                            mapping.external_port,
                            mapping.internal_client,
                            mapping.internal_port,
                        )
                        if key not in seen:
                            seen.add(key)
                            igd.mappings.append(mapping)
                except ProbeError as exc:
                    listed = False
                    ctx.scan.error(
                        igd.address, igd.port, self.name, exc.reason, f"port mappings: {exc.detail}"
                    )
                except (HttpStatus, ValueError) as exc:
                    listed = False
                    reason, detail = _describe(exc)
                    ctx.scan.error(
                        igd.address, igd.port, self.name, reason, f"port mappings: {detail}"
                    )
                if count + client.bad_entries >= MAX_MAPPINGS:
                    ctx.scan.note(NOTE_MANY_MAPPINGS, address=igd.address, count=MAX_MAPPINGS)
            igd.listed = listed
            await self._read_ipv6_firewall(client, igd)
            if client.bad_entries:
                ctx.scan.error(
                    igd.address,
                    igd.port,
                    self.name,
                    ErrorReason.PROTOCOL,
                    f"{client.bad_entries} port mapping entries unreadable",
                )

    async def _read_ipv6_firewall(self, client: IgdClient, igd: Igd) -> None:
        """GetFirewallStatus, where the box has WANIPv6FirewallControl (IGD:2)."""
        service = igd.description.ipv6_firewall
        if service is None:
            return
        try:
            igd.ipv6_firewall = await client.firewall_status(service)
        except (UpnpFault, HttpStatus, ValueError, ProbeError) as exc:
            igd.ipv6_firewall_error = (
                _describe(exc)[1] if not isinstance(exc, UpnpFault) else (f"UPnPError {exc.code}")
            )

    def _record_ipv6_firewall(self, ctx: NetworkContext, box: HostState, igd: Igd) -> None:
        """The box's own word on inbound IPv6 (a fact the IPv6 path reads).
        What it cannot say: WANIPv6FirewallControl:1 has no action listing
        the pinholes (only per-UniqueID queries), and a box's word is not a
        proof: only a scan from outside is."""
        status = igd.ipv6_firewall
        if igd.description.ipv6_firewall is None:
            state = "no-service"
        elif status is None:
            state = "unreadable"
        else:
            state = "read"
        ctx.context_for(box).fact(
            "upnp.ipv6-firewall",
            igd.port,
            "upnp",
            state=state,
            firewall_enabled=status.enabled if status else None,
            inbound_pinhole_allowed=status.inbound_pinhole_allowed if status else None,
            error=igd.ipv6_firewall_error,
        )
        if status is not None:
            ctx.scan.note(
                NOTE_IPV6_FIREWALL,
                address=igd.address,
                firewall=_on_off(status.enabled),
                pinholes=_may(status.inbound_pinhole_allowed),
            )
        elif state == "unreadable":
            ctx.scan.note(
                NOTE_IPV6_FIREWALL_UNREADABLE, address=igd.address, error=igd.ipv6_firewall_error
            )

    def _record_box(self, ctx: NetworkContext, igd: Igd) -> None:
        box = ctx.scan.host(igd.address)
        if box.discovered_by == "assumed" and not box.services:
            box.discovered_by = "upnp"
        self._record_ipv6_firewall(ctx, box, igd)
        service = box.services.get(igd.port)
        if service is None:
            service = box.services[igd.port] = ServiceState(port=igd.port, protocol="upnp")
        desc = igd.description
        service.protocol, service.confirmed = "upnp", True
        service.product = desc.product or service.product
        service.version = desc.model_number or service.version
        details: dict[str, Any] = {
            "igd_device_type": desc.device_type,
            "friendly_name": desc.friendly_name,
            "manufacturer": desc.manufacturer,
            "model_name": desc.model_name,
            "external_ip": igd.external_ip,
            "port_mappings": len(igd.mappings) if igd.listed else None,
            "found_by": igd.found_by,
        }
        if igd.server:
            details["ssdp_server"] = igd.server
        service.details.update({k: v for k, v in details.items() if v not in ("", None)})
        ctx.context_for(box).fact(
            IGD_FACT,
            igd.port,
            "upnp",
            product=desc.product,
            model_number=desc.model_number or None,
            friendly_name=desc.friendly_name or None,
            igd_version=desc.igd_version or None,
            external_ip=igd.external_ip,
            # None: the listing failed or was cut (an error says which),
            # not "no forward".
            mappings=len(igd.mappings) if igd.listed else None,
            found_by=igd.found_by,
        )
        if igd.external_ip:
            ctx.scan.note(NOTE_PUBLIC_ADDRESS, address=igd.address, ip=igd.external_ip)
            ip = IPv4Address(igd.external_ip)
            if any(ip in net for net in _NOT_PUBLIC):
                ctx.scan.note(NOTE_PRIVATE_WAN, ip=igd.external_ip)
        else:
            ctx.scan.note(NOTE_NO_PUBLIC_ADDRESS, address=igd.address)

    # -- the join -------------------------------------------------------------

    async def _join(
        self, ctx: NetworkContext, igd: Igd, connected: list[IPv4Network], budget_end: float
    ) -> None:
        """Each forward against the internal host:port; internal targets the LAN
        scan did not cover are scanned now (engine port scan + probes)."""
        todo: dict[str, list[int]] = {}
        for m in igd.mappings:
            if m.protocol != "TCP" or not same_connected_network(
                igd.address, m.internal_client, connected
            ):
                continue
            host = ctx.scan.hosts.get(m.internal_client)
            covered = host is not None and (
                m.internal_port in host.services or m.internal_port in ctx.config.ports
            )
            if not covered:
                todo.setdefault(m.internal_client, []).append(m.internal_port)
        scanned_now: set[tuple[str, int]] = set()

        async def follow(address: str, ports: list[int]) -> None:
            try:
                async with asyncio.timeout_at(budget_end):
                    await ctx.scan_more(address, sorted(set(ports)))
                scanned_now.update((address, p) for p in ports)
            except TimeoutError:
                ctx.scan.error(
                    address,
                    None,
                    self.name,
                    ErrorReason.TIMEOUT,
                    "no time left to scan a forward's internal target",
                )

        # In parallel, under the scan's own limits (global, per host, rate):
        # one slow internal host must not hold up the others.
        async with asyncio.TaskGroup() as group:
            for address, ports in todo.items():
                group.create_task(follow(address, ports))
        box_ctx = ctx.context_for(ctx.scan.host(igd.address))
        for m in igd.mappings:
            internal = ctx.scan.hosts.get(m.internal_client) if m.protocol == "TCP" else None
            service = internal.services.get(m.internal_port) if internal else None
            imaging = _imaging_fact(internal, m.internal_port) if service else None
            health = (
                _service_fact(internal, m.internal_port, "health-data.service") if service else None
            )
            if internal is None:
                state = "not scanned"
            elif service is not None:
                state = "open"
            elif (m.internal_client, m.internal_port) in scanned_now or (
                m.internal_port in ctx.config.ports
            ):
                state = "not open"
            else:
                state = "not scanned"
            box_ctx.fact(
                MAPPING_FACT,
                m.external_port,
                "upnp",
                external_port=m.external_port,
                transport=m.protocol,
                internal_host=m.internal_client,
                internal_port=m.internal_port,
                description=m.description or None,
                enabled=m.enabled,
                remote_host=m.remote_host or "any",
                lease_duration=m.lease_duration,
                internal_state=state,
                internal_service=service.protocol if service else None,
                internal_product=service.product if service else None,
                imaging=imaging is not None,
                imaging_service=str(imaging.data.get("service")) if imaging else None,
                health_data=health is not None,
                health_data_service=str(health.data.get("service")) if health else None,
                external_ip=igd.external_ip,
            )


def _on_off(flag: bool | None) -> str:
    """A code the note words per language (NOTE_IPV6_FIREWALL's values)."""
    return "unknown" if flag is None else "on" if flag else "off"


def _may(flag: bool | None) -> str:
    return "maybe" if flag is None else "yes" if flag else "no"


def _imaging_fact(host: HostState | None, port: int) -> Fact | None:
    return _service_fact(host, port, "imaging.service")


def _service_fact(host: HostState | None, port: int, kind: str) -> Fact | None:
    if host is None:
        return None
    return next((f for f in host.facts if f.kind == kind and f.port == port), None)


def _url_port(url: str) -> int:
    from urllib.parse import urlsplit

    with contextlib.suppress(ValueError):
        port = urlsplit(url).port
        if port:
            return port
    return 80


def _describe(exc: BaseException) -> tuple[ErrorReason, str]:
    if isinstance(exc, ProbeError):
        return exc.reason, exc.detail
    if isinstance(exc, UnsafeXml):
        return ErrorReason.PROTOCOL, f"refused XML with a DTD or entities ({exc})"
    if isinstance(exc, HttpStatus):
        return ErrorReason.PROTOCOL, str(exc)
    return ErrorReason.PROTOCOL, type(exc).__name__
