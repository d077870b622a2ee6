"""The IPv6 path: an imaging service that answers on a global IPv6 address.

French access providers give every device of a practice LAN a global IPv6
address, and some boxes let inbound IPv6 in: the Freebox IPv6 firewall
option exists since 2019 and is off by default (docs/imaging-exposure.md). Such a PACS is on
the internet with no port forward at all, the path UPnP never lists; Rye et
al. (arXiv 2509.04792, 2025) found 14.0 M addresses inside homes answering
from the internet over IPv6.

This network probe joins what the LAN scan learned: the global IPv6
addresses neighbour discovery found (exposcan.net.ndp), the imaging services
the host probes recognised on them, the IPv4 host of the same device (by
MAC), and what the box says of its IPv6 firewall through UPnP (the
``upnp.ipv6-firewall`` fact; a claim, not a proof). One ``ipv6.imaging`` fact
per such service; the catalogue's rules decide. From the internet vantage
there is nothing to join: ``exposure.internet-imaging`` already holds on the
IPv6 address itself.
"""

from __future__ import annotations

from exposcan.models import Vantage
from exposcan.net.ndp import classify
from exposcan.probe import NetworkContext, NetworkProbe
from exposcan.state import Fact, HostState


def _is_global_ipv6(address: str) -> bool:
    return ":" in address and classify(address) == "global"


class Ipv6PathProbe(NetworkProbe):
    name = "ipv6-path"
    # After the box's probe (upnp, 90): it reads the box's IPv6 firewall fact.
    phase = 95

    async def run(self, ctx: NetworkContext) -> None:
        if ctx.config.vantage is not Vantage.LAN:
            return
        await ctx.host_probes.wait()
        hosts = list(ctx.scan.hosts.values())
        firewall = _box_firewall(hosts)
        owners = {address: h for h in hosts if ":" not in h.address for address in h.ipv6}
        for host in hosts:
            if not _is_global_ipv6(host.address):
                continue
            owner = owners.get(host.address)
            for fact in [f for f in host.facts if f.kind == "imaging.service"]:
                service = host.services.get(fact.port) if fact.port is not None else None
                ctx.context_for(host).fact(
                    "ipv6.imaging",
                    fact.port,
                    fact.protocol,
                    service=fact.data.get("service"),
                    product=(service.product if service else None) or fact.data.get("product"),
                    version=(service.version if service else None) or fact.data.get("version"),
                    address_scope="global",
                    ipv4_host=owner.address if owner else None,
                    mac=host.mac,
                    box_firewall=_firewall_word(firewall),
                    box_inbound_pinholes=(
                        firewall.data.get("inbound_pinhole_allowed") if firewall else None
                    ),
                )


def _box_firewall(hosts: list[HostState]) -> Fact | None:
    return next((f for h in hosts for f in h.facts if f.kind == "upnp.ipv6-firewall"), None)


def _firewall_word(fact: Fact | None) -> str:
    """What the box said: "on", "off", or why it is not known."""
    if fact is None:
        return "unknown: no UPnP IGD answered"
    if fact.data.get("state") == "no-service":
        return "unknown: the box's IGD has no IPv6 firewall service"
    enabled = fact.data.get("firewall_enabled")
    if enabled is None:
        return "unknown: the box did not answer GetFirewallStatus"
    return "on (the box's word, not a proof)" if enabled else "off"
