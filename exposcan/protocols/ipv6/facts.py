"""The IPv6 path probe's facts (what ``exposure.ipv6-imaging`` matches)."""

from __future__ import annotations

from exposcan.facts import FactModel, fact_kind


@fact_kind("ipv6.imaging")
class Ipv6Imaging(FactModel):
    """An imaging service reachable on a global IPv6 address."""

    service: str | None = None
    product: str | None = None
    version: str | None = None
    address_scope: str
    ipv4_host: str | None = None
    mac: str | None = None
    box_firewall: str | None = None
    box_inbound_pinholes: bool | None = None
