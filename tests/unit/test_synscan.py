"""SYN scan packets, answers and timers (exposcan.net.synscan), without a network."""

from __future__ import annotations

import os
import random
import socket
import struct

import pytest

from exposcan.net.portscan import PortState, sweep
from exposcan.net.synscan import (
    ACK,
    HEADER_LEN,
    MIN_RTO,
    PORT_STEP,
    RST,
    SEND_BATCH,
    SWEEP_WORKERS,
    SYN,
    RttEstimator,
    SequenceKey,
    SynTemplate,
    build_syn,
    choose_sweeper,
    pack_ports,
    pack_run,
    parse_answer,
    prime_slots,
    state_of,
    sweep_workers,
)

SRC, DST = socket.inet_aton("198.18.0.100"), socket.inet_aton("198.18.0.10")


def ones_complement_sum(data: bytes) -> int:
    """RFC 1071, written out independently of the module under test."""
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) + (data[i + 1] if i + 1 < len(data) else 0)
        total = (total & 0xFFFF) + (total >> 16)
    return total


def pseudo_header(src: bytes, dst: bytes, length: int) -> bytes:
    return src + dst + bytes([0, socket.IPPROTO_TCP]) + length.to_bytes(2, "big")


def test_a_syn_checksums_to_all_ones_with_its_pseudo_header() -> None:
    # Given a SYN to port 104
    header = build_syn(SRC, DST, 40000, 104, 0x12345678)
    # Then the receiver's check of RFC 9293 §3.1 passes: the sum is 0xFFFF
    assert ones_complement_sum(pseudo_header(SRC, DST, len(header)) + header) == 0xFFFF
    # And the header says SYN, ports, sequence, 24 bytes with an MSS option
    sport, dport, seq, ack, offset, flags = struct.unpack_from("!HHIIBB", header)
    assert (sport, dport, seq, ack, flags) == (40000, 104, 0x12345678, 0, SYN)
    assert offset >> 4 == HEADER_LEN // 4 == 6
    assert header[20:24] == bytes([2, 4, 0x05, 0xB4])


def test_a_corrupted_syn_fails_the_check() -> None:
    header = bytearray(build_syn(SRC, DST, 40000, 104, 1))
    header[2] ^= 0x01  # another destination port
    assert ones_complement_sum(pseudo_header(SRC, DST, len(header)) + bytes(header)) != 0xFFFF


def test_the_fast_template_builds_the_same_bytes() -> None:
    rng = random.Random(7)
    template = SynTemplate(SRC, 45678)
    for _ in range(2000):
        dst = rng.randbytes(4)
        port, seq = rng.randint(1, 65535), rng.getrandbits(32)
        assert template.packet(dst, port, seq) == build_syn(SRC, dst, 45678, port, seq)


def answer(flags: int, ack: int, sport: int = 104, dport: int = 40000, ihl: int = 5) -> bytes:
    options = b"\x01" * ((ihl - 5) * 4)
    ip = (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x40 | ihl,
            0,
            20 + len(options) + 20,
            1,
            0,
            64,
            socket.IPPROTO_TCP,
            0,
            DST,
            SRC,
        )
        + options
    )
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 99, ack, 5 << 4, flags, 1024, 0, 0)
    return ip + tcp


def test_answers_are_parsed_with_and_without_ip_options() -> None:
    for ihl in (5, 7):
        parsed = parse_answer(answer(SYN | ACK, 1001, ihl=ihl))
        assert parsed is not None
        assert (parsed.src, parsed.sport, parsed.dport, parsed.ack, parsed.flags) == (
            DST,
            104,
            40000,
            1001,
            SYN | ACK,
        )


def test_short_fragmented_or_other_datagrams_are_ignored() -> None:
    good = answer(RST | ACK, 5)
    assert parse_answer(good[:30]) is None  # cut inside the TCP header
    fragment = bytearray(good)
    fragment[7] = 0x10  # fragment offset != 0: no TCP header at the start
    assert parse_answer(bytes(fragment)) is None
    udp = bytearray(good)
    udp[9] = socket.IPPROTO_UDP
    assert parse_answer(bytes(udp)) is None


def test_flags_mean_open_closed_or_nothing() -> None:
    assert state_of(SYN | ACK) is PortState.OPEN
    assert state_of(RST | ACK) is PortState.CLOSED
    assert state_of(RST) is PortState.CLOSED
    assert state_of(SYN) is None  # a SYN is no answer to a SYN (our own, on loopback)
    assert state_of(ACK) is None


def test_sequence_numbers_are_keyed_and_differ_per_port() -> None:
    one, other = SequenceKey(b"k" * 8), SequenceKey(b"j" * 8)
    seqs = {one.seq(DST, port) for port in range(1, 65536)}
    # Every port of a host gets its own number, so an answer names its probe
    assert len(seqs) == 65535
    # And another key predicts other numbers (an outsider cannot forge an ACK)
    assert one.seq(DST, 104) != other.seq(DST, 104)
    assert one.seq(DST, 104) == SequenceKey(b"k" * 8).seq(DST, 104)


def test_retry_timer_follows_the_round_trip_within_bounds() -> None:
    rtt = RttEstimator(initial=1.0)
    host = DST
    # Before any answer: the configured scan timeout
    assert rtt.timeout(host) == 1.0
    for _ in range(20):
        rtt.sample(host, 0.0002)
    # A LAN answering in 0.2 ms: the floor, not 1 ms of busy Python loop
    assert rtt.timeout(host) == MIN_RTO
    for _ in range(20):
        rtt.sample(host, 3.0)
    # A slow path: never past the configured timeout
    assert rtt.timeout(host) == 1.0
    assert rtt.timeout(SRC) == 1.0  # per host


def test_scan_type_selection() -> None:
    assert choose_sweeper("connect") is sweep
    with pytest.raises(ValueError, match="unknown scan type"):
        choose_sweeper("xmas")


def test_an_ipv6_syn_checksums_with_the_ipv6_pseudo_header() -> None:
    # Given a SYN between two IPv6 addresses (2001:db8::/32)
    src = socket.inet_pton(socket.AF_INET6, "2001:db8:ffff::50")
    dst = socket.inet_pton(socket.AF_INET6, "2001:db8:ca:1:e1:ff:fe00:a")
    header = SynTemplate(src, 40000).packet(dst, 104, 0x12345678)
    # Then the receiver's check with RFC 8200 §8.1's pseudo-header passes
    # (addresses, 32-bit length, three zero bytes, next header 6)
    pseudo = src + dst + len(header).to_bytes(4, "big") + b"\0\0\0" + bytes([socket.IPPROTO_TCP])
    assert ones_complement_sum(pseudo + header) == 0xFFFF
    assert header == build_syn(src, dst, 40000, 104, 0x12345678)


def test_the_per_destination_packer_checksums_every_port_as_the_full_sum() -> None:
    # Given the packer of one destination (the sum of the constant part once)
    rng = random.Random(14)
    pack = SynTemplate(SRC, 51234).packer(DST)
    key = SequenceKey(b"s" * 8)
    # Then for every port, with its own sequence number and random ones, the
    # SYN is byte for byte the one summed in full (RFC 1071) and passes the
    # receiver's check
    for port in range(1, 65536):
        seq = key.seq(DST, port) if port % 2 else rng.getrandbits(32)
        header = pack(port, seq)
        assert header == build_syn(SRC, DST, 51234, port, seq)
    assert ones_complement_sum(pseudo_header(SRC, DST, len(header)) + header) == 0xFFFF


def test_a_sequence_number_is_its_host_base_plus_a_step_per_port() -> None:
    key = SequenceKey(b"q" * 8)
    base = key.base(DST)
    for port in (1, 104, 65535):
        assert key.seq(DST, port) == (base + port * PORT_STEP) & 0xFFFFFFFF
    assert key.base(SRC) != base


def test_sweeps_side_by_side_never_exceed_the_window_or_the_cpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given two CPUs free
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    # Then a window of one probe is one sweep (each keeps its share of it),
    # and a large window at most SWEEP_WORKERS of them
    assert sweep_workers(1) == 1
    assert sweep_workers(500) == min(2, SWEEP_WORKERS)
    # And with one CPU, one sweep
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert sweep_workers(500) == 1


def test_a_batch_packed_in_runs_or_port_by_port_is_the_reference_syns() -> None:
    # Given a sendmmsg batch's buffer and one destination's keyed base
    rng = random.Random(21)
    slots = memoryview(bytearray(SEND_BATCH * HEADER_LEN))
    fallbacks = 0
    for sport in (1, 40000, 65535):
        base = rng.getrandbits(32)
        csum = SynTemplate(SRC, sport).checksum_constant(DST)
        prime_slots(slots, sport)
        # When every port of the range is packed, in runs of random lengths
        # at random places of the batch (pack_run), or one by one
        port = 1
        while port < 65536:
            count = min(rng.randint(1, SEND_BATCH), 65536 - port)
            at = rng.randint(0, SEND_BATCH - count)
            acks = pack_run(slots, at, port, count, base, csum, sport)
            if acks is None:  # the run's checksums wrap
                fallbacks += 1
                acks = pack_ports(slots, at, range(port, port + count), base, csum, sport)
            # Then each slot holds the SYN that build_syn sums in full, and
            # its answer's acknowledgment number is the sequence number + 1
            for i in range(count):
                seq = (base + (port + i) * PORT_STEP) & 0xFFFFFFFF
                slot = bytes(slots[(at + i) * HEADER_LEN : (at + i + 1) * HEADER_LEN])
                assert slot == build_syn(SRC, DST, sport, port + i, seq)
                assert acks[i] == (seq + 1) & 0xFFFFFFFF
            port += count
    # And a wrapping run, about once per host's range, was packed port by port
    assert 0 < fallbacks < 20
