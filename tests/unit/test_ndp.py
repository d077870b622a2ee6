"""IPv6 neighbour discovery: address classes, the frames sent, the answers
parsed (RFC 4861, RFC 4443), and the join of a device's IPv6 addresses to
its IPv4 host by MAC."""

from __future__ import annotations

import asyncio
import struct
from ipaddress import IPv6Address

import pytest

from exposcan.catalogue import Catalogue
from exposcan.config import ScanConfig
from exposcan.engine import Scanner
from exposcan.net import ndp

OUR_MAC = bytes.fromhex("02e100000064")
PACS_MAC = bytes.fromhex("02e10000000a")
LL = IPv6Address("fe80::e1:ff:fe00:64")
PACS6 = IPv6Address("2001:db8:ca:1:e1:ff:fe00:a")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("2001:db8:ca:1::10", "global"),  # documentation range: global here
        ("2a01:e0a:1::1", "global"),
        ("fd12:3456::1", "ula"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("::1", "loopback"),
        ("ff02::1", "multicast"),
        ("::ffff:198.18.0.10", "other"),
    ],
)
def test_classify(address: str, kind: str) -> None:
    assert ndp.classify(address) == kind


def _reply(src_mac: bytes, src: IPv6Address, message: bytes, hop: int = 64) -> bytes:
    return ndp.icmpv6_frame(src_mac, OUR_MAC, src, LL, message, hop)


def test_echo_frame_to_all_nodes_is_well_formed() -> None:
    # Given an echo request to ff02::1 from our link-local address
    frame = ndp.icmpv6_frame(
        OUR_MAC, ndp.multicast_mac(ndp.ALL_NODES), LL, ndp.ALL_NODES, ndp.echo_request(7, 0), 64
    )
    # Then it goes to 33:33:00:00:00:01 as IPv6/ICMPv6, and the checksum
    # over the pseudo-header sums to zero (RFC 4443 §2.3)
    assert frame[:6] == bytes.fromhex("333300000001") and frame[12:14] == b"\x86\xdd"
    assert frame[20] == ndp.ICMPV6 and frame[54] == ndp.ECHO_REQUEST
    payload = frame[54:]
    pseudo = LL.packed + ndp.ALL_NODES.packed + struct.pack("!I3xB", len(payload), ndp.ICMPV6)
    assert ndp._checksum(pseudo + payload) == 0


def test_an_echo_reply_is_ours_only_with_our_identifier() -> None:
    # Given two echo replies from the PACS's global address
    ours = _reply(PACS_MAC, PACS6, struct.pack("!BBHHH", ndp.ECHO_REPLY, 0, 0, 7, 0))
    other = _reply(PACS_MAC, PACS6, struct.pack("!BBHHH", ndp.ECHO_REPLY, 0, 0, 8, 0))
    # Then only the one with our identifier counts, with the sender's MAC
    answer = ndp.parse_frame(ours, 7)
    assert answer is not None and answer.kind == "echo-reply"
    assert (answer.src, answer.src_mac) == (PACS6, PACS_MAC)
    assert ndp.parse_frame(other, 7) is None


def test_a_router_advertisement_gives_the_prefix() -> None:
    # Given an RA from the box with a prefix information option (A flag)
    prefix = IPv6Address("2001:db8:ca:1::")
    option = struct.pack("!BBBBIII", ndp.OPT_PREFIX_INFO, 4, 64, 0xC0, 86400, 14400, 0)
    ra = struct.pack("!BBHBBHII", ndp.ROUTER_ADVERT, 0, 0, 64, 0, 1800, 0, 0)
    frame = _reply(PACS_MAC, IPv6Address("fe80::1"), ra + option + prefix.packed, hop=255)
    # Then the prefix and the router come out
    answer = ndp.parse_frame(frame, 7)
    assert answer is not None and answer.kind == "router-advert"
    assert [(str(n), a) for n, a in answer.prefixes] == [("2001:db8:ca:1::/64", True)]
    # But an RA that crossed a router (hop limit below 255) is not believed
    # (RFC 4861 §6.1.2)
    assert ndp.parse_frame(_reply(PACS_MAC, IPv6Address("fe80::1"), ra + option, 64), 7) is None


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00" * 60,
        _reply(PACS_MAC, PACS6, b"\x81"),  # truncated ICMPv6
        # An RA whose option claims zero length (RFC 4861 §4.6: ends the parse)
        _reply(
            PACS_MAC,
            IPv6Address("fe80::1"),
            struct.pack("!BBHBBHII", ndp.ROUTER_ADVERT, 0, 0, 64, 0, 0, 0, 0) + b"\x03\x00" * 8,
            255,
        ),
    ],
)
def test_junk_frames_are_no_answer_or_no_prefix(frame: bytes) -> None:
    answer = ndp.parse_frame(frame, 7)
    assert answer is None or answer.prefixes == ()


def test_neighbours_join_their_ipv4_host_by_mac() -> None:
    # Given an IPv4 host found by ARP, and neighbour discovery's answers:
    # its global and link-local IPv6 addresses, and an IPv6-only device
    scanner = Scanner(ScanConfig(ports=[104], ports_spec="104"), Catalogue([]), [], [])
    pacs = scanner.state.host("198.18.0.10")
    pacs.discovered_by, pacs.mac = "arp", "02:e1:00:00:00:0a"
    result = ndp.NdpResult(
        neighbours=[
            ndp.Neighbour(str(PACS6), "02:e1:00:00:00:0a", "eth0", "global"),
            ndp.Neighbour("fe80::e1:ff:fe00:a", "02:e1:00:00:00:0a", "eth0", "link-local"),
            ndp.Neighbour("2001:db8:ca:1::99", "02:e1:00:00:00:99", "eth0", "global"),
            ndp.Neighbour("fe80::99", "02:e1:00:00:00:99", "eth0", "link-local"),
        ],
        prefixes=[ndp.Prefix("2001:db8:ca:1::/64", "eth0", "global", "router-advert", "fe80::1")],
        method="raw",
    )
    # When they are joined
    extra = scanner._join_ipv6(result, {"198.18.0.10"})
    # Then the PACS lists both IPv6 addresses; each global address is a host
    # to scan (found by ndp, with its MAC); link-local ones are not scanned
    assert pacs.ipv6 == [str(PACS6), "fe80::e1:ff:fe00:a"]
    assert extra == [str(PACS6), "2001:db8:ca:1::99"]
    assert scanner.state.hosts[str(PACS6)].discovered_by == "ndp"
    assert scanner.state.hosts["2001:db8:ca:1::99"].mac == "02:e1:00:00:00:99"
    assert "fe80::99" not in scanner.state.hosts
    # and the global prefix is a note of the report
    assert any("2001:db8:ca:1::/64" in n for n in scanner.state.notes)


def test_excluded_ipv6_neighbours_are_not_scanned() -> None:
    # Given an excluded global IPv6 address
    config = ScanConfig(ports=[104], ports_spec="104", excluded=frozenset({str(PACS6)}))
    scanner = Scanner(config, Catalogue([]), [], [])
    result = ndp.NdpResult(neighbours=[ndp.Neighbour(str(PACS6), None, "eth0", "global")])
    # Then neighbour discovery does not bring it back
    assert scanner._join_ipv6(result, set()) == []
    assert str(PACS6) not in scanner.state.hosts


def test_discovery_on_loopback_only_says_so() -> None:
    # Given an interface list with no IPv6 interface (an unknown name)
    result = asyncio.run(asyncio.to_thread(ndp.discover, ["exposcan-no-such-if"], 0.1))
    # Then nothing is found and the report's note says why
    assert result.neighbours == [] and result.method == "none"
    assert result.notes and "no interface" in result.notes[0]
