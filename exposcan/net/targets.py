"""Scan targets: addresses, CIDR blocks, ranges and host names.

Only IPv4 for now: the practices we target are IPv4 LANs behind a box.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

# Beyond this a typo (a /8 instead of a /24) would start a scan of hours.
MAX_TARGETS = 65536
#: More addresses than this need an explicit ``--max-hosts``: sixteen /24s
#: is already more than a practice has; a /16 typed for a /24 is refused.
DEFAULT_MAX_HOSTS = 4096


class TargetError(ValueError):
    pass


@dataclass
class TargetSet:
    addresses: list[IPv4Address] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    excluded: set[IPv4Address] = field(default_factory=set)


def expand_static(spec: str, whole: bool = False) -> list[IPv4Address] | None:
    """Expand an address, CIDR or range; None if ``spec`` is a host name.

    A block to scan is its hosts (no network or broadcast address); a block
    to exclude (``whole``) is every address in it: inside a larger target
    block its first and last addresses are real hosts."""
    spec = spec.strip()
    if not spec:
        raise TargetError("empty target")
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
        if high < low:
            raise TargetError(f"reversed range {spec!r}")
        count = int(high) - int(low) + 1
        if count > MAX_TARGETS:
            raise TargetError(f"{spec} holds {count} addresses (limit {MAX_TARGETS})")
        return [IPv4Address(int(low) + i) for i in range(count)]
    try:
        return [IPv4Address(spec)]
    except ValueError:
        return None


def _last_octet(low: IPv4Address, text: str) -> IPv4Address:
    octet = int(text)
    if not 0 <= octet <= 255:
        raise ValueError(f"octet out of range: {octet}")
    return IPv4Address((int(low) & 0xFFFFFF00) | octet)


async def resolve_name(name: str, timeout: float) -> list[IPv4Address]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(name, None, family=socket.AF_INET)
    except (OSError, TimeoutError) as exc:
        raise TargetError(f"cannot resolve {name!r}: {exc or 'timeout'}") from None
    return sorted({IPv4Address(info[4][0]) for info in infos})


async def build_targets(
    specs: Iterable[str],
    excludes: Iterable[str],
    resolve_timeout: float = 5.0,
    max_hosts: int = DEFAULT_MAX_HOSTS,
) -> TargetSet:
    """Expand, de-duplicate and exclude; more than ``max_hosts`` addresses
    left to scan is a :class:`TargetError` (the CLI's ``--max-hosts``)."""
    seen: dict[IPv4Address, None] = {}
    labels: list[str] = []
    for spec in specs:
        addresses = expand_static(spec)
        if addresses is None:
            addresses = await resolve_name(spec.strip(), resolve_timeout)
        labels.append(spec.strip())
        for address in addresses:
            seen.setdefault(address, None)
            if len(seen) > MAX_TARGETS:
                raise TargetError(f"more than {MAX_TARGETS} targets")
    excluded: set[IPv4Address] = set()
    for spec in excludes:
        addresses = expand_static(spec, whole=True)
        if addresses is None:
            addresses = await resolve_name(spec.strip(), resolve_timeout)
        excluded.update(addresses)
    addresses = [a for a in seen if a not in excluded]
    if len(addresses) > max_hosts:
        raise TargetError(
            f"{len(addresses)} addresses to scan, more than {max_hosts}: check the targets, "
            f"or allow them with --max-hosts {len(addresses)}"
        )
    return TargetSet(addresses, labels, excluded)


def in_any(address: IPv4Address, networks: Iterable[IPv4Network]) -> bool:
    return any(address in net for net in networks)


def is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
