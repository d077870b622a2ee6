from ipaddress import IPv4Address

import pytest

from exposcan.net.targets import MAX_TARGETS, TargetError, build_targets, expand_static


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
