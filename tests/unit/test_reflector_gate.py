"""The front's door: connections counted per source before TLS."""

from __future__ import annotations

from collections import Counter

from exposcan.reflector.gate import Bounds, Gate


def test_per_source_and_global_caps() -> None:
    counts: Counter[str] = Counter()
    gate = Gate(Bounds(per_source_connections=2), counts, max_connections=5)
    # Given two connections from one address, Then a third from it is refused
    held = [gate.admit("198.51.100.7"), gate.admit("198.51.100.7")]
    assert all(held) and gate.admit("198.51.100.7") is None
    # And another address is admitted, up to the global cap
    assert gate.admit("198.51.100.8") and gate.admit("198.51.100.9")
    assert gate.admit("198.51.100.10") and gate.admit("198.51.100.11") is None
    assert counts == {"refused.source-connections": 1, "refused.connections": 1}
    # When one ends, its address may connect again
    keys = held[0]
    assert keys is not None
    gate.release(keys)
    assert gate.admit("198.51.100.7") is not None
    # An IPv4-mapped source is the IPv4 address it maps
    assert gate.admit("::ffff:198.51.100.7") is None


def test_ipv6_counts_per_64_and_per_48() -> None:
    gate = Gate(Bounds(per_source_connections=2), Counter(), max_connections=100)
    # Given a host that picks new addresses in its /64, Then they count as one source
    assert gate.admit("2001:db8:1:1::1") and gate.admit("2001:db8:1:1::2")
    assert gate.admit("2001:db8:1:1::3") is None
    # And other /64s of its /48 get a few sources' worth in all (4 x 2)
    admitted = [gate.admit(f"2001:db8:1:{n}::1") for n in range(2, 12)]
    assert sum(a is not None for a in admitted) == 6
    # While another /48 is not affected
    assert gate.admit("2001:db8:2::1") is not None
