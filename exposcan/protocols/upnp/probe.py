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
from ipaddress import IPv4Network

from exposcan.models import ErrorReason, Vantage
from exposcan.net.netio import ProbeError
from exposcan.notes import declare_note
from exposcan.probe import NetworkContext, NetworkProbe
from exposcan.protocols.upnp import ssdp
from exposcan.protocols.upnp.find import BoxFinder, may_search, read_local_view
from exposcan.protocols.upnp.igd import IGD_FACT, MAPPING_FACT, PROBE_NAME, IgdLocations, ipv4
from exposcan.protocols.upnp.join import join_forwards, same_connected_network
from exposcan.protocols.upnp.read import read_igd, record_box

__all__ = ["IGD_FACT", "MAPPING_FACT", "UpnpProbe", "same_connected_network"]

NOTE_HAND_SET = declare_note("note.upnp.hand-set-forwards")
NOTE_NO_IGD = declare_note("note.upnp.no-igd")


class UpnpProbe(NetworkProbe):
    """The jobs in order: find the boxes (:mod:`.find`), read each one
    (:mod:`.read`), join its forwards to the LAN (:mod:`.join`)."""

    name = PROBE_NAME
    phase = 90

    async def run(self, ctx: NetworkContext) -> None:
        # From the internet there is no IGD to ask: the box's LAN side is what
        # answers UPnP, and a box that answers it on its WAN side is found by
        # the internet scan's own port scan.
        if ctx.config.vantage is not Vantage.LAN:
            return
        loop = asyncio.get_running_loop()
        # scan_more runs inside this probe's total deadline: keep a margin so
        # the facts of what was read are recorded before it ends.
        total = ctx.budget
        budget_end = loop.time() + max(total * 0.85, total - 5.0)
        view = await read_local_view()
        connected = [n.declared for n in view.networks] if view else []
        finder = BoxFinder(str(view.gateway) if view is not None and view.gateway else None)
        # The search goes out before discovery, on the networks the targets
        # are in, so that its MX wait overlaps the scan; only the
        # answers on networks where hosts turned out alive are used.
        early: list[IPv4Network] = []
        searching: asyncio.Task[list[tuple[IPv4Network, ssdp.SsdpResponse]]] | None = None
        if view is not None:
            wanted = [ip for a in ctx.addresses if (ip := ipv4(a)) is not None]
            early = [
                net
                for net in connected
                if any(ip in net for ip in wanted) and may_search(ctx, view, net)
            ]
            if early:
                searching = asyncio.create_task(finder.search(ctx, view, early))
        try:
            await ctx.hosts_known.wait()
            scanned = [
                net
                for net in connected
                if any((ip := ipv4(h)) is not None and ip in net for h in ctx.scan.hosts)
            ]
            answers = (
                [a for net, a in await searching if net in scanned] if searching is not None else []
            )
        finally:
            if searching is not None:
                searching.cancel()
        if view is not None:
            late = [net for net in scanned if net not in early and may_search(ctx, view, net)]
            if late:
                answers += [a for _, a in await finder.search(ctx, view, late)]
        locations = IgdLocations.from_catalogue(ctx.catalogue)
        igds = await finder.find(ctx, view, scanned, locations, answers)
        await finder.natpmp(ctx, view, scanned)
        if scanned or igds:
            ctx.scan.note(NOTE_HAND_SET)
        if not igds:
            if scanned and not finder.skipped:
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
                    await read_igd(ctx, igd)
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
            record_box(ctx, igd)
            await join_forwards(ctx, igd, connected, budget_end)
