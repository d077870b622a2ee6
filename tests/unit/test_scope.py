"""Scope of a no-target scan: the directly connected networks, nothing else.

``exposcan scan`` without a target reads ``ip -j addr show up`` and the
default route; a fake ``ip`` gives it a machine with many kinds of
interfaces and routes. Whatever it decides to scan must lie inside a
network configured on one of its own interfaces (or be the on-link default
gateway): never a routed network, never a down interface, never loopback.
"""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from rich.console import Console

from exposcan.cli import _auto_targets
from exposcan.net import localview as netinfo
from exposcan.net.targets import build_targets


def _link(name: str, *addrs: tuple[str, int, str], flags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "ifname": name,
        "flags": list(flags),
        "addr_info": [
            {"family": "inet", "local": a, "prefixlen": p, "scope": s} for a, p, s in addrs
        ],
    }


ADDRS = [
    _link("lo", ("127.0.0.1", 8, "host"), flags=("LOOPBACK", "UP")),
    # The practice LAN, with a secondary address in a second /24
    _link("eth0", ("198.18.0.100", 24, "global"), ("198.18.7.5", 24, "global")),
    # A container bridge declared /16: shrunk to the /24 around us
    _link("docker0", ("172.17.0.1", 16, "global")),
    # A VPN point-to-point /32 and a link-local address
    _link("tun0", ("10.8.0.6", 32, "global")),
    _link("eth1", ("169.254.10.20", 16, "link")),
    # An address with host scope on a real interface: not a network
    _link("eth2", ("192.0.2.9", 24, "host")),
]
ROUTES = [{"dst": "default", "gateway": "198.18.0.1", "dev": "eth0"}]
#: Networks reached through a router, which a no-target scan must not touch.
ROUTED = [IPv4Network("10.0.0.0/8"), IPv4Network("203.0.113.0/24")]


def test_a_no_target_scan_stays_on_connected_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netinfo, "_ip_json", lambda *args: ADDRS if "addr" in args else ROUTES)
    # Given this machine's view of its networks
    view = netinfo.local_view()
    # When exposcan decides what a no-target scan covers
    specs = _auto_targets(view, Console(file=None, quiet=True), quiet=True)
    targets = asyncio.run(build_targets(specs, []))
    # Then each address is on a network of one of its own interfaces (at
    # most the /24 around it when the interface declares more than a /22)
    connected = [n.declared for n in view.networks]
    for address in targets.addresses:
        assert any(address in net for net in connected), address
    assert {str(n.network) for n in view.networks} == {
        "198.18.0.0/24",
        "198.18.7.0/24",
        "172.17.0.0/24",
        "10.8.0.6/32",
        "169.254.10.0/24",
    }
    # and nothing of loopback, of a host-scope address, or of a routed network
    assert not [a for a in targets.addresses if a.is_loopback]
    assert IPv4Network("192.0.2.0/24") not in [n.network for n in view.networks]
    assert not [
        a
        for a in targets.addresses
        if any(a in net for net in ROUTED) and a != IPv4Address("10.8.0.6")
    ]
    # and the gateway is the on-link box, inside the LAN
    assert view.gateway == IPv4Address("198.18.0.1") and view.gateway in targets.addresses
