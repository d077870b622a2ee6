"""Property tests: port and target specifications (what the user types).

No name resolution here: only static specs reach ``build_targets`` (a
random string would be looked up in DNS), and ``expand_static`` is what
decides whether a string is an address, a block, a range or a name.
"""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv4Network, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exposcan.net.portspec import PortSpecError, format_ports, parse_ports
from exposcan.net.targets import (
    MAX_IPV6_BLOCK,
    MAX_TARGETS,
    TargetError,
    address_key,
    build_targets,
    expand_static,
)
from tests.unit.properties import examples, ran

PORT_CHARS = st.sampled_from(list("0123456789,-T: \t٣\x00"))
ports = st.integers(min_value=1, max_value=65535)


@examples(400)
@given(st.text(PORT_CHARS, max_size=40) | st.text(max_size=20))
def test_port_specs_parse_or_say_why(spec: str) -> None:
    ran("portspec: random spec")
    # Given any string as -p
    try:
        parsed = parse_ports(spec)
    except PortSpecError:
        return  # Then either a PortSpecError ...
    # ... or sorted, unique, valid ports that round-trip through format_ports
    assert parsed == sorted(set(parsed)) and parsed
    assert all(1 <= p <= 65535 for p in parsed)
    assert parse_ports(format_ports(parsed)) == parsed


@examples(300)
@given(st.lists(ports, min_size=1, max_size=60))
def test_format_ports_round_trips(values: list[int]) -> None:
    ran("portspec: format round trip")
    expected = sorted(set(values))
    assert parse_ports(format_ports(expected)) == expected


octet = st.integers(min_value=0, max_value=255)
address = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", octet, octet, octet, octet)
TARGET_CHARS = st.sampled_from(list("0123456789./-abc: ٣\x00"))


@examples(500)
@given(
    address
    | st.text(TARGET_CHARS, max_size=40)
    | st.text(max_size=20)
    | st.builds(lambda a, p: f"{a}/{p}", address, st.integers(-1, 40))
    | st.builds(lambda a, e: f"{a}-{e}", address, st.text(TARGET_CHARS, max_size=15))
)
def test_target_specs_expand_or_say_why(spec: str) -> None:
    ran("targets: random spec")
    # Given any string as a TARGET
    try:
        out = expand_static(spec)
    except TargetError:
        return  # Then a TargetError, ...
    if out is None:
        return  # ... a host name (left to the resolver), ...
    # ... or at most MAX_TARGETS IPv4 addresses (MAX_IPV6_BLOCK IPv6 ones,
    # never both), in order, without repeats
    assert 0 < len(out) <= MAX_TARGETS
    assert all(isinstance(a, IPv4Address) for a in out) or (
        all(isinstance(a, IPv6Address) for a in out) and len(out) <= MAX_IPV6_BLOCK
    )
    assert out == sorted(set(out), key=address_key)


static_spec = (
    address
    | st.builds(
        lambda a, p: str(IPv4Network(f"{a}/{p}", strict=False)), address, st.integers(20, 32)
    )
    | st.builds(lambda a, n: f"{a}-{n}", address, octet)
)


@examples(200)
@given(
    st.lists(static_spec, min_size=1, max_size=4),
    st.lists(static_spec, max_size=3),
    st.integers(1, 10000),
)
def test_target_sets_respect_excludes_and_max_hosts(
    specs: list[str], excludes: list[str], max_hosts: int
) -> None:
    ran("targets: build with excludes and --max-hosts")
    # Given static targets, exclusions and a --max-hosts value
    try:
        targets = asyncio.run(build_targets(specs, excludes, max_hosts=max_hosts))
    except TargetError as exc:
        # Then a refusal says why in one line ...
        assert "\n" not in str(exc)
        return
    # ... or every address is scanned once, none excluded, within the bound
    assert len(targets.addresses) == len(set(targets.addresses)) <= max_hosts
    assert not set(targets.addresses) & targets.excluded


def test_more_than_4096_addresses_need_max_hosts() -> None:
    # Given a /19 of loopback (8,190 hosts), the default bound and a raised one
    with pytest.raises(TargetError, match=r"8190 addresses to scan, more than 4096.*--max-hosts"):
        asyncio.run(build_targets(["127.0.0.0/19"], []))
    # Then --max-hosts lets it through, and an exclusion counts against it
    assert len(asyncio.run(build_targets(["127.0.0.0/19"], [], max_hosts=8190)).addresses) == 8190
    small = asyncio.run(build_targets(["127.0.0.0/19"], ["127.0.16.0/20"]))
    # (an excluded block is excluded whole: its first and last address too)
    assert len(small.addresses) == 8190 - 4095  # the /20 minus its broadcast, not a target
