"""TCP SYN scan ("half-open", nmap -sS) for root: raw packets, no sockets.

Why: a connect scan pays Python's cost of a socket, a connect() and a close()
per port (docs/lab.md: nmap -sT 1.7 s for 65,535 ports, -sS 0.8 s).  Here
no port has a file descriptor, a selector entry or kernel socket state: the
SYNs of a batch (up to 1024, what the window allows) are packed into one
buffer and sent by one ``sendmmsg``, and a batch of answers is read by one
``recvmmsg`` and matched as a whole, so that a port costs ~1 µs of Python
beside the kernel's ~3 µs (sending, the target's answer and its delivery;
measured on 65,535 ports of the scale lab).  scapy is not used on this
path: building a packet with it costs ~50 µs, 3 s for every port.

What the target sees (RFC 9293 §3.5): our SYN; it answers SYN-ACK (open) or
RST (closed).  Our kernel has no socket for that SYN-ACK, so it answers with
a RST at once and the target frees its half-open entry: a fragile device
keeps no state longer than for a refused connection, and less than for a
connect scan, whose complete handshake reaches the device's application
(an accept() and a close()).  We never send anything else.

IPv6 (RFC 8200): a second raw socket, the same 24-byte header; the
pseudo-header's sum has the same shape with 16-byte addresses (§8.1), and a
raw IPv6 socket hands us the TCP segment without the IP header, the source
address coming with it (RFC 3542 §3).

Answers are matched by a per-probe sequence number (a keyed hash of the
destination), as nmap and masscan do, so a stray or spoofed packet cannot
mark a port open.  Unanswered probes are sent again (``retries``) after a
timeout that follows the measured round-trip time (RFC 6298 SRTT + 4 RTTVAR,
clamped between ``MIN_RTO`` and the configured scan timeout); what stays
silent is "filtered", as in the connect scan.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from exposcan.net.mmsg import open_batch, sockaddr
from exposcan.net.platform import PORTABLE_ENV, fast_paths
from exposcan.net.portscan import PortResult, PortState, Sweeper, sweep

# TCP flags (RFC 9293 §3.1).
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
# A SYN with one option, MSS 1460, as an ordinary stack sends: some
# middleboxes drop option-less SYNs as scans.  24 bytes, data offset 6.
MSS_OPTION = struct.pack("!BBH", 2, 4, 1460)
HEADER_LEN = 20 + len(MSS_OPTION)
WINDOW = 1024
# Round-trip bounds: nmap's default --min-rtt-timeout (100 ms), below which
# jitter and a busy Python loop would pass for losses; the ceiling (and
# RFC 6298's initial 1 s) is the configured scan timeout.
MIN_RTO = 0.1
RECV_BUFFER = 8 * 1024 * 1024
RECV_SIZE = 128  # IP header (<= 60) + TCP header (<= 60): all we read
POLL_INTERVAL = 0.02
# SYNs per sendmmsg at most (exposcan.net.mmsg), and answers per recvmmsg:
# Linux's limit (UIO_MAXIOV).  A turn of the loop sends what the window
# allows in one call, then reads the answers in one or two.
SEND_BATCH = 1024
RECV_BATCH = 1024


class SynScanUnavailable(OSError):
    """No raw socket here (not root, or no CAP_NET_RAW): use the connect scan."""


def checksum_fold(total: int) -> int:
    """RFC 1071 one's-complement sum, folded to 16 bits and inverted."""
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _words(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def build_syn(src: bytes, dst: bytes, sport: int, dport: int, seq: int) -> bytes:
    """The TCP header of a SYN, checksum included (pseudo-header of RFC 9293
    §3.1).  Reference implementation; the sweep uses :class:`SynTemplate`."""
    header = (
        struct.pack("!HHIIBBHHH", sport, dport, seq, 0, (HEADER_LEN // 4) << 4, SYN, WINDOW, 0, 0)
        + MSS_OPTION
    )
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, HEADER_LEN)
    csum = checksum_fold(_words(pseudo) + _words(header))
    return header[:16] + struct.pack("!H", csum) + header[18:]


class SynTemplate:
    """SYNs from one source address and port: the checksum's constant part is
    summed once, so a packet costs an addition and a ``struct.pack``."""

    _PACK = struct.Struct("!HHIIBBHHH4s")

    def __init__(self, src: bytes, sport: int) -> None:
        self.src = src
        self.sport = sport
        # Everything but the destination address, port and sequence number.
        self._base = (
            _words(src)
            + socket.IPPROTO_TCP
            + HEADER_LEN
            + sport
            + (((HEADER_LEN // 4) << 4) << 8 | SYN)
            + WINDOW
            + _words(MSS_OPTION)
        )

    def packer(self, dst: bytes) -> Callable[[int, int], bytes]:
        """``pack(dport, seq)``: the SYNs to one destination.  Only the port
        and the sequence number change from one to the next, so their sum is
        added to the rest's, summed once (RFC 1624's incremental update)."""
        base = self._base + _words(dst)
        pack = self._PACK.pack
        sport = self.sport
        offset = (HEADER_LEN // 4) << 4

        def pack_syn(dport: int, seq: int) -> bytes:
            total = base + dport + (seq >> 16) + (seq & 0xFFFF)
            # Two folds suffice: the sum of a dozen 16-bit words is < 2**20.
            total = (total & 0xFFFF) + (total >> 16)
            total = (total & 0xFFFF) + (total >> 16)
            return pack(sport, dport, seq, 0, offset, SYN, WINDOW, ~total & 0xFFFF, 0, MSS_OPTION)

        return pack_syn

    def packet(self, dst: bytes, dport: int, seq: int) -> bytes:
        return self.packer(dst)(dport, seq)

    def checksum_constant(self, dst: bytes) -> int:
        """``c`` such that the checksum of the SYN to ``dst`` whose first 8
        bytes, as a big-endian number, are ``w`` is ``65534 - (w + c) %
        65535``: 2**16 is 1 modulo 65535, so ``w`` is, modulo 65535, the sum
        of its four 16-bit words (RFC 1071's sum), and a folded sum ``t > 0``
        is ``(t - 1) % 65535 + 1``.  One modulo per port instead of two folds
        and a mask; the source port, in ``w``, is taken out of the rest."""
        return self._base + _words(dst) - self.sport - 1


@dataclass(frozen=True)
class Answer:
    """What a received TCP segment says about one of our probes."""

    src: bytes
    sport: int  # the scanned port
    dport: int  # our source port
    ack: int
    flags: int


_TCP_PREFIX = struct.Struct("!HHII")


def parse_answer(datagram: bytes) -> Answer | None:
    """An IPv4 datagram as a raw socket delivers it, reduced to what matching
    needs; None for a fragment, a short or a non-TCP datagram."""
    if len(datagram) < 20 or datagram[0] >> 4 != 4 or datagram[9] != socket.IPPROTO_TCP:
        return None
    ihl = (datagram[0] & 0x0F) * 4
    # A later fragment carries no TCP header at its start.
    if struct.unpack_from("!H", datagram, 6)[0] & 0x1FFF or len(datagram) < ihl + 14:
        return None
    sport, dport, _seq, ack = _TCP_PREFIX.unpack_from(datagram, ihl)
    return Answer(datagram[12:16], sport, dport, ack, datagram[ihl + 13])


def state_of(flags: int) -> PortState | None:
    """RFC 9293 §3.10.7.3: SYN-ACK = listening; RST (with ACK) = closed."""
    if flags & RST:
        return PortState.CLOSED
    if flags & (SYN | ACK) == SYN | ACK:
        return PortState.OPEN
    return None


#: Odd, so that the 65,535 ports of a host get 65,535 distinct numbers, and
#: one less than a multiple of 65535, so that a run of ports' checksums come
#: with their sequence numbers out of one range() (pack_run).  Near 2**32
#: times the golden ratio, as a multiplicative hash's.
PORT_STEP = 65535 * 40504 - 1


class SequenceKey:
    """Initial sequence numbers that only we can predict: a keyed hash of the
    destination, so an answer's ACK proves it answers our probe."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = int.from_bytes(secret or os.urandom(8), "big")
        self._bases: dict[bytes, int] = {}

    def base(self, dst: bytes) -> int:
        """The number of ``dst``'s port 0: port p's is ``base + p * PORT_STEP``
        (mod 2**32)."""
        # A keyed mix of the address, once per host; the port is added with
        # an odd multiplier, so each port of a host gets its own number.
        base = self._bases.get(dst)
        if base is None:
            x = (int.from_bytes(dst, "big") * 0x9E3779B97F4A7C15) ^ self._secret
            x = ((x ^ (x >> 29)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
            base = self._bases[dst] = (x ^ (x >> 32)) & 0xFFFFFFFF
        return base

    def seq(self, dst: bytes, dport: int) -> int:
        return (self.base(dst) + dport * PORT_STEP) & 0xFFFFFFFF


class RttEstimator:
    """RFC 6298 §2 smoothed round-trip time, per host."""

    def __init__(self, initial: float) -> None:
        self.initial = initial
        self._srtt: dict[Hashable, tuple[float, float]] = {}

    def sample(self, host: Hashable, rtt: float) -> None:
        old = self._srtt.get(host)
        if old is None:
            self._srtt[host] = (rtt, rtt / 2)
        else:
            srtt, var = old
            var = 0.75 * var + 0.25 * abs(srtt - rtt)
            self._srtt[host] = (0.875 * srtt + 0.125 * rtt, var)

    def timeout(self, host: Hashable) -> float:
        est = self._srtt.get(host)
        if est is None:
            return self.initial
        srtt, var = est
        return min(self.initial, max(MIN_RTO, srtt + 4 * var))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def pack_address(host: str) -> bytes:
    """4 bytes for IPv4, 16 for IPv6 (a scope ``%if`` is not part of it)."""
    family = _family(host)
    return socket.inet_pton(family, host.split("%", 1)[0])


def source_address(dst: str) -> bytes:
    """The address the kernel would send from to ``dst``: connect() on a UDP
    socket asks the routing table and sends nothing."""
    family = _family(dst)
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        probe.connect((dst, 9))
        return socket.inet_pton(family, str(probe.getsockname()[0]).split("%", 1)[0])
    finally:
        probe.close()


def open_raw(family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
    """A raw TCP socket: we write TCP headers, the kernel adds the IP header
    and routes; it also delivers a copy of every TCP segment that arrives."""
    try:
        raw = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_TCP)
    except PermissionError as exc:
        raise SynScanUnavailable(errno.EPERM, "raw sockets need root (CAP_NET_RAW)") from exc
    try:
        try:  # past net.core.rmem_max: root may (SO_RCVBUFFORCE, socket(7))
            raw.setsockopt(socket.SOL_SOCKET, 33, RECV_BUFFER)  # SO_RCVBUFFORCE
        except OSError:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        raw.setblocking(False)
    except OSError:
        raw.close()
        raise
    return raw


def syn_available() -> bool:
    """Raw sockets are allowed here (root, Linux, fast paths not disabled)."""
    if not fast_paths():
        return False
    try:
        open_raw().close()
    except OSError:
        return False
    return True


def reserve_port() -> socket.socket:
    """Hold a local port for our probes' source: bound, never listening, so
    the kernel gives it to no connect() of ours while the sweep runs and still
    answers the SYN-ACKs sent to it with a RST. A dual-stack socket holds it
    for IPv4 and IPv6 at once; IPv4 alone where IPv6 is off."""
    try:
        holder = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("0.0.0.0", 0))
        return holder
    try:
        holder.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        holder.bind(("::", 0))
    except OSError:
        holder.close()
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("0.0.0.0", 0))
    return holder


# --- socket filter -------------------------------------------------------
# Classic BPF (Linux's SO_ATTACH_FILTER, the language of tcpdump -d): the
# kernel drops, before they are queued for us, segments that cannot answer a
# probe: not to our source port, a fragment, or neither SYN-ACK nor RST.
# Everything else the raw socket would copy to us (every TCP segment this
# machine receives) no longer costs a recv() and a parse.
SO_ATTACH_FILTER = 26
_LD_B_ABS, _LD_H_ABS, _LDX_MSH = 0x30, 0x28, 0xB1
_LD_H_IND, _LD_B_IND = 0x48, 0x50
_JEQ, _JSET, _AND, _RET = 0x15, 0x45, 0x54, 0x06


def answer_filter(sport: int, ipv6: bool = False) -> list[tuple[int, int, int, int]]:
    """The filter program (code, jump-if-true, jump-if-false, k) for answers
    to ``sport``.  A raw IPv4 socket sees the IP header first (its length in
    the low nibble of byte 0, RFC 791); a raw IPv6 one the TCP segment alone."""
    tcp: list[tuple[int, int, int, int]]
    if ipv6:
        head: list[tuple[int, int, int, int]] = []
        ld_h, ld_b = _LD_H_ABS, _LD_B_ABS
    else:
        head = [
            (_LD_B_ABS, 0, 0, 9),  # protocol
            (_JEQ, 0, 10, socket.IPPROTO_TCP),
            (_LD_H_ABS, 0, 0, 6),  # flags + fragment offset
            (_JSET, 8, 0, 0x1FFF),  # a later fragment: no TCP header
            (_LDX_MSH, 0, 0, 0),  # X = IP header length
        ]
        ld_h, ld_b = _LD_H_IND, _LD_B_IND
    tcp = [
        (ld_h, 0, 0, 2),  # destination port
        (_JEQ, 0, 5, sport),
        (ld_b, 0, 0, 13),  # flags; a segment too short to hold them is dropped
        (_JSET, 2, 0, RST),
        (_AND, 0, 0, SYN | ACK),
        (_JEQ, 0, 1, SYN | ACK),
        (_RET, 0, 0, RECV_SIZE),  # accepted, cut to what we read
        (_RET, 0, 0, 0),  # dropped
    ]
    return head + tcp


def drain(sock: socket.socket) -> None:
    """Read and drop what ``sock`` has queued (non-blocking)."""
    while True:
        try:
            sock.recv(RECV_SIZE)
        except OSError:  # BlockingIOError: empty
            return


def attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> bool:
    """Attach ``program`` (struct sock_fprog, linux/filter.h); False where the
    kernel has no socket filters: the sweep checks every answer anyway."""
    code = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(buffer))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


# Set in an IPv6 address's key: ::198.19.1.1 is not 198.19.1.1.
_V6 = 1 << 128
_MASK = 0xFFFFFFFF
_Target = tuple[
    int,  # the address as an int (| _V6)
    int,  # its sequence base (SequenceKey.base)
    int,  # its checksum constant (SynTemplate.checksum_constant)
    "ctypes.Array[ctypes.c_char] | None",  # its sockaddr in a sendmmsg batch; None: sendto
    Callable[[int, int], bytes],  # its packer, for sendto
    Callable[[bytes, tuple[str, int]], int],  # the sendto of its family
]

# A SYN as three big-endian 64-bit words, so that a whole batch is packed by
# a struct.pack or two, in C: bytes 0-7 source port, destination
# port, sequence number (per port); 8-15 acknowledgment number 0, data
# offset, SYN, window (the same for every SYN); 16-23 checksum (per port),
# urgent pointer 0, MSS option.
_SECOND_WORD = ((HEADER_LEN // 4) << 4) << 24 | SYN << 16 | WINDOW
_TAIL = int.from_bytes(MSS_OPTION, "big")
_LITTLE = sys.byteorder == "little"
_SLOT = struct.Struct("!QQQ")
# The low half of a native 64-bit word, in 32-bit units.
_LOW = 0 if _LITTLE else 1
# A run of ports shorter than this is packed port by port (pack_ports): the
# arrays of pack_run cost a few µs however short.
RUN_MIN = 16


def prime_slots(slots: memoryview, sport: int) -> None:
    """Write in every SYN slot of ``slots`` (bytes) what is the same in all:
    the source port, the second word, the urgent pointer and the option."""
    for at in range(0, len(slots), HEADER_LEN):
        _SLOT.pack_into(slots, at, sport << 48, _SECOND_WORD, _TAIL)


def pack_ports(
    slots: memoryview, at: int, ports: Sequence[int], base: int, csum: int, sport: int
) -> list[int]:
    """The SYNs to ``ports`` in slots ``at`` onwards of ``slots`` (bytes, as
    ``prime_slots`` left them): ``base`` is the destination's sequence base,
    ``csum`` its SynTemplate.checksum_constant.  Their answers'
    acknowledgment numbers (sequence number + 1), in order.  Two list
    comprehensions, ~0.4 µs a port (measured); :func:`pack_run` does a
    run of consecutive ports in C."""
    first = sport << 48
    # Word 1: source port, port, sequence number (SequenceKey.seq).
    words = [first | port << 32 | (base + port * PORT_STEP) & _MASK for port in ports]
    # Word 3: the checksum, then the urgent pointer and the option.
    tails = [(65534 - (word + csum) % 65535) << 48 | _TAIL for word in words]
    count = len(words)
    as_words, end = slots.cast("Q"), at + count
    as_words[3 * at : 3 * end : 3] = memoryview(struct.pack(f">{count}Q", *words)).cast("Q")
    as_words[3 * at + 2 : 3 * end : 3] = memoryview(struct.pack(f">{count}Q", *tails)).cast("Q")
    return [(word + 1) & _MASK for word in words]


def pack_run(
    slots: memoryview, at: int, port: int, count: int, base: int, csum: int, sport: int
) -> list[int] | None:
    """:func:`pack_ports` for ports ``port`` to ``port + count - 1``, without
    a Python operation per port (~0.14 µs a port, measured); None if the
    run's checksums wrap (once in a host's range: pack_ports does it).

    The sequence numbers of a run are the low halves of ``range(v, ...,
    PORT_STEP)``, with ``v = base + port * PORT_STEP``.  As PORT_STEP is -1
    modulo 65535 and 2**16 is 1, a SYN's checksum comes down to ``(h + d)
    % 65535``, ``h`` the high half of that number and ``d`` a constant of
    the destination: adding ``(d - 65535 q) << 32`` to the range puts the
    checksum in the high half too, while the run's ``h + d`` stays below
    ``65535 (q + 1)``.  One struct.pack of that range into big-endian 64-bit
    words then gives each SYN's checksum and sequence number in network
    order (~35 ns a port; array("Q", range(...)) took 90)."""
    start = base + port * PORT_STEP
    stop = start + count * PORT_STEP
    d = (-1 - sport - base - csum) % 65535
    lift = d - 65535 * (((start >> 32) + d) // 65535)
    if ((stop - PORT_STEP) >> 32) + lift >= 65535:
        return None
    words = memoryview(
        struct.pack(f">{count}Q", *range(start + (lift << 32), stop + (lift << 32), PORT_STEP))
    )
    end = at + count
    # Bytes 4-7 of a word: the sequence number; 2-3: the checksum.
    slots.cast("I")[6 * at + 1 : 6 * end : 6] = words.cast("I")[1::2]
    as_quarters = slots.cast("H")
    as_quarters[12 * at + 8 : 12 * end : 12] = words.cast("H")[1::4]
    dports = struct.pack(f">{count}H", *range(port, port + count))
    as_quarters[12 * at + 1 : 12 * end : 12] = memoryview(dports).cast("H")
    # The acknowledgment numbers: the low halves of the range's numbers + 1.
    acks = struct.pack(f"={count}Q", *range(start + 1, stop + 1, PORT_STEP))
    return memoryview(acks).cast("I")[_LOW::2].tolist()


#: A probe: (its address as an int (| _V6), its port, the acknowledgment
#: number its answer carries: our sequence number + 1).  An answer's key is
#: read from it as it is, so that matching it is a lookup (a forged or late
#: answer has no key in ``pending``), and a batch of answers one set
#: intersection, in C.
_Key = tuple[int, int, int]

# An IPv4 answer without IP options, in one unpack: version/IHL, source
# address, source and destination ports, acknowledgment number, flags.
_ANSWER4 = struct.Struct("!B11xI4xHH4xIxB")
# Its key (source address, source port, acknowledgment number), one recvmmsg
# slot after the other: iter_unpack walks a batch in C.
_KEY4 = struct.Struct("!12xI4xH6xI")
_KEY_SLOT = struct.Struct(_KEY4.format + f"{RECV_SIZE - _KEY4.size}x")
_FLAGS_AT = 33  # an IPv4 answer's TCP flags, without IP options
# 1 where the TCP flags have no RST: what the socket filter lets through
# without RST is a SYN-ACK (bytes.translate: the open ones of a batch in C).
_NO_RST = bytes(0 if flags & RST else 1 for flags in range(256))


# Sweeps side by side, at most (syn_sweep).
SWEEP_WORKERS = 2


def sweep_workers(window: int) -> int:
    """How many sweeps run side by side: one per CPU we may use, up to
    SWEEP_WORKERS, and no more than ``window`` (each keeps its share of it)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(SWEEP_WORKERS, cpus, window))


_Take = Callable[[int], list[tuple[str, int]]]


def _taker(jobs: Iterator[tuple[str, int]], lock: threading.Lock | None = None) -> _Take:
    """``take(n)``: the next ``n`` jobs at most (fewer: the last ones), under
    ``lock`` if several sweeps share ``jobs`` (one lock per batch)."""
    if lock is None:
        return lambda count: list(itertools.islice(jobs, count))

    def take(count: int) -> list[tuple[str, int]]:
        with lock:
            return list(itertools.islice(jobs, count))

    return take


def syn_sweep(
    jobs: Iterator[tuple[str, int]],
    *,
    window: int,
    timeout: float,
    rate: float,
    on_result: Callable[[PortResult], None],
    stop: threading.Event,
    on_closed: Callable[[int], None] | None = None,
    retries: int = 2,
) -> None:
    """Blocking: SYN to every (host, port) of ``jobs``, ``window`` unanswered
    at most (congestion control, as nmap's: a burst larger than a queue on
    the way is lost).  Same contract as :func:`exposcan.net.portscan.sweep`:
    one result per job (a closed port counted in ``on_closed`` when given),
    ``rate`` = new probes per second (0 = unlimited).

    Raises :class:`SynScanUnavailable` before sending anything if raw sockets
    are not allowed.

    Two sweeps run side by side where two CPUs are free, each with its own
    raw socket, source port and half of the window and rate: three quarters
    of a SYN's cost are the kernel's (the send, the target's answer and its
    delivery, all on the sending CPU), which runs without Python's lock.
    Scale lab, 65,535 ports, medians of 8 runs: the sweep took
    0.21 s with two and 0.29 s with one, 0.34 s and 0.38 s with a core kept
    busy (two threads get more of the CPUs' time than one); the second
    costs ~0.04 s of CPU (every answer is copied to both raw sockets).  One
    sweep whose sendmmsg calls a second thread makes, so that the kernel's
    share overlaps the Python of the next batch, was slower: 0.26 s, and
    0.44 s with a core busy (its answers are read on another CPU than the
    one that queued them).  ``on_result`` and ``on_closed`` are called under
    a lock, from either; both threads have ended when this returns.
    """
    workers = sweep_workers(max(1, window))
    sockets = [open_raw() for _ in range(workers)]  # SynScanUnavailable: nothing sent
    if workers == 1:
        try:
            _Sweep(
                _taker(jobs),
                sockets[0],
                window,
                timeout,
                rate,
                on_result,
                on_closed,
                (stop,),
                retries,
            ).run()
        finally:
            sockets[0].close()  # closed already, unless the sweep failed to start
        return
    jobs_lock, lock = threading.Lock(), threading.Lock()
    halt = threading.Event()  # a sweep failed: the others end too
    failures: list[BaseException] = []

    def locked(result: PortResult) -> None:
        with lock:
            on_result(result)

    counted: Callable[[int], None] | None = None
    if on_closed is not None:
        count_closed = on_closed

        def counted(count: int) -> None:
            with lock:
                count_closed(count)

    def work(raw: socket.socket) -> None:
        try:
            _Sweep(
                _taker(jobs, jobs_lock),
                raw,
                max(1, window) // workers,
                timeout,
                rate / workers,
                locked,
                counted,
                (stop, halt),
                retries,
            ).run()
        except BaseException as exc:  # re-raised by the caller's thread
            failures.append(exc)
            halt.set()
        finally:
            raw.close()

    threads = [threading.Thread(target=work, args=(raw,), daemon=True) for raw in sockets[1:]]
    for thread in threads:
        thread.start()
    work(sockets[0])
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


class _Sweep:
    """One sweep over ``raw`` (closed at the end), in the stages a probe goes
    through, which :meth:`run` loops over:

    * ``__init__``: the sockets (a raw IPv6 one besides ``raw``, the source
      port held by a bound socket, each with its answers' filter) and the
      probes' bookkeeping;
    * :meth:`resolve`: a destination's sequence base, checksum constant and
      send path, once per host;
    * :meth:`send_retries` and :meth:`send_new`: the SYNs, as many as the
      window, the rate and a sendmmsg batch (SEND_BATCH) allow, packed a
      batch at a time (:meth:`queue_ports`) and sent by :meth:`flush`;
    * :meth:`receive`: the answers, :meth:`receive4` (recvmmsg) and
      :meth:`receive6`, matched by their acknowledgment number;
    * :meth:`expire`: what the RTT estimator's timeout calls lost, sent again
      or "filtered";
    * :meth:`finish`: a result to ``on_result`` (and to a repeated job's twins).

    Per port, no Python runs but two list comprehensions for ports that do
    not follow each other (:func:`pack_ports`; a run of consecutive ports is
    packed in C by :func:`pack_run`): a probe is a key (_Key) in ``pending``
    (with when it was sent: one float per batch), the retry timer keeps one
    entry per batch, a batch of answers is matched by one set intersection,
    and a closed port is a count.  One turn of :meth:`run` is a batch: over
    the scale lab's veth, a batch's answers are queued before its sendmmsg
    returns, so with a window of 500, 500 SYNs go out and 500 answers come
    back per turn, two system calls (measured).
    """

    def __init__(
        self,
        take: _Take,
        raw: socket.socket,
        window: int,
        timeout: float,
        rate: float,
        on_result: Callable[[PortResult], None],
        on_closed: Callable[[int], None] | None,
        stops: tuple[threading.Event, ...],
        retries: int,
    ) -> None:
        self.take, self.raw, self.on_result, self.stops = take, raw, on_result, stops
        self.on_closed = on_closed
        self.window, self.retries = max(1, window), retries
        try:
            self.raw6: socket.socket | None = open_raw(socket.AF_INET6)
        except OSError:  # IPv6 off here: IPv6 targets end "filtered", as connect() would
            self.raw6 = None
        self.holder = reserve_port()
        self.sport: int = self.holder.getsockname()[1]
        # Without the filter (no socket filters in this kernel), each answer
        # is checked in Python.
        self.filtered = attach_filter(raw, answer_filter(self.sport))
        drain(raw)  # what came before the filter
        if self.raw6 is not None:
            attach_filter(self.raw6, answer_filter(self.sport, ipv6=True))
        self.keys = SequenceKey()
        self.rtt = RttEstimator(timeout)
        self.templates: dict[bytes, SynTemplate] = {}  # by source address
        self.targets: dict[str, _Target | None] = {}  # None: no route to it
        self.names: dict[int, str] = {}  # address -> the host as the jobs name it
        self.pending: dict[_Key, float] = {}  # key -> when last sent
        self.tries: dict[_Key, int] = {}  # keys sent more than once (Karn's rule)
        # The retry timer: (when sent, the keys sent then, their addresses),
        # in send order; a key answered or sent again since is skipped.
        self.order: deque[tuple[float, list[_Key], set[int]]] = deque()
        self.resend: deque[_Key] = deque()
        self.twins: dict[_Key, int] = {}  # key -> jobs beyond the first for it
        self.exhausted = False
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_start = time.monotonic()
        # IPv4 SYNs go out SEND_BATCH at a time (sendmmsg) where Linux allows it.
        self.batch = open_batch(raw, SEND_BATCH, HEADER_LEN)
        if self.batch is not None:
            prime_slots(self.batch.view, self.sport)
        self.queued: list[_Key] = []  # the keys of the batch's SYNs
        self.queued_at = 0.0  # when they were queued (all at once: one loop turn)
        self.queued_addrs: set[int] = set()
        self.buffer = bytearray(RECV_SIZE)  # one answer, without recvmmsg
        self.single = memoryview(self.buffer)
        self.inbox = open_batch(raw, RECV_BATCH, RECV_SIZE)  # answers, by recvmmsg
        self.poller = select.poll()
        self.poller.register(raw, select.POLLIN)
        if self.raw6 is not None:
            self.poller.register(self.raw6, select.POLLIN)

    def run(self) -> None:
        """Send, read, time out, until every job has its result or a stop
        event is set; the sockets are closed at the end."""
        try:
            while not self.stopped():
                now = time.monotonic()
                if self.resend:
                    self.send_retries(now)  # the oldest work first
                self.send_new(now)
                if self.queued:
                    self.flush()
                if self.exhausted and not self.pending:
                    return
                if not self.receive() and not self.can_send(now):
                    # Nothing came and nothing may go: wait for an answer,
                    # the rate's next probe or the retry timer.
                    wait = POLL_INTERVAL
                    if self.interval and not self.resend and not self.exhausted:
                        wait = max(0.0, min(wait, self.next_start - now))
                    if self.poller.poll(wait * 1000):
                        self.receive()
                if self.order:
                    self.expire(time.monotonic())
        finally:
            self.close()

    def can_send(self, now: float) -> bool:
        """A probe may go now: room in the window, work, and the rate allows."""
        return (
            len(self.pending) < self.window
            and (bool(self.resend) or not self.exhausted)
            and now >= self.next_start
        )

    def stopped(self) -> bool:
        """Ctrl-C, a deadline, or a sweep beside this one failed."""
        return any(event.is_set() for event in self.stops)

    def close(self) -> None:
        self.poller.unregister(self.raw)
        self.raw.close()
        if self.raw6 is not None:
            self.poller.unregister(self.raw6)
            self.raw6.close()
        self.holder.close()

    def finish(self, key: _Key, state: PortState) -> None:
        count = 1 + (self.twins.pop(key, 0) if self.twins else 0)
        if state is PortState.CLOSED and self.on_closed is not None:
            self.on_closed(count)
            return
        result = PortResult(self.names[key[0]], key[1], state)
        for _ in range(count):
            self.on_result(result)

    def resolve(self, host: str) -> _Target | None:
        """``host``'s entry in ``targets``, made on its first job."""
        try:
            dst, src = pack_address(host), source_address(host)
        except OSError:  # no route: as connect() would say
            self.targets[host] = None
            return None
        template = self.templates.get(src)
        if template is None:
            template = self.templates[src] = SynTemplate(src, self.sport)
        addr = int.from_bytes(dst, "big") | (_V6 if len(dst) == 16 else 0)
        self.names.setdefault(addr, host)
        base = self.keys.base(dst)
        if len(dst) == 4:
            send_family: Callable[[bytes, tuple[str, int]], int] = self.raw.sendto
        elif self.raw6 is not None:
            send_family = self.raw6.sendto
        else:  # IPv6 off: as connect() would say
            self.targets[host] = None
            return None
        batched = self.batch is not None and len(dst) == 4
        entry = self.targets[host] = (
            addr,
            base,
            template.checksum_constant(dst),
            sockaddr(host) if batched else None,
            template.packer(dst),
            send_family,
        )
        return entry

    def send_new(self, now: float) -> None:
        """The jobs' next probes: as many as the window, the rate and the
        batch allow, taken from ``jobs`` at once."""
        if self.exhausted:
            return
        room = min(self.window - len(self.pending), SEND_BATCH - len(self.queued))
        if room <= 0 or now < self.next_start:
            return
        start = now
        if self.interval:
            # New probes ``interval`` apart: as many as are due.  A late turn
            # of the loop catches up one POLL_INTERVAL at most: no burst
            # after a wait.
            start = max(self.next_start, now - POLL_INTERVAL)
            room = min(room, int((now - start) / self.interval) + 1)
        chunk = self.take(room)
        if len(chunk) < room:
            self.exhausted = True
        if self.interval:
            self.next_start = start + len(chunk) * self.interval
        if not chunk:
            return
        hosts, ports = zip(*chunk, strict=True)
        if hosts.count(hosts[0]) == len(hosts):  # one host (identity first: C speed)
            self.queue_ports(hosts[0], ports, now)
            return
        by_host: dict[str, list[int]] = {}  # port-major jobs: hosts take turns
        for host, port in chunk:
            group = by_host.get(host)
            if group is None:
                by_host[host] = [port]
            else:
                group.append(port)
        for host, group in by_host.items():
            self.queue_ports(host, group, now)

    def target(self, host: str) -> _Target | None:
        return self.targets[host] if host in self.targets else self.resolve(host)

    def queue_ports(self, host: str, ports: Sequence[int], now: float) -> None:
        """SYNs to ``ports`` of ``host`` into the batch: a run of
        consecutive ports by :func:`pack_run`, others by :func:`pack_ports`."""
        entry = self.target(host)
        if entry is None:  # no route: as connect() would say
            result = self.on_result
            for port in ports:
                result(PortResult(host, port, PortState.FILTERED))
            return
        addr, base, csum, name, _, _ = entry
        batch = self.batch
        if name is None or batch is None:  # IPv6, no sendmmsg: one probe at a time
            for port in ports:
                self.queue_one(host, port, entry, now)
            return
        if self.queued and self.queued_at != now:
            self.flush()  # a batch holds one turn's probes: one send time
        queued, pending = self.queued, self.pending
        at, count, first = len(queued), len(ports), ports[0]
        acks = None
        if count >= RUN_MIN and tuple(ports) == tuple(range(first, first + count)):
            acks = pack_run(batch.view, at, first, count, base, csum, self.sport)
        if acks is None:
            acks = pack_ports(batch.view, at, ports, base, csum, self.sport)
        keys = list(zip(itertools.repeat(addr), ports, acks))
        fresh = dict.fromkeys(keys, now)
        if len(fresh) < count or not pending.keys().isdisjoint(fresh):
            # A job given twice: one probe at a time (over the slots just written).
            for port in ports:
                self.queue_one(host, port, entry, now)
            return
        pending.update(fresh)
        batch.aim(at, at + count, name)
        if not queued:
            self.queued_at = now
        queued += keys
        self.queued_addrs.add(addr)
        if len(queued) == SEND_BATCH:
            self.flush()

    def queue_one(self, host: str, port: int, entry: _Target, now: float) -> None:
        """One job's SYN: into the batch, or sent at once (no batch for it)."""
        addr, base = entry[0], entry[1]
        key = (addr, port, (base + port * PORT_STEP + 1) & _MASK)
        pending = self.pending
        if key in pending:  # the same job twice: one probe answers both
            self.twins[key] = self.twins.get(key, 0) + 1
            return
        pending[key] = now
        if not self.send_key(key, entry, now):
            del pending[key]
            self.finish(key, PortState.FILTERED)

    def send_key(self, key: _Key, entry: _Target, now: float) -> bool:
        """``key``'s SYN into the batch (flushed when full), or sent at once.
        False if the kernel refused the packet for good (no route)."""
        addr, base, csum, name, pack, send_family = entry
        port = key[1]
        batch, queued = self.batch, self.queued
        if name is not None and batch is not None:
            if queued and self.queued_at != now:
                self.flush()
            at = len(queued)
            pack_ports(batch.view, at, (port,), base, csum, self.sport)
            batch.aim(at, at + 1, name)
            if not queued:
                self.queued_at = now
            queued.append(key)
            self.queued_addrs.add(addr)
            if len(queued) == SEND_BATCH:
                self.flush()
            return True
        try:
            send_family(pack(port, (base + port * PORT_STEP) & _MASK), (self.names[addr], 0))
        except OSError as exc:
            # A full queue is not an answer: the retry timer resends.
            if exc.errno not in (errno.ENOBUFS, errno.EAGAIN):
                return False
        self.order.append((now, [key], {addr}))
        return True

    def flush(self) -> None:
        """Send the batch: one system call for up to SEND_BATCH SYNs."""
        batch, queued, pending = self.batch, self.queued, self.pending
        assert batch is not None
        count, start = len(queued), 0
        while start < count:
            sent = batch.send(count, start)
            if sent > 0:
                start += sent
            elif -sent in (errno.ENOBUFS, errno.EAGAIN):
                break  # a full queue is not an answer: the retry timer resends
            elif -sent != errno.EINTR:  # refused for good (no route): as connect() says
                key = queued[start]
                if key in pending:
                    del pending[key]
                    self.finish(key, PortState.FILTERED)
                start += 1
        self.order.append((self.queued_at, queued, self.queued_addrs))
        self.queued, self.queued_addrs = [], set()

    def send_retries(self, now: float) -> None:
        """Send again what :meth:`expire` found unanswered, as the window
        and the rate allow."""
        resend, pending, tries = self.resend, self.pending, self.tries
        while resend and len(pending) <= self.window and now >= self.next_start:
            key = resend.popleft()
            if key not in pending:
                continue
            entry = self.targets[self.names[key[0]]]
            assert entry is not None
            tries[key] = tries.get(key, 1) + 1
            pending[key] = now
            if not self.send_key(key, entry, now):
                del pending[key]
                self.finish(key, PortState.FILTERED)
            if self.interval:
                self.next_start = max(self.next_start, now) + self.interval

    def receive(self) -> int:
        """Everything queued: the batch still unsent first, then the answers.
        How many answers came (0: none)."""
        if self.queued:
            self.flush()
        got = self.receive4()
        if self.raw6 is not None:
            got += self.receive6()
        return got

    def receive4(self) -> int:
        """The IPv4 answers; how many came.  One RTT sample per read of the
        queue: RFC 6298 asks for one per round trip at least, and timing
        every answer would cost more than matching it."""
        inbox = self.inbox
        if inbox is None or not self.filtered:
            return self.receive4_each()
        now = time.monotonic()
        pending, names, twins, on_result = self.pending, self.names, self.twins, self.on_result
        total = closed = 0
        sample: _Key | None = None
        while True:
            got = inbox.recv()  # recvmmsg: up to RECV_BATCH answers per system call
            if not got:
                break
            total += got
            data = inbox.view[: got * RECV_SIZE]
            keys: Iterable[_Key]
            parsed: list[_Key] | None = None  # the keys, when parsed one by one
            if min(inbox.lengths(got)) < 34 or bytes(data[::RECV_SIZE]).count(0x45) < got:
                # A short datagram, IP options: each one parsed in full.
                records = self.parse_slots(data, inbox.lengths(got))
                keys = parsed = [record[1:4] for record in records]
                synacks = [record[1:4] for record in records if not record[0] & RST]
            else:
                # The socket filter let through answers to our port only, a
                # SYN-ACK or a RST: their keys, unpacked in C.
                keys = _KEY_SLOT.iter_unpack(data)
                marks = bytes(data[_FLAGS_AT::RECV_SIZE]).translate(_NO_RST)
                synacks = []
                at = marks.find(1)
                while at >= 0:
                    synacks.append(_KEY4.unpack_from(data, at * RECV_SIZE))
                    at = marks.find(1, at + 1)
            for key in synacks:  # the open ports, a few: first
                sent = pending.pop(key, None)
                if sent is None:  # not ours, or answered already
                    continue
                if sample is None and key not in self.tries:
                    sample = key  # Karn's rule: only unambiguous samples
                    self.rtt.sample(key[0], now - sent)
                result = PortResult(names[key[0]], key[1], PortState.OPEN)
                for _ in range(1 + (twins.pop(key, 0) if twins else 0)):
                    on_result(result)
            if self.on_closed is not None and not twins and not self.tries:
                # The closed ports, counted: each answer's key popped from
                # pending, in C (~0.15 µs a port; a set intersection and the
                # deletions took 0.3, a loop over the answers 1 µs).  No
                # probe was sent twice: any answer is a sample.
                sents = list(map(pending.pop, keys, itertools.repeat(None)))
                found = len(sents) - sents.count(None)
                closed += found
                if found and sample is None:
                    index, sent = next((i, t) for i, t in enumerate(sents) if t is not None)
                    if parsed is None:
                        sample = _KEY4.unpack_from(data, index * RECV_SIZE)
                    else:
                        sample = parsed[index]
                    self.rtt.sample(sample[0], now - sent)
            else:
                matched = pending.keys() & keys
                if sample is None:
                    for key in matched:
                        if key not in self.tries:
                            sample = key
                            self.rtt.sample(key[0], now - pending[key])
                        break
                for key in matched:
                    del pending[key]
                if self.on_closed is None:
                    for key in matched:
                        self.finish(key, PortState.CLOSED)
                else:
                    closed += len(matched)
                    if twins:
                        for key in matched:
                            closed += twins.pop(key, 0)
            if got < RECV_BATCH:
                break  # the queue is empty
        if closed:
            assert self.on_closed is not None
            self.on_closed(closed)
        return total

    def receive4_each(self) -> int:
        """The IPv4 answers one by one, each checked in Python: without the
        socket filter (or without recvmmsg)."""
        now = time.monotonic()
        sample = True
        pending, tries, sport = self.pending, self.tries, self.sport
        inbox, total = self.inbox, 0
        while True:
            if inbox is None:
                try:
                    size = self.raw.recv_into(self.buffer)
                except BlockingIOError:
                    break
                got = 1
                records = self.parse_slots(self.single, [size])
            else:
                got = inbox.recv()
                if not got:
                    break
                records = self.parse_slots(inbox.view[: got * RECV_SIZE], inbox.lengths(got))
            total += got
            for flags, addr, port, ack, dport in records:
                key = (addr, port, ack)
                sent = pending.get(key)
                # The ACK must be our keyed number + 1: a stray, late or
                # forged segment has no key in pending.
                if dport != sport or sent is None:
                    continue
                state = state_of(flags)
                if state is None:
                    continue
                del pending[key]
                self.finish(key, state)
                if sample and key not in tries:
                    self.rtt.sample(addr, now - sent)
                    sample = False
            if inbox is None or got < RECV_BATCH:
                break
        return total

    @staticmethod
    def parse_slots(data: memoryview, sizes: Sequence[int]) -> list[tuple[int, int, int, int, int]]:
        """The answers of a recvmmsg batch (slots of RECV_SIZE bytes), each
        parsed in full (parse_answer): (flags, address, port, acknowledgment
        number, destination port); what is no TCP answer left out."""
        records = []
        for index, size in enumerate(sizes):
            at = index * RECV_SIZE
            answer = parse_answer(bytes(data[at : at + size]))
            if answer is not None:
                address = int.from_bytes(answer.src, "big")
                records.append((answer.flags, address, answer.sport, answer.ack, answer.dport))
        return records

    def receive6(self) -> int:
        """The IPv6 answers; how many came.  A raw IPv6 socket gives the TCP
        segment alone; the source address comes from recvfrom (RFC 3542 §3)."""
        raw6, buffer, pending = self.raw6, self.buffer, self.pending
        sport, tries, unpack_tcp = self.sport, self.tries, _TCP_PREFIX.unpack_from
        assert raw6 is not None
        now = time.monotonic()
        sample = True
        got = 0
        while True:
            try:
                size, peer = raw6.recvfrom_into(buffer)
            except BlockingIOError:
                return got
            got += 1
            if size < 14:
                continue
            port, dport, _seq, ack = unpack_tcp(buffer, 0)
            if dport != sport:
                continue
            try:
                src = socket.inet_pton(socket.AF_INET6, str(peer[0]).split("%", 1)[0])
            except OSError:
                continue
            key = (int.from_bytes(src, "big") | _V6, port, ack)
            sent = pending.get(key)
            if sent is None:  # not our number + 1: a stray, late or forged segment
                continue
            state = state_of(buffer[13])
            if state is None:
                continue
            del pending[key]
            self.finish(key, state)
            if sample and key not in tries:
                self.rtt.sample(key[0], now - sent)
                sample = False

    def expire(self, now: float) -> None:
        """The probes whose timeout (the RTT estimator's, per host; a batch
        waits for its slowest host's) has passed: queued to be sent again,
        or "filtered" after ``retries``.  A batch whose probes were all
        answered costs a set intersection, in C."""
        order, pending, tries, timeout = self.order, self.pending, self.tries, self.rtt.timeout
        while order:
            sent, keys, addrs = order[0]
            if sent + max(timeout(addr) for addr in addrs) > now:
                break
            order.popleft()
            if not pending:
                continue
            for key in sorted(pending.keys() & keys):
                if pending[key] != sent:
                    continue  # sent again since
                if tries.get(key, 1) > self.retries:
                    del pending[key]
                    self.finish(key, PortState.FILTERED)
                else:
                    self.resend.append(key)


def choose_sweeper(scan_type: str) -> Sweeper:
    """The sweep for ``--scan-type``: "syn" (raises SynScanUnavailable when
    raw sockets are refused), "connect", or "auto" (SYN when allowed)."""
    if scan_type == "connect":
        return sweep
    if scan_type == "syn":
        if not syn_available():
            raise SynScanUnavailable(
                errno.EPERM,
                "a SYN scan needs root (CAP_NET_RAW) on Linux"
                + (f" ({PORTABLE_ENV} is set)" if os.environ.get(PORTABLE_ENV) else ""),
            )
        return syn_sweep
    if scan_type == "auto":
        return syn_sweep if syn_available() else sweep
    raise ValueError(f"unknown scan type {scan_type!r} (auto, syn, connect)")
