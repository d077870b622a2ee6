"""The IPv6 path probe: imaging on a global IPv6 address becomes an
``ipv6.imaging`` fact, joined to the device's IPv4 host and to what the box
said of its IPv6 firewall; the catalogue's rule makes it a high finding on a
LAN scan only."""

from __future__ import annotations

import asyncio

import pytest

from exposcan.catalogue import default_catalogue
from exposcan.config import ScanConfig
from exposcan.findings import evaluate
from exposcan.limits import Limits
from exposcan.models import Severity, Vantage
from exposcan.probe import NetworkContext
from exposcan.protocols.ipv6.probe import Ipv6PathProbe
from exposcan.state import Fact, ScanState, ServiceState

PACS4, PACS6, ULA6 = "198.18.0.10", "2001:db8:ca:1:e1:ff:fe00:a", "fd00:ca::10"


def _state(box_firewall: dict[str, object] | None) -> ScanState:
    state = ScanState()
    v4 = state.host(PACS4)
    v4.ipv6 = [PACS6, "fe80::e1:ff:fe00:a"]
    for address in (PACS4, PACS6, ULA6):
        host = state.host(address)
        host.services[104] = ServiceState(104, "dicom", product="Orthanc", version="1.10.1")
        host.facts.append(Fact("imaging.service", address, 104, "dicom", {"service": "dicom"}))
    if box_firewall is not None:
        box = state.host("198.18.0.1")
        box.facts.append(Fact("upnp.ipv6-firewall", "198.18.0.1", 49152, "upnp", box_firewall))
    return state


def _run(state: ScanState, vantage: Vantage) -> list[Fact]:
    async def go() -> None:
        config = ScanConfig(ports=[104], ports_spec="104", vantage=vantage)
        limits = Limits(4, 2, 0.0)
        try:
            ctx = NetworkContext(
                state, config, default_catalogue(), limits, "ipv6-path", _no_more, []
            )
            await Ipv6PathProbe().run(ctx)
        finally:
            limits.close()

    asyncio.run(go())
    return [f for f in state.facts() if f.kind == "ipv6.imaging"]


async def _no_more(address: str, ports: list[int]) -> object:
    raise AssertionError("the IPv6 path probe scans nothing itself")


@pytest.mark.parametrize(
    ("firewall", "word"),
    [
        ({"state": "read", "firewall_enabled": False, "inbound_pinhole_allowed": True}, "off"),
        ({"state": "read", "firewall_enabled": True, "inbound_pinhole_allowed": False}, "on"),
        ({"state": "no-service"}, "unknown: the box's IGD has no IPv6 firewall service"),
        (None, "unknown: no UPnP IGD answered"),
    ],
)
def test_imaging_on_a_global_ipv6_address_is_a_high_finding(
    firewall: dict[str, object] | None, word: str
) -> None:
    # Given a PACS on IPv4, on a global IPv6 address and on a ULA one, and
    # whatever the box said of its IPv6 firewall
    state = _state(firewall)
    # When the IPv6 path probe runs after a LAN scan
    facts = _run(state, Vantage.LAN)
    # Then only the global address makes a fact, joined to the IPv4 host
    assert [(f.host, f.port) for f in facts] == [(PACS6, 104)]
    data = facts[0].data
    assert data["ipv4_host"] == PACS4 and data["product"] == "Orthanc"
    assert data["box_firewall"].startswith(word)
    # and the catalogue makes it one high finding
    findings = [
        f
        for f in evaluate(default_catalogue(), state.facts(), Vantage.LAN)
        if f.rule == "exposure.ipv6-imaging"
    ]
    assert [(f.host, f.severity) for f in findings] == [(PACS6, Severity.HIGH)]


def test_from_the_internet_the_probe_adds_nothing() -> None:
    # Given the same facts, from the internet vantage (the existing
    # exposure.internet-imaging already holds on the IPv6 address there)
    state = _state(None)
    # Then no IPv6 path fact is made
    assert _run(state, Vantage.INTERNET) == []
