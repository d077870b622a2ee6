"""Reading an internet box: its public address (GetExternalIPAddress), its
forwards (GetGenericPortMappingEntry, to the end or the cap), its IPv6
firewall's word (GetFirewallStatus); and recording the box as a host with
its facts and notes.  Every call is read-only."""

from __future__ import annotations

import logging
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError
from exposcan.notes import declare_note
from exposcan.probe import NetworkContext
from exposcan.protocols.upnp.client import MAX_MAPPINGS, HttpStatus, IgdClient
from exposcan.protocols.upnp.igd import IGD_FACT, PROBE_NAME, Igd, describe
from exposcan.protocols.upnp.xml import UpnpFault
from exposcan.state import HostState, ServiceState

log = logging.getLogger("exposcan.upnp")

# RFC 1918 and RFC 6598 (carrier-grade NAT): a box whose WAN address is one of
# these is not what the internet sees.  (Not ipaddress.is_private: it calls
# the lab's TEST-NET ranges private too.)
_NOT_PUBLIC = tuple(
    IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)

NOTE_MANY_MAPPINGS = declare_note("note.upnp.many-mappings")
NOTE_IPV6_FIREWALL = declare_note("note.upnp.ipv6-firewall")
NOTE_IPV6_FIREWALL_UNREADABLE = declare_note("note.upnp.ipv6-firewall-unreadable")
NOTE_PUBLIC_ADDRESS = declare_note("note.upnp.public-address")
NOTE_PRIVATE_WAN = declare_note("note.upnp.private-wan")
NOTE_NO_PUBLIC_ADDRESS = declare_note("note.upnp.no-public-address")


async def read_igd(ctx: NetworkContext, igd: Igd) -> None:
    seen: set[tuple[str, int, str, int]] = set()
    listed = True
    async with IgdClient(igd.address, ctx.limits, ctx.config.deadlines) as client:
        for service in igd.description.services:
            if igd.external_ip is None:
                try:
                    igd.external_ip = await client.external_ip(service)
                except (UpnpFault, HttpStatus, ValueError) as exc:
                    log.debug("GetExternalIPAddress on %s: %s", igd.address, type(exc).__name__)
            count = 0
            try:
                async for mapping in client.mappings(service, MAX_MAPPINGS):
                    count += 1
                    key = (
                        mapping.protocol,
                        mapping.external_port,
                        mapping.internal_client,
                        mapping.internal_port,
                    )
                    if key not in seen:
                        seen.add(key)
                        igd.mappings.append(mapping)
            except ProbeError as exc:
                listed = False
                ctx.scan.error(
                    igd.address, igd.port, PROBE_NAME, exc.reason, f"port mappings: {exc.detail}"
                )
            except (HttpStatus, ValueError) as exc:
                listed = False
                reason, detail = describe(exc)
                ctx.scan.error(
                    igd.address, igd.port, PROBE_NAME, reason, f"port mappings: {detail}"
                )
            if count + client.bad_entries >= MAX_MAPPINGS:
                ctx.scan.note(NOTE_MANY_MAPPINGS, address=igd.address, count=MAX_MAPPINGS)
        igd.listed = listed
        await _read_ipv6_firewall(client, igd)
        if client.bad_entries:
            ctx.scan.error(
                igd.address,
                igd.port,
                PROBE_NAME,
                ErrorReason.PROTOCOL,
                f"{client.bad_entries} port mapping entries unreadable",
            )


async def _read_ipv6_firewall(client: IgdClient, igd: Igd) -> None:
    """GetFirewallStatus, where the box has WANIPv6FirewallControl (IGD:2)."""
    service = igd.description.ipv6_firewall
    if service is None:
        return
    try:
        igd.ipv6_firewall = await client.firewall_status(service)
    except (UpnpFault, HttpStatus, ValueError, ProbeError) as exc:
        igd.ipv6_firewall_error = (
            describe(exc)[1] if not isinstance(exc, UpnpFault) else (f"UPnPError {exc.code}")
        )


def _record_ipv6_firewall(ctx: NetworkContext, box: HostState, igd: Igd) -> None:
    """The box's own word on inbound IPv6 (a fact the IPv6 path reads).
    What it cannot say: WANIPv6FirewallControl:1 has no action listing
    the pinholes (only per-UniqueID queries), and a box's word is not a
    proof: only a scan from outside is."""
    status = igd.ipv6_firewall
    if igd.description.ipv6_firewall is None:
        state = "no-service"
    elif status is None:
        state = "unreadable"
    else:
        state = "read"
    ctx.context_for(box).fact(
        "upnp.ipv6-firewall",
        igd.port,
        "upnp",
        state=state,
        firewall_enabled=status.enabled if status else None,
        inbound_pinhole_allowed=status.inbound_pinhole_allowed if status else None,
        error=igd.ipv6_firewall_error,
    )
    if status is not None:
        ctx.scan.note(
            NOTE_IPV6_FIREWALL,
            address=igd.address,
            firewall=_on_off(status.enabled),
            pinholes=_may(status.inbound_pinhole_allowed),
        )
    elif state == "unreadable":
        ctx.scan.note(
            NOTE_IPV6_FIREWALL_UNREADABLE, address=igd.address, error=igd.ipv6_firewall_error
        )


def record_box(ctx: NetworkContext, igd: Igd) -> None:
    box = ctx.scan.host(igd.address)
    if box.discovered_by == "assumed" and not box.services:
        box.discovered_by = "upnp"
    _record_ipv6_firewall(ctx, box, igd)
    service = box.services.get(igd.port)
    if service is None:
        service = box.services[igd.port] = ServiceState(port=igd.port, protocol="upnp")
    desc = igd.description
    service.protocol, service.confirmed = "upnp", True
    service.product = desc.product or service.product
    service.version = desc.model_number or service.version
    details: dict[str, Any] = {
        "igd_device_type": desc.device_type,
        "friendly_name": desc.friendly_name,
        "manufacturer": desc.manufacturer,
        "model_name": desc.model_name,
        "external_ip": igd.external_ip,
        "port_mappings": len(igd.mappings) if igd.listed else None,
        "found_by": igd.found_by,
    }
    if igd.server:
        details["ssdp_server"] = igd.server
    service.details.update({k: v for k, v in details.items() if v not in ("", None)})
    ctx.context_for(box).fact(
        IGD_FACT,
        igd.port,
        "upnp",
        product=desc.product,
        model_number=desc.model_number or None,
        friendly_name=desc.friendly_name or None,
        igd_version=desc.igd_version or None,
        external_ip=igd.external_ip,
        # None: the listing failed or was cut (an error says which),
        # not "no forward".
        mappings=len(igd.mappings) if igd.listed else None,
        found_by=igd.found_by,
    )
    if igd.external_ip:
        ctx.scan.note(NOTE_PUBLIC_ADDRESS, address=igd.address, ip=igd.external_ip)
        ip = IPv4Address(igd.external_ip)
        if any(ip in net for net in _NOT_PUBLIC):
            ctx.scan.note(NOTE_PRIVATE_WAN, ip=igd.external_ip)
    else:
        ctx.scan.note(NOTE_NO_PUBLIC_ADDRESS, address=igd.address)


def _on_off(flag: bool | None) -> str:
    """A code the note words per language (NOTE_IPV6_FIREWALL's values)."""
    return "unknown" if flag is None else "on" if flag else "off"


def _may(flag: bool | None) -> str:
    return "maybe" if flag is None else "yes" if flag else "no"
