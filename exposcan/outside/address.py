"""The practice's public IPv4 address, and whether its box sits behind
carrier-grade NAT.

Two witnesses: the source address the reflector saw (what the internet
sees), and the box's own WAN address (UPnP GetExternalIPAddress). When they
differ, say so: a second router, a load-balanced line, or carrier-grade NAT.
A WAN address that is private (RFC 1918) or shared (RFC 6598, 100.64.0.0/10)
means the operator's NAT sits in front of the box: its IPv4 forwards cannot
be reached from the internet. That is a fact for the verdict, not a finding.

The NAT loopback check connects from inside to the public address, on the
catalogue's ports and every port a forward names: a lying witness (a fake
reflector's ``source``, a box answering GetExternalIPAddress with someone
else's address) would turn that into a scan of a third party.  So the check
goes only to an address two witnesses agree on (:func:`loopback_target`):
the reflector's source and the box's WAN address, or the user's own
setting, and only if it is publicly routed.  A disagreement is a note, not a
sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
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


#: Not publicly routed either, whatever the box says: multicast, the
#: reserved 240.0.0.0/4 and the limited broadcast (RFC 1112, RFC 6890).
NOT_ROUTED = (
    *NOT_PUBLIC,
    IPv4Network("224.0.0.0/4"),
    IPv4Network("240.0.0.0/4"),
)


def publicly_routed(address: str) -> bool:
    """Whether ``address`` is one the internet routes to a practice's box.
    As for the box's WAN address, the documentation ranges (TEST-NET,
    198.18.0.0/15) count as routed: they are the lab's internet, and no
    practice's line has one."""
    ip = ipv4(address)
    return ip is not None and not any(ip in net for net in NOT_ROUTED)


def behind_operator_nat(wan: str | None) -> bool:
    ip = ipv4(wan)
    return ip is not None and any(ip in net for net in NOT_PUBLIC)


def decide_public(
    reflector_source: str | None,
    upnp_external_ip: str | None,
    routed: Callable[[str], bool] = publicly_routed,
) -> PublicAddress:
    """The two witnesses side by side; ``routed`` says which addresses the
    internet routes (an in-process test lets loopback stand for the
    internet)."""
    source = str(ipv4(reflector_source)) if ipv4(reflector_source) else None
    wan = str(ipv4(upnp_external_ip)) if ipv4(upnp_external_ip) else None
    cgnat = behind_operator_nat(wan) and wan is not None and not routed(wan)
    address = source or (wan if wan and not cgnat else None)
    return PublicAddress(
        address=address,
        reflector_source=source,
        upnp_external_ip=wan,
        disagree=bool(source and wan and source != wan),
        carrier_grade_nat=cgnat,
    )


class NoLoopback(StrEnum):
    """Why the NAT loopback check was not made (a note says it)."""

    DISAGREE = "disagree"  # the witnesses name different addresses
    ONE_WITNESS = "one-witness"  # only one of them named it
    NOT_ROUTED = "not-routed"  # they agree on an address the internet does not route


@dataclass(frozen=True)
class LoopbackTarget:
    """Where the NAT loopback check goes (``address``), or why it does not."""

    address: str | None = None
    reason: NoLoopback | None = None
    named: tuple[str, ...] = ()  # the addresses the witnesses named


def loopback_target(
    public: PublicAddress,
    declared: str | None = None,
    routed: Callable[[str], bool] = publicly_routed,
) -> LoopbackTarget:
    """The address the NAT loopback check may connect to: one that every
    witness present names, at least two of them (the reflector's source and
    the box's UPnP WAN address), or the user's own setting (``declared``,
    which no other witness contradicts), and that is publicly routed
    (``routed``).  Behind carrier-grade NAT there is no loopback to try."""
    if public.carrier_grade_nat:
        return LoopbackTarget()
    user = str(ipv4(declared)) if ipv4(declared) else None
    witnesses = [w for w in (public.reflector_source, public.upnp_external_ip, user) if w]
    named = tuple(dict.fromkeys(witnesses))
    if not named:
        return LoopbackTarget()
    if len(named) > 1:
        return LoopbackTarget(reason=NoLoopback.DISAGREE, named=named)
    (address,) = named
    if len(witnesses) < 2 and user is None:
        return LoopbackTarget(reason=NoLoopback.ONE_WITNESS, named=named)
    if not routed(address):
        return LoopbackTarget(reason=NoLoopback.NOT_ROUTED, named=named)
    return LoopbackTarget(address=address, named=named)
