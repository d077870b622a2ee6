"""What one request may have scanned: the reflector's abuse rule.

IPv4: only the source address the request came from, as the reflector's own
socket saw it (ShieldsUP! and the public port checkers do the same).  No
header is trusted for it (``X-Forwarded-For`` would let a request name any
address): run the reflector without a proxy in front.

IPv6: a practice's devices each have their own global address on its LAN, a
/64 (RFC 7421), so the client names them from its LAN scan; the reflector
scans the source itself and only those named inside the source's /64.  Owning
one address of a wider prefix proves nothing about the rest of it: hosting
and mobile networks hand out /64s to different customers from one shared /56
(a /56 is only the common delegation to a home or a practice, RIPE-690 §4.2),
so a wider prefix is the operator's choice (``--ipv6-prefix``), never the
default.  A zone id (``fe80::1%eth0``) is never scanned: it names an
interface of the reflector's host, not an address of the practice.  Addresses that
embed an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64: RFC 4291 §2.5.5,
RFC 3056, RFC 4380, RFC 6052) are never scanned: through them a /56 would
reach other people's IPv4 addresses.  A named address out of bounds is not
scanned and the answer says why; the request still scans its source (a LAN
scan names what it found, and reaches the reflector over IPv4 or IPv6 as its
resolver and routes decide).

Every address must also lie in the sources this reflector serves
(``--sources``, default: globally routed addresses only, so that a request
from the reflector's own LAN or loopback never scans it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)

#: The IPv6 scope of a source by default: its own /64 (see above).
IPV6_PREFIX = 64
#: The widest prefix an operator may choose: a site's delegation (RFC 6177).
WIDEST_IPV6_PREFIX = 48
MAX_NAMED = 16  # as wire.MAX_IPV6
#: A job scans the source and at most the addresses a request may name.
MAX_ADDRESSES = 1 + MAX_NAMED
GLOBAL = "global"

_EMBEDS_IPV4 = (
    IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix
    IPv6Network("64:ff9b:1::/48"),  # NAT64 local use
    IPv6Network("2002::/16"),  # 6to4
    IPv6Network("2001::/32"),  # Teredo
)

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


class ScopeError(ValueError):
    """The request asks for something this reflector never scans."""


@dataclass(frozen=True)
class Sources:
    """The sources a reflector serves: ``global`` and/or networks."""

    networks: tuple[Network, ...] = ()
    any_global: bool = True

    @classmethod
    def parse(cls, spec: str) -> Sources:
        networks: list[Network] = []
        any_global = False
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            if part == GLOBAL:
                any_global = True
                continue
            try:
                networks.append(ip_network(part, strict=False))
            except ValueError:
                raise ScopeError(f"bad source network {part!r} (CIDR or 'global')") from None
        if not networks and not any_global:
            raise ScopeError("no source network given")
        return cls(tuple(networks), any_global)

    def allows(self, address: Address) -> bool:
        if any(address in net for net in self.networks):
            return True
        return self.any_global and address.is_global


def normalise(text: str) -> Address:
    """The source as an address; an IPv4-mapped IPv6 (a dual-stack socket)
    is the IPv4 address it maps.  A zone id is refused (ValueError): a
    source with one is link-local, never served."""
    if "%" in text:
        raise ValueError("an address with a zone id")
    address = ip_address(text)
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embeds_ipv4(address: IPv6Address) -> bool:
    if address.is_loopback or address.is_unspecified:  # ::1 and :: sit in ::/96
        return False
    return any(address in net for net in _EMBEDS_IPV4)


def _unicast(address: IPv6Address) -> bool:
    return not (
        address.is_multicast
        or address.is_unspecified
        or address.is_link_local
        or address.is_site_local
    )


def source_key(source: Address, prefix: int = IPV6_PREFIX) -> str:
    """What per-source limits count: an IPv4 address, or an IPv6 source's
    scope prefix (a host picks new privacy addresses in its /64 at will,
    RFC 8981)."""
    if isinstance(source, IPv6Address):
        return str(IPv6Network((source, prefix), strict=False))
    return str(source)


def check_prefix(prefix: int) -> int:
    if not WIDEST_IPV6_PREFIX <= prefix <= 128:
        raise ScopeError(f"the IPv6 prefix must be /{WIDEST_IPV6_PREFIX} to /128")
    return prefix


@dataclass(frozen=True)
class Scope:
    addresses: list[str]  # the source first
    #: Named addresses not scanned, each with why (the client's own names:
    #: a LAN scan names what it found, and it reaches the reflector over
    #: IPv4 or IPv6 as its resolver and routes decide).
    skipped: list[str]


def scan_scope(
    source: Address, named_ipv6: Sequence[str], sources: Sources, prefix: int = IPV6_PREFIX
) -> Scope:
    """What to scan for a request from ``source``.  A source this reflector
    does not serve raises :class:`ScopeError`; a named address out of bounds
    is not scanned, and the answer says why."""
    check_prefix(prefix)
    if not sources.allows(source):
        raise ScopeError("this reflector does not serve your source address")
    if isinstance(source, IPv6Address) and (_embeds_ipv4(source) or not _unicast(source)):
        raise ScopeError("an IPv6 source that embeds an IPv4 address or is not unicast")
    scope = [str(source)]
    skipped: list[str] = []
    if len(named_ipv6) > MAX_NAMED:
        raise ScopeError(f"at most {MAX_NAMED} IPv6 addresses per request")
    network = (
        IPv6Network((source, prefix), strict=False) if isinstance(source, IPv6Address) else None
    )
    for text in named_ipv6:
        shown = text[:45]  # at most an IPv6 address long: the answer never grows
        if "%" in text:
            skipped.append(f"{shown.split('%', 1)[0]}: a zone id (%) is never scanned")
            continue
        try:
            named = ip_address(text)
        except ValueError:
            skipped.append(f"{shown}: not an IPv6 address")
            continue
        if not isinstance(named, IPv6Address) or _embeds_ipv4(named) or not _unicast(named):
            skipped.append(f"{shown}: not a unicast IPv6 address (IPv4: only the source)")
        elif network is None:
            skipped.append(f"{named}: not scanned, the request came over IPv4")
        elif named not in network or not sources.allows(named):
            skipped.append(f"{named}: outside your source's /{prefix}")
        elif str(named) not in scope:
            scope.append(str(named))
    return Scope(scope, skipped)


def check_job(addresses: Sequence[object], sources: Sources, prefix: int = IPV6_PREFIX) -> None:
    """A worker's re-check of the addresses in a job, by the same rule as
    :func:`scan_scope`: whoever can write to the queue must not make a
    worker a scanner of other hosts.  Raises :class:`ScopeError`."""
    check_prefix(prefix)
    if not 1 <= len(addresses) <= MAX_ADDRESSES:
        raise ScopeError(f"a job names 1 to {MAX_ADDRESSES} addresses")
    parsed: list[Address] = []
    for text in addresses:
        if not isinstance(text, str) or "%" in text:
            raise ScopeError("a job address that is not a plain address")
        try:
            address = ip_address(text)
        except ValueError:
            raise ScopeError("a job address that is not an address") from None
        if str(address) != text or address in parsed:
            raise ScopeError("a job address not in canonical form, or twice")
        parsed.append(address)
    source = parsed[0]
    if isinstance(source, IPv6Address) and (_embeds_ipv4(source) or not _unicast(source)):
        raise ScopeError("a job source that embeds an IPv4 address or is not unicast")
    if not sources.allows(source):
        raise ScopeError("an address outside this worker's --sources")
    network = (
        IPv6Network((source, prefix), strict=False) if isinstance(source, IPv6Address) else None
    )
    for named in parsed[1:]:
        if not isinstance(named, IPv6Address) or network is None or named not in network:
            raise ScopeError(f"a job address outside its source's /{prefix}")
        if _embeds_ipv4(named) or not _unicast(named) or not sources.allows(named):
            raise ScopeError("a job address outside this worker's --sources")
