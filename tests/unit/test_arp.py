"""ARP request frames and reply parsing (exposcan.net.arp), without a network."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

from exposcan.net.arp import (
    ARP_REPLY,
    ARP_REQUEST,
    ETH_P_ARP,
    MIN_FRAME,
    format_mac,
    parse_reply,
    request_frame,
)

OUR_MAC = bytes.fromhex("020000000001")
THEIR_MAC = bytes.fromhex("02000000000a")
OUR_IP, THEIR_IP = IPv4Address("198.18.0.100").packed, IPv4Address("198.18.0.10").packed


def test_request_is_a_padded_broadcast_who_has() -> None:
    frame = request_frame(OUR_MAC, OUR_IP, THEIR_IP)
    # Then it is a minimum-size Ethernet frame to everyone, of type ARP
    assert len(frame) == MIN_FRAME
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == OUR_MAC
    assert struct.unpack_from("!H", frame, 12)[0] == ETH_P_ARP
    # And RFC 826's fields: Ethernet, IPv4, 6/4 bytes, request, who has THEIR_IP
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", frame, 14)
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, ARP_REQUEST)
    assert frame[22:28] == OUR_MAC and frame[28:32] == OUR_IP
    assert frame[32:38] == b"\0" * 6 and frame[38:42] == THEIR_IP


def reply(op: int = ARP_REPLY, ethertype: int = ETH_P_ARP) -> bytes:
    return (
        OUR_MAC
        + THEIR_MAC
        + struct.pack("!HHHBBH", ethertype, 1, 0x0800, 6, 4, op)
        + THEIR_MAC
        + THEIR_IP
        + OUR_MAC
        + OUR_IP
    )


def test_reply_gives_sender_address_and_mac() -> None:
    parsed = parse_reply(reply())
    assert parsed is not None
    assert (parsed.sender_mac, parsed.sender_ip, parsed.target_ip) == (THEIR_MAC, THEIR_IP, OUR_IP)
    assert format_mac(parsed.sender_mac) == "02:00:00:00:00:0a"


def test_requests_other_types_and_short_frames_are_not_replies() -> None:
    assert parse_reply(reply(op=ARP_REQUEST)) is None
    assert parse_reply(reply(ethertype=0x0800)) is None
    assert parse_reply(reply()[:30]) is None
