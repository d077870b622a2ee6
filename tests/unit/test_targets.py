import asyncio
import socket
from ipaddress import IPv4Address, IPv6Address

import pytest

from exposcan.net.targets import (
    MAX_TARGETS,
    TargetError,
    address_key,
    build_targets,
    expand_static,
    resolve_name,
    url_host,
)


def test_single_address() -> None:
    assert expand_static("198.18.0.10") == [IPv4Address("198.18.0.10")]


def test_cidr_skips_network_and_broadcast() -> None:
    hosts = expand_static("198.18.0.0/30")
    assert hosts == [IPv4Address("198.18.0.1"), IPv4Address("198.18.0.2")]


def test_short_range_on_last_octet() -> None:
    # Given the example range
    hosts = expand_static("198.18.0.10-40")
    # Then it runs from .10 to .40 inclusive
    assert hosts is not None
    assert hosts[0] == IPv4Address("198.18.0.10")
    assert hosts[-1] == IPv4Address("198.18.0.40")
    assert len(hosts) == 31


def test_full_range() -> None:
    hosts = expand_static("198.18.0.254-198.18.1.1")
    expected = [(0, 254), (0, 255), (1, 0), (1, 1)]
    assert hosts == [IPv4Address(f"198.18.{a}.{b}") for a, b in expected]


def test_host_name_is_left_to_resolution() -> None:
    assert expand_static("pacs-server") is None


@pytest.mark.parametrize("spec", ["198.18.0.40-10", "10.0.0.0/7", "198.18.0.1-300"])
def test_bad_or_huge_targets_are_refused(spec: str) -> None:
    with pytest.raises(TargetError):
        expand_static(spec)


async def test_excludes_and_duplicates() -> None:
    # Given overlapping targets and an exclusion
    targets = await build_targets(["198.18.0.1-4", "198.18.0.2"], ["198.18.0.3"])
    # Then each address appears once and the excluded one not at all
    assert targets.addresses == [IPv4Address(f"198.18.0.{i}") for i in (1, 2, 4)]


async def test_localhost_name_resolves_without_network() -> None:
    targets = await build_targets(["localhost"], [])
    assert IPv4Address("127.0.0.1") in targets.addresses


def test_cap_constant_is_a_slash_16() -> None:
    assert MAX_TARGETS == 65536


async def test_excluded_addresses_are_kept_for_follow_up_scans() -> None:
    # The engine must know what was excluded, not only what is left: a box
    # forward may point at an excluded address later in the scan.
    targets = await build_targets(["198.18.0.0/30"], ["198.18.0.2"])
    assert targets.excluded == {IPv4Address("198.18.0.2")}


# --- IPv6 -------------------------------------------------------------------


def test_ipv6_address_and_brackets() -> None:
    # Given an IPv6 address, bare and as written in a URL
    # Then both are that one address
    assert expand_static("2001:db8:ca:1::10") == [IPv6Address("2001:db8:ca:1::10")]
    assert expand_static("[::1]") == [IPv6Address("::1")]


def test_small_ipv6_block_and_range() -> None:
    # Given a /126 and a range on the last group (hex)
    block = expand_static("2001:db8::/126")
    short = expand_static("2001:db8::a-f")
    # Then the block is its four addresses (IPv6 has no broadcast) and the
    # range runs from ::a to ::f inclusive
    assert block == [IPv6Address(f"2001:db8::{i}") for i in range(4)]
    assert short == [IPv6Address(f"2001:db8::{i:x}") for i in range(10, 16)]


@pytest.mark.parametrize("spec", ["2001:db8:ca:1::/64", "2001:db8::/119"])
def test_ipv6_lan_prefix_is_refused_in_one_line(spec: str) -> None:
    # Given an IPv6 prefix too large to sweep
    # When it is expanded
    with pytest.raises(TargetError) as err:
        expand_static(spec)
    # Then the refusal says why, in one line, and what to do instead
    message = str(err.value)
    assert "cannot be swept" in message and "neighbour discovery" in message
    assert "\n" not in message


@pytest.mark.parametrize("spec", ["2001:db8::f-a", "2001:db8::zz", "2001:db8::1-10000"])
def test_bad_ipv6_targets_are_refused(spec: str) -> None:
    with pytest.raises(TargetError):
        expand_static(spec)


def test_ipv6_excluded_and_sorted_after_ipv4() -> None:
    # Given mixed targets with an IPv6 exclusion
    targets = asyncio.run(build_targets(["2001:db8::1-3", "198.18.0.1", "::1"], ["2001:db8::2"]))
    # Then the excluded IPv6 address is gone; order is the targets' order
    assert targets.addresses == [
        IPv6Address("2001:db8::1"),
        IPv6Address("2001:db8::3"),
        IPv4Address("198.18.0.1"),
        IPv6Address("::1"),
    ]
    assert sorted(targets.addresses, key=address_key)[0] == IPv4Address("198.18.0.1")


async def test_a_name_gives_its_aaaa_records_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a name with an A and an AAAA record (this machine's /etc/hosts has
    # no AAAA name, so the resolver's answer is given: the only mock here)
    loop = asyncio.get_running_loop()
    asked: list[int] = []

    async def getaddrinfo(host: str, port: object, **kw: int) -> list[tuple[object, ...]]:
        asked.append(kw["family"])
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("198.18.0.10", 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8:ca:1::10", 0, 0, 0)),
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    # When it is resolved
    found = await resolve_name("pacs.cabinet.test", 5.0)
    # Then both families were asked for and both addresses are scanned, IPv4 first
    assert asked == [socket.AF_UNSPEC]
    assert found == [IPv4Address("198.18.0.10"), IPv6Address("2001:db8:ca:1::10")]


@pytest.mark.parametrize(
    ("address", "host"),
    [("2001:db8::1", "[2001:db8::1]"), ("198.18.0.10", "198.18.0.10"), ("[::1]", "[::1]")],
)
def test_url_host_brackets_ipv6(address: str, host: str) -> None:
    assert url_host(address) == host
