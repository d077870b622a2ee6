"""NAT loopback: the practice's public address, tried from inside.

Many boxes loop their public address back to LAN clients ("NAT loopback",
hairpinning, RFC 4787 §6): connecting to it from inside reaches what the box
forwards. That is an indication of what the internet reaches, not proof (a
box may loop back ports it does not open on its WAN side, or the reverse):
what answers is labelled "seen through the box's NAT loopback", the
reflector's results "seen from the internet".

The sweep is a small scan of its own (the same engine, port scan and
service probes, no discovery) on the ports that matter: the catalogue's
imaging ports, every public port a UPnP forward names, every port the
reflector found open.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from ipaddress import IPv4Address

from exposcan.catalogue import Catalogue
from exposcan.config import ScanConfig
from exposcan.models import Vantage
from exposcan.net.portspec import format_ports
from exposcan.service import ScanRequest, run_scan
from exposcan.state import HostState


def loopback_ports(catalogue: Catalogue, *named: Iterable[int]) -> list[int]:
    ports = set(catalogue.default_ports())
    for group in named:
        ports.update(p for p in group if 0 < p < 65536)
    return sorted(ports)


async def sweep(
    public: str, ports: list[int], config: ScanConfig, catalogue: Catalogue
) -> HostState | None:
    """Scan ``public`` on ``ports`` from here; None when it is out of scope:
    excluded, or a scan of named targets that did not name it nor ask to
    follow the box (--follow-box), as for the box's own forwards."""
    if not config.in_scope(public) or not ports:
        return None
    sub = dataclasses.replace(
        config,
        ports=ports,
        ports_spec=format_ports(ports),
        # The public address answers no ARP from here: as from the internet,
        # every port is tried (nmap -Pn).
        vantage=Vantage.INTERNET,
        discovery=False,
    )
    request = ScanRequest(sub, catalogue, [IPv4Address(public)], network_probes=False)
    outcome = await run_scan(request)
    return outcome.scanner.state.hosts.get(public)
