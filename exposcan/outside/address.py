"""The practice's public IPv4 address, and whether its box sits behind
carrier-grade NAT.

Two witnesses: the source address the reflector saw (what the internet
sees), and the box's own WAN address (UPnP GetExternalIPAddress). When they
differ, say so: a second router, a load-balanced line, or carrier-grade NAT.
A WAN address that is private (RFC 1918) or shared (RFC 6598, 100.64.0.0/10)
means the operator's NAT sits in front of the box: its IPv4 forwards cannot
be reached from the internet. That is a fact for the verdict, not a finding.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from exposcan.models import PublicAddress

# Not ipaddress.is_private: it calls the lab's TEST-NET ranges private too.
NOT_PUBLIC = tuple(
    IPv4Network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # RFC 6598: carrier-grade NAT
        "169.254.0.0/16",
        "127.0.0.0/8",
        "0.0.0.0/8",
    )
)


def ipv4(text: str | None) -> IPv4Address | None:
    if not text:
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def behind_operator_nat(wan: str | None) -> bool:
    ip = ipv4(wan)
    return ip is not None and any(ip in net for net in NOT_PUBLIC)


def decide_public(reflector_source: str | None, upnp_external_ip: str | None) -> PublicAddress:
    source = str(ipv4(reflector_source)) if ipv4(reflector_source) else None
    wan = str(ipv4(upnp_external_ip)) if ipv4(upnp_external_ip) else None
    cgnat = behind_operator_nat(wan)
    address = source or (wan if wan and not cgnat else None)
    return PublicAddress(
        address=address,
        reflector_source=source,
        upnp_external_ip=wan,
        disagree=bool(source and wan and source != wan),
        carrier_grade_nat=cgnat,
    )
