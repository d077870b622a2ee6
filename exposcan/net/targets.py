"""Scan targets: addresses, CIDR blocks, ranges and host names, IPv4 and IPv6.

IPv6 targets are addresses and small blocks only: a LAN's /64 holds 2**64
addresses, which no scanner sweeps (RFC 7707 §3); its hosts are found by
neighbour discovery instead (exposcan.net.ndp), which a no-target scan runs.
A name is looked up for both A and AAAA records, and every address scanned.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

# Beyond this a typo (a /8 instead of a /24) would start a scan of hours.
MAX_TARGETS = 65536
#: More addresses than this need an explicit ``--max-hosts``: sixteen /24s
#: is already more than a practice has; a /16 typed for a /24 is refused.
DEFAULT_MAX_HOSTS = 4096
#: The largest IPv6 block accepted as a target (a /120): beyond that a block
#: is a LAN prefix, found by neighbour discovery rather than swept.
MAX_IPV6_BLOCK = 256

#: An IPv4 or IPv6 address.
IPAddress = IPv4Address | IPv6Address


class TargetError(ValueError):
    pass


@dataclass
class TargetSet:
    addresses: list[IPAddress] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    excluded: set[IPAddress] = field(default_factory=set)


def expand_static(spec: str, whole: bool = False) -> list[IPAddress] | None:
    """Expand an address, CIDR or range; None if ``spec`` is a host name.

    A block to scan is its hosts (no network or broadcast address); a block
    to exclude (``whole``) is every address in it: inside a larger target
    block its first and last addresses are real hosts."""
    spec = spec.strip()
    if not spec:
        raise TargetError("empty target")
    if ":" in spec:
        return _expand_ipv6(spec, whole)
    if "/" in spec:
        try:
            net = IPv4Network(spec, strict=False)
        except ValueError as exc:
            raise TargetError(f"bad network {spec!r}: {exc}") from None
        if net.num_addresses > MAX_TARGETS:
            raise TargetError(f"{spec} holds {net.num_addresses} addresses (limit {MAX_TARGETS})")
        if net.prefixlen >= 31 or whole:
            return list(net)
        return list(net.hosts())
    if "-" in spec:
        low_s, _, high_s = spec.partition("-")
        try:
            low = IPv4Address(low_s)
        except ValueError:
            return None  # a host name with a dash
        try:
            high = IPv4Address(high_s) if "." in high_s else _last_octet(low, high_s)
        except ValueError as exc:
            raise TargetError(f"bad range {spec!r}: {exc}") from None
        count = _range_count(spec, low, high, MAX_TARGETS, "limit")
        return [IPv4Address(int(low) + i) for i in range(count)]
    try:
        return [IPv4Address(spec)]
    except ValueError:
        return None


def _range_count(spec: str, low: IPAddress, high: IPAddress, limit: int, what: str) -> int:
    """How many addresses ``low``-``high`` holds, refused when reversed or
    over ``limit``."""
    if high < low:  # type: ignore[operator]  # same family: both come from one spec
        raise TargetError(f"reversed range {spec!r}")
    count = int(high) - int(low) + 1
    if count > limit:
        raise TargetError(f"{spec} holds {count} addresses ({what} {limit})")
    return count


def _expand_ipv6(spec: str, whole: bool) -> list[IPAddress]:
    """An IPv6 address ([brackets] allowed, as in a URL), a block of at most
    MAX_IPV6_BLOCK addresses, or a range low-high (high: an address, or the
    last group in hex)."""
    spec = spec.strip("[]") if spec.startswith("[") else spec
    if "/" in spec:
        try:
            net = IPv6Network(spec, strict=False)
        except ValueError as exc:
            raise TargetError(f"bad network {spec!r}: {exc}") from None
        if net.num_addresses > MAX_IPV6_BLOCK:
            raise TargetError(
                f"{spec}: an IPv6 /{net.prefixlen} cannot be swept (2^{128 - net.prefixlen} "
                "addresses); name its hosts, or run a scan without target: it finds them "
                "by neighbour discovery"
            )
        # IPv6 has no broadcast address; the subnet-router anycast (all
        # zeros) is a router's, a host like any other to a scan.
        return list(net)
    if "-" in spec:
        low_s, _, high_s = spec.partition("-")
        try:
            low = IPv6Address(low_s)
            if ":" in high_s:
                high = IPv6Address(high_s)
            else:
                group = int(high_s, 16)
                if not 0 <= group <= 0xFFFF:
                    raise ValueError(f"group out of range: {high_s}")
                high = IPv6Address((int(low) & ~0xFFFF) | group)
        except ValueError as exc:
            raise TargetError(f"bad range {spec!r}: {exc}") from None
        count = _range_count(spec, low, high, MAX_IPV6_BLOCK, "IPv6 limit")
        return [IPv6Address(int(low) + i) for i in range(count)]
    try:
        return [IPv6Address(spec)]
    except ValueError as exc:
        raise TargetError(f"bad IPv6 address {spec!r}: {exc}") from None


def _last_octet(low: IPv4Address, text: str) -> IPv4Address:
    octet = int(text)
    if not 0 <= octet <= 255:
        raise ValueError(f"octet out of range: {octet}")
    return IPv4Address((int(low) & 0xFFFFFF00) | octet)


async def resolve_name(name: str, timeout: float) -> list[IPAddress]:
    """A and AAAA records both: a PACS reachable on its IPv6 address is as
    exposed as on its IPv4 one."""
    import asyncio  # for names only: addresses need no event loop (static_targets)

    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(
                name, None, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError) as exc:
        raise TargetError(f"cannot resolve {name!r}: {exc or 'timeout'}") from None
    out: set[IPAddress] = set()
    for info in infos:
        if info[0] == socket.AF_INET:
            out.add(IPv4Address(info[4][0]))
        elif info[0] == socket.AF_INET6:
            out.add(IPv6Address(info[4][0]))
    return sorted(out, key=address_key)


def address_key(address: IPAddress) -> tuple[int, int]:
    """Sort order: IPv4 first, then IPv6, each numerically."""
    return (address.version, int(address))


def text_key(address: str) -> tuple[int, int]:
    """:func:`address_key` of an address in text; anything else last."""
    try:
        return address_key(ipaddress.ip_address(address))
    except ValueError:
        return (99, 0)


async def build_targets(
    specs: Iterable[str],
    excludes: Iterable[str],
    resolve_timeout: float = 5.0,
    max_hosts: int = DEFAULT_MAX_HOSTS,
) -> TargetSet:
    """Expand, de-duplicate and exclude; more than ``max_hosts`` addresses
    left to scan is a :class:`TargetError` (the CLI's ``--max-hosts``)."""
    named: list[tuple[str, list[IPAddress]]] = []
    for spec in specs:
        addresses = expand_static(spec)
        if addresses is None:
            addresses = await resolve_name(spec.strip(), resolve_timeout)
        named.append((spec, addresses))
    excluded: list[IPAddress] = []
    for spec in excludes:
        addresses = expand_static(spec, whole=True)
        if addresses is None:
            addresses = await resolve_name(spec.strip(), resolve_timeout)
        excluded.extend(addresses)
    return _assemble(named, excluded, max_hosts)


def static_targets(
    specs: Iterable[str], excludes: Iterable[str], max_hosts: int = DEFAULT_MAX_HOSTS
) -> TargetSet | None:
    """:func:`build_targets` of addresses, networks and ranges only, with no
    event loop; None when a spec is a host name (it needs the resolver)."""
    named: list[tuple[str, list[IPAddress]]] = []
    for spec in specs:
        addresses = expand_static(spec)
        if addresses is None:
            return None
        named.append((spec, addresses))
    excluded: list[IPAddress] = []
    for spec in excludes:
        addresses = expand_static(spec, whole=True)
        if addresses is None:
            return None
        excluded.extend(addresses)
    return _assemble(named, excluded, max_hosts)


def _assemble(
    named: list[tuple[str, list[IPAddress]]], excludes: list[IPAddress], max_hosts: int
) -> TargetSet:
    seen: dict[IPAddress, None] = {}
    labels: list[str] = []
    for spec, addresses in named:
        labels.append(spec.strip())
        for address in addresses:
            seen.setdefault(address, None)
            if len(seen) > MAX_TARGETS:
                raise TargetError(f"more than {MAX_TARGETS} targets")
    excluded = set(excludes)
    addresses = [a for a in seen if a not in excluded]
    if len(addresses) > max_hosts:
        raise TargetError(
            f"{len(addresses)} addresses to scan, more than {max_hosts}: check the targets, "
            f"or allow them with --max-hosts {len(addresses)}"
        )
    return TargetSet(addresses, labels, excluded)


def url_host(address: str) -> str:
    """The host part of a URL (RFC 3986 §3.2.2): an IPv6 literal in brackets."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address
