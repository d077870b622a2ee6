from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest

from exposcan.net import localview as netinfo


def _fake_ip(addrs: list[dict[str, Any]], routes: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    def fake(*args: str) -> list[dict[str, object]]:
        return addrs if "addr" in args else routes

    return fake


def _link(name: str, local: str, prefix: int, flags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "ifname": name,
        "flags": list(flags),
        "addr_info": [{"family": "inet", "local": local, "prefixlen": prefix, "scope": "global"}],
    }


def test_connected_networks_gateway_and_the_22_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a loopback, a practice /24, a /22 and a huge /16
    addrs = [
        _link("lo", "127.0.0.1", 8, ("LOOPBACK",)),
        _link("eth0", "198.18.0.100", 24),
        _link("eth1", "198.18.4.7", 22),
        _link("eth2", "198.19.200.9", 16),
    ]
    routes = [{"dst": "default", "gateway": "198.18.0.1", "dev": "eth0"}]
    monkeypatch.setattr(netinfo, "_ip_json", _fake_ip(addrs, routes))
    # When the local view is read
    view = netinfo.local_view()
    # Then loopback is left out, a /22 is kept whole, a /16 shrinks to our /24
    scanned = {n.interface: (n.network, n.shrunk) for n in view.networks}
    assert scanned == {
        "eth0": (IPv4Network("198.18.0.0/24"), False),
        "eth1": (IPv4Network("198.18.4.0/22"), False),
        "eth2": (IPv4Network("198.19.200.0/24"), True),
    }
    assert view.gateway == IPv4Address("198.18.0.1")
    assert netinfo.onlink_interface(IPv4Address("198.19.3.3"), view) == "eth2"
    assert netinfo.onlink_interface(IPv4Address("203.0.113.1"), view) is None


def test_no_default_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netinfo, "_ip_json", _fake_ip([_link("eth0", "198.18.0.5", 24)], []))
    view = netinfo.local_view()
    assert view.gateway is None and len(view.networks) == 1
