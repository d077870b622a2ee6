"""What this machine is connected to: the networks a no-target scan covers.

Read from iproute2's JSON output (``ip -j``) rather than scapy's route table:
it costs a subprocess instead of a second of scapy import, and it says which
interfaces are up.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

# A practice LAN is a /24; a /16 on a box would mean 65k probes of fragile
# devices, so larger networks shrink to the /24 around our own address.
MAX_AUTO_PREFIX = 22


@dataclass(frozen=True)
class LocalNetwork:
    interface: str
    address: IPv4Address
    network: IPv4Network  # what will be scanned
    declared: IPv4Network  # what the interface is configured with

    @property
    def shrunk(self) -> bool:
        return self.network != self.declared


@dataclass(frozen=True)
class LocalView:
    networks: list[LocalNetwork]
    gateway: IPv4Address | None
    gateway_interface: str | None


def _ip_json(*args: str) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ip", "-j", *args], check=True, capture_output=True, text=True, timeout=5
    ).stdout
    data = json.loads(out or "[]")
    assert isinstance(data, list)
    return data


def local_view() -> LocalView:
    networks: list[LocalNetwork] = []
    for link in _ip_json("-4", "addr", "show", "up"):
        name = str(link.get("ifname", ""))
        flags = link.get("flags", [])
        if name == "lo" or (isinstance(flags, list) and "LOOPBACK" in flags):
            continue
        infos = link.get("addr_info", [])
        assert isinstance(infos, list)
        for info in infos:
            if info.get("family") != "inet" or info.get("scope") == "host":
                continue
            iface = IPv4Interface(f"{info['local']}/{info['prefixlen']}")
            scanned = iface.network
            if scanned.prefixlen < MAX_AUTO_PREFIX:
                scanned = IPv4Interface(f"{iface.ip}/24").network
            networks.append(LocalNetwork(name, iface.ip, scanned, iface.network))
    gateway: IPv4Address | None = None
    gateway_iface: str | None = None
    for route in _ip_json("-4", "route", "show", "default"):
        via = route.get("gateway")
        if isinstance(via, str):
            gateway = IPv4Address(via)
            gateway_iface = str(route.get("dev", "")) or None
            break
    return LocalView(networks, gateway, gateway_iface)


def onlink_interface(address: IPv4Address, view: LocalView) -> str | None:
    """The interface whose configured network holds ``address``, if any."""
    for net in view.networks:
        if address in net.declared:
            return net.interface
    return None
