"""The UPnP probe's facts (what the catalogue's ``upnp.*`` rules match)."""

from __future__ import annotations

from exposcan.facts import FactModel, fact_kind


@fact_kind("upnp.igd")
class UpnpIgd(FactModel):
    """An internet box's IGD answered (UPnP Device Architecture 1.1)."""

    product: str | None = None
    model_number: str | None = None
    friendly_name: str | None = None
    igd_version: str | None = None
    external_ip: str | None = None
    mappings: int | None = 0
    found_by: str | None = None


@fact_kind("upnp.natpmp")
class UpnpNatPmp(FactModel):
    """The default gateway answered a NAT-PMP public-address request (RFC
    6886 §3.2, UDP 5351), or a PCP server said it speaks a later version."""

    transport: str = "UDP"
    version: int
    result: str
    external_ip: str | None = None


@fact_kind("upnp.mapping")
class UpnpMapping(FactModel):
    """One forward the IGD lists (GetGenericPortMappingEntry), joined with
    what the scan found behind it."""

    external_port: int
    transport: str
    internal_host: str
    internal_port: int
    description: str | None = None
    enabled: bool | None = None
    remote_host: str | None = None
    lease_duration: int | None = None
    internal_state: str | None = None
    internal_service: str | None = None
    internal_product: str | None = None
    imaging: bool | None = False
    imaging_service: str | None = None
    health_data: bool | None = False
    health_data_service: str | None = None
    external_ip: str | None = None


@fact_kind("upnp.ipv6-firewall")
class UpnpIpv6Firewall(FactModel):
    """WANIPv6FirewallControl's GetFirewallStatus, as the box says it."""

    state: str
    firewall_enabled: bool | None = None
    inbound_pinhole_allowed: bool | None = None
    error: str | None = None
