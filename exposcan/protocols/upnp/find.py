"""Finding the internet box from the LAN: SSDP M-SEARCH from each directly
connected network the scan covers; failing that, the default gateway's usual
IGD description addresses (catalogue ``upnp-igd-locations``); and scanned
hosts with an open IGD-specific port (a second router).  NAT-PMP (RFC 6886)
asks the gateway for its public address.  A box outside the named targets
is left alone, with a note."""

from __future__ import annotations

import asyncio
import subprocess
from ipaddress import IPv4Network

from exposcan.models import ErrorReason
from exposcan.net.localview import LocalView, local_view
from exposcan.net.netio import ProbeError
from exposcan.net.portscan import PortState, probe_port
from exposcan.net.targets import url_host
from exposcan.notes import declare_note
from exposcan.probe import NetworkContext
from exposcan.protocols.upnp import natpmp, ssdp
from exposcan.protocols.upnp.client import HttpStatus, IgdClient
from exposcan.protocols.upnp.igd import (
    PROBE_NAME,
    Igd,
    IgdLocations,
    describe,
    ipv4,
    url_port,
)
from exposcan.protocols.upnp.xml import NotAnIgd, UnsafeXml

NOTE_BOX_NOT_NAMED = declare_note("note.upnp.box-not-named")
NOTE_GATEWAY_NOT_NAMED = declare_note("note.upnp.gateway-not-named")


def may_search(ctx: NetworkContext, view: LocalView, net: IPv4Network) -> bool:
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


async def read_local_view() -> LocalView | None:
    try:
        return await asyncio.to_thread(local_view)
    except (OSError, ValueError, subprocess.SubprocessError, AssertionError):
        return None


class BoxFinder:
    """One scan's search for its boxes: which networks were searched, and
    which boxes were left alone (out of scope or excluded)."""

    def __init__(self, gateway: str | None) -> None:
        self.gateway = gateway
        #: Boxes left alone: out of the named targets' scope, or excluded.
        self.skipped: set[str] = set()
        #: Networks an SSDP search went out on.
        self.searched: set[IPv4Network] = set()

    async def find(
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

    async def search(
        self, ctx: NetworkContext, view: LocalView, networks: list[IPv4Network]
    ) -> list[tuple[IPv4Network, ssdp.SsdpResponse]]:
        """SSDP from each of ``networks``; each answer with the network it
        was heard on."""
        sources = [n for n in view.networks if n.declared in networks]
        self.searched.update(n.declared for n in sources)
        answers: list[tuple[IPv4Network, ssdp.SsdpResponse]] = []

        async def one(source: str, net: IPv4Network) -> None:
            try:
                answers.extend((net, a) for a in await ssdp.search(source))
            except OSError as exc:
                ctx.scan.error(
                    source,
                    ssdp.SSDP_PORT,
                    PROBE_NAME,
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
                    PROBE_NAME,
                    ErrorReason.PROTOCOL,
                    "SSDP LOCATION names another host or network: not followed",
                )
                continue
            port = url_port(location)
            try:
                async with IgdClient(answer.responder, ctx.limits, ctx.config.deadlines) as c:
                    description = await c.description(location)
            except (ProbeError, HttpStatus, ValueError) as exc:
                reason, detail = describe(exc)
                ctx.scan.error(
                    answer.responder, port, PROBE_NAME, reason, f"IGD description: {detail}"
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
                            PROBE_NAME,
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
                                PROBE_NAME,
                                exc.reason,
                                f"IGD description: {exc.detail}",
                            )
                        break
                    return Igd(address, port, location, description, found_by)
        return None

    async def natpmp(
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
        first = address not in self.skipped
        self.skipped.add(address)
        if address in ctx.config.excluded or not first:
            return
        ip = ipv4(address)
        if address == self.gateway and not any(ip in net for net in self.searched):
            ctx.scan.note(NOTE_GATEWAY_NOT_NAMED, address=address)
        else:
            ctx.scan.note(NOTE_BOX_NOT_NAMED, address=address)
