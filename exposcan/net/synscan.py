"""TCP SYN scan ("half-open", nmap -sS) for root: raw packets, no sockets.

Why: a connect scan pays Python's cost of a socket, a connect() and a close()
per port (docs/lab.md: nmap -sT 1.7 s for 65,535 ports, -sS 0.8 s).  Here a
port costs one ``sendto`` of a pre-computed 24-byte TCP header and, for the
answer, one ``recv`` parsed with ``struct``: no file descriptor, no
selector, no kernel socket state.  scapy is not used on this path: building
a packet with it costs ~50 µs, which alone would be 3 s for every port.

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
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
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
# Probes sent between two reads of the answers' queue.
DRAIN_EVERY = 64
# SYNs per sendmmsg (exposcan.net.mmsg): 16 and 256 were slower here.
SEND_BATCH = 64
# Answers per recvmmsg.
RECV_BATCH = 64
# Sweeps side by side, at most (syn_sweep).
SWEEP_WORKERS = 2


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


#: Odd, so that the 65,535 ports of a host get 65,535 distinct numbers.
PORT_STEP = 0x9E3779B1


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


def _no_packer(dport: int, seq: int) -> bytes:  # before the first job's host
    raise AssertionError("no destination yet")


# Set in an IPv6 address's key: ::198.19.1.1 is not 198.19.1.1.
_V6 = 1 << 128
_Target = tuple[
    int,  # the address as an int (| _V6)
    Callable[[int, int], bytes],  # its packer
    int,  # its sequence base
    Callable[[bytes, tuple[str, int]], int],  # the sendto of its family
    "ctypes.Array[ctypes.c_char] | None",  # its sockaddr, for a sendmmsg batch
]

# An IPv4 answer without IP options, in one unpack: version/IHL, source
# address, source and destination ports, acknowledgment number, flags.
_ANSWER4 = struct.Struct("!B11xI4xHH4xIxB")


def sweep_workers(window: int) -> int:
    """How many sweeps run side by side: one per CPU we may use, up to
    SWEEP_WORKERS, and no more than ``window`` (each keeps its share of it)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(SWEEP_WORKERS, cpus, window))


def _share(jobs: Iterator[tuple[str, int]], lock: threading.Lock) -> Iterator[tuple[str, int]]:
    """A view of ``jobs`` for one of several sweeps: each job goes to one
    of them, taken SEND_BATCH at a time (one lock per batch, not per job)."""
    while True:
        with lock:
            chunk = list(itertools.islice(jobs, SEND_BATCH))
        if not chunk:
            return
        yield from chunk


def syn_sweep(
    jobs: Iterator[tuple[str, int]],
    *,
    window: int,
    timeout: float,
    rate: float,
    on_result: Callable[[PortResult], None],
    stop: threading.Event,
    retries: int = 2,
) -> None:
    """Blocking: SYN to every (host, port) of ``jobs``, ``window`` unanswered
    at most (congestion control, as nmap's: a burst larger than a queue on
    the way is lost).  Same contract as :func:`exposcan.net.portscan.sweep`:
    one result per job, ``rate`` = new probes per second (0 = unlimited).

    Raises :class:`SynScanUnavailable` before sending anything if raw sockets
    are not allowed.

    Two sweeps run side by side where two CPUs are free, each with its own
    raw socket, source port and half of the window and rate: most of a SYN's
    cost is the kernel's (the send, the target's answer and its delivery,
    all on the sending CPU), which runs without Python's lock; one sweep
    waits on it about two thirds of the time (make bench: 65,535 ports in
    0.38-0.49 s with two, 0.63-0.87 s with one).  ``on_result`` is called
    under a lock, from either.
    """
    workers = sweep_workers(max(1, window))
    sockets = [open_raw() for _ in range(workers)]  # SynScanUnavailable: nothing sent
    if workers == 1:
        try:
            _Sweep(jobs, sockets[0], window, timeout, rate, on_result, (stop,), retries).run()
        finally:
            sockets[0].close()  # closed already, unless the sweep failed to start
        return
    jobs_lock, lock = threading.Lock(), threading.Lock()
    halt = threading.Event()  # a sweep failed: the others end too
    failures: list[BaseException] = []

    def locked(result: PortResult) -> None:
        with lock:
            on_result(result)

    def work(raw: socket.socket) -> None:
        try:
            _Sweep(
                _share(jobs, jobs_lock),
                raw,
                max(1, window) // workers,
                timeout,
                rate / workers,
                locked,
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
    * :meth:`resolve`: a destination's packer, sequence base and send path,
      once per host;
    * :meth:`send_retries` and :meth:`send_new`: the SYNs, IPv4 ones
      SEND_BATCH at a time (:meth:`flush`, one sendmmsg);
    * :meth:`receive`: the answers, :meth:`receive4` (recvmmsg) and
      :meth:`receive6`, matched by their acknowledgment number;
    * :meth:`expire`: what the RTT estimator's timeout calls lost, sent again
      or "filtered";
    * :meth:`finish`: a result to ``on_result`` (and to a repeated job's twins).

    :meth:`send_new` and :meth:`receive4` run once per port (65,535 times for
    one host's full range): a probe is an int key (address << 16 | port) and
    a float (when it was last sent) in a dict, not an object, and those two
    bind the attributes they use to locals once per call (per batch), not
    per packet.
    """

    def __init__(
        self,
        jobs: Iterator[tuple[str, int]],
        raw: socket.socket,
        window: int,
        timeout: float,
        rate: float,
        on_result: Callable[[PortResult], None],
        stops: tuple[threading.Event, ...],
        retries: int,
    ) -> None:
        self.jobs, self.raw, self.on_result, self.stops = jobs, raw, on_result, stops
        self.window, self.retries = max(1, window), retries
        try:
            self.raw6: socket.socket | None = open_raw(socket.AF_INET6)
        except OSError:  # IPv6 off here: IPv6 targets end "filtered", as connect() would
            self.raw6 = None
        self.holder = reserve_port()
        self.sport: int = self.holder.getsockname()[1]
        attach_filter(raw, answer_filter(self.sport))
        if self.raw6 is not None:
            attach_filter(self.raw6, answer_filter(self.sport, ipv6=True))
        self.keys = SequenceKey()
        self.rtt = RttEstimator(timeout)
        self.templates: dict[bytes, SynTemplate] = {}  # by source address
        self.targets: dict[str, _Target | None] = {}  # None: no route to it
        self.names: dict[int, str] = {}  # address -> the host as the jobs name it
        self.bases: dict[int, int] = {}  # address -> sequence base (SequenceKey.base)
        self.pending: dict[int, float] = {}  # key -> when last sent
        self.tries: dict[int, int] = {}  # keys sent more than once (Karn's rule)
        # Send order = deadline order per retry round; stale entries skipped.
        self.order: deque[tuple[int, float]] = deque()
        self.resend: deque[int] = deque()
        self.twins: dict[int, int] = {}  # key -> jobs beyond the first for it
        self.exhausted = False
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_start = time.monotonic()
        # IPv4 SYNs go out SEND_BATCH at a time (sendmmsg) where Linux allows it.
        self.batch = open_batch(raw, SEND_BATCH, HEADER_LEN)
        self.queued: list[int] = []  # the keys of the batch's SYNs
        self.buffer = bytearray(RECV_SIZE)  # one answer, without recvmmsg
        self.single = memoryview(self.buffer)
        self.inbox = open_batch(raw, RECV_BATCH, RECV_SIZE)  # answers, by recvmmsg
        self.poller = select.poll()
        self.poller.register(raw, select.POLLIN)
        if self.raw6 is not None:
            self.poller.register(self.raw6, select.POLLIN)
        # send_new's place in the jobs: the host it sends to, and its entry.
        self.unsent = 0  # probes sent one by one since the queue was last read
        self.last_host: str | None = None
        self.entry: _Target | None = None

    def run(self) -> None:
        """Send, read, time out, until every job has its result or a stop
        event is set; the sockets are closed at the end."""
        try:
            while not self.stopped():
                now = time.monotonic()
                self.send_retries(now)  # the oldest work first
                self.send_new(now)
                if self.queued:
                    self.flush()
                if self.exhausted and not self.pending:
                    return
                wait = POLL_INTERVAL
                if self.interval and not self.resend and not self.exhausted:
                    wait = max(0.0, min(wait, self.next_start - now))
                if self.poller.poll(wait * 1000):
                    self.receive()
                self.expire(time.monotonic())
        finally:
            self.close()

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

    def finish(self, key: int, state: PortState) -> None:
        result = PortResult(self.names[key >> 16], key & 0xFFFF, state)
        self.on_result(result)
        if self.twins:
            for _ in range(self.twins.pop(key, 0)):
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
        base = self.bases[addr] = self.keys.base(dst)
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
            template.packer(dst),
            base,
            send_family,
            sockaddr(host) if batched else None,
        )
        return entry

    def send(self, host: str, port: int, entry: _Target) -> bool:
        """One SYN (queued if batched).  False if the kernel refused the
        packet for good (no route)."""
        addr, pack, base, send_family, name = entry
        packet = pack(port, (base + port * PORT_STEP) & 0xFFFFFFFF)
        batch, queued = self.batch, self.queued
        if name is not None and batch is not None:
            batch.put(len(queued), packet, name)
            queued.append(addr << 16 | port)
            if len(queued) == batch.size:
                self.flush()
            return True
        try:
            send_family(packet, (host, 0))
        except OSError as exc:
            # A full queue is not an answer: the retry timer resends.
            return exc.errno in (errno.ENOBUFS, errno.EAGAIN)
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
        queued.clear()

    def send_retries(self, now: float) -> None:
        """Send again what :meth:`expire` found unanswered, as the window
        and the rate allow."""
        resend, pending, tries = self.resend, self.pending, self.tries
        while resend and len(pending) <= self.window and now >= self.next_start:
            key = resend.popleft()
            if key not in pending:
                continue
            host = self.names[key >> 16]
            entry = self.targets[host]
            assert entry is not None
            tries[key] = tries.get(key, 1) + 1
            pending[key] = now
            if self.send(host, key & 0xFFFF, entry):
                self.order.append((key, now))
            else:
                del pending[key]
                self.finish(key, PortState.FILTERED)
            if self.interval:
                self.next_start = max(self.next_start, now) + self.interval

    def send_new(self, now: float) -> None:
        """The jobs' next probes, as the window and the rate allow.  This
        runs once per port: send() is inlined for a batched SYN, and the
        state is read into locals here and written back on the way out."""
        jobs, pending, order, twins, queued = (
            self.jobs,
            self.pending,
            self.order,
            self.twins,
            self.queued,
        )
        window, interval, next_start = self.window, self.interval, self.next_start
        targets, on_result, stops = self.targets, self.on_result, self.stops
        batch, unsent, last_host, entry = self.batch, self.unsent, self.last_host, self.entry
        exhausted, send, filtered = self.exhausted, self.send, PortState.FILTERED
        view = batch.view if batch is not None else memoryview(b"")
        slot_names = batch.names if batch is not None else []
        addr, pack, base, _, name = entry if entry is not None else (0, _no_packer, 0, None, None)
        while not exhausted and len(pending) < window and now >= next_start:
            try:
                host, port = next(jobs)
            except StopIteration:
                exhausted = True
                break
            if host is not last_host:  # jobs are port-major: hosts take turns
                entry = targets[host] if host in targets else self.resolve(host)
                last_host = host
                if entry is not None:
                    addr, pack, base, _, name = entry
            if entry is None:
                on_result(PortResult(host, port, filtered))
                continue
            key = addr << 16 | port
            if key in pending:  # the same job twice: one probe answers both
                twins[key] = twins.get(key, 0) + 1
                continue
            pending[key] = now
            order.append((key, now))
            if name is not None and batch is not None:
                # send() inlined: this runs once per port.
                slot = len(queued)
                view[slot * HEADER_LEN : (slot + 1) * HEADER_LEN] = pack(
                    port, (base + port * PORT_STEP) & 0xFFFFFFFF
                )
                if slot_names[slot] is not name:
                    batch.name(slot, name)
                queued.append(key)
                if slot + 1 == SEND_BATCH:
                    # Read the answers of each batch at once: on a LAN they
                    # are queued within microseconds, and a short queue
                    # never overflows RECV_BUFFER.
                    self.receive()
                    if any(event.is_set() for event in stops):
                        break  # Ctrl-C, a deadline: answers come as fast as we send
            else:
                if not send(host, port, entry):
                    del pending[key]
                    self.finish(key, filtered)
                unsent += 1
                if unsent >= DRAIN_EVERY:
                    unsent = 0
                    self.receive()
                    if any(event.is_set() for event in stops):
                        break
            if interval:
                next_start = max(next_start, now) + interval
        self.exhausted, self.next_start = exhausted, next_start
        self.unsent, self.last_host, self.entry = unsent, last_host, entry

    def receive(self) -> None:
        """Everything queued: the batch still unsent first, then the answers."""
        if self.queued:
            self.flush()
        self.receive4()
        if self.raw6 is not None:
            self.receive6()

    def receive4(self) -> None:
        """The IPv4 answers.  The socket filter let through only answers to
        our port (without it, the checks below do its work).  One RTT sample
        per read of the queue: RFC 6298 asks for one per round trip at
        least, and timing every answer would cost more than matching it.
        This runs once per port: inlined, no call but on_result's."""
        now = time.monotonic()
        sample = True
        inbox, pending, bases, names, twins, tries = (
            self.inbox,
            self.pending,
            self.bases,
            self.names,
            self.twins,
            self.tries,
        )
        on_result, sport, unpack4 = self.on_result, self.sport, _ANSWER4.unpack_from
        closed, opened = PortState.CLOSED, PortState.OPEN
        buffer, single, recv_into = self.buffer, self.single, self.raw.recv_into
        while True:
            if inbox is None:
                try:
                    sizes: tuple[int, ...] = (recv_into(buffer),)
                except BlockingIOError:
                    return
                data, slot = single, 0
            else:  # recvmmsg: up to RECV_BATCH answers per system call
                got = inbox.recv()
                if not got:
                    return
                sizes = inbox.lengths(got)
                data, slot = inbox.view, RECV_SIZE
            at = -slot
            for size in sizes:
                at += slot
                if size < 34:
                    continue
                vihl, addr, port, dport, ack, flags = unpack4(data, at)
                if vihl != 0x45:  # IP options (or not IPv4): the general parse
                    answer = parse_answer(bytes(data[at : at + size]))
                    if answer is None:
                        continue
                    addr, port, dport = (
                        int.from_bytes(answer.src, "big"),
                        answer.sport,
                        answer.dport,
                    )
                    ack, flags = answer.ack, answer.flags
                if dport != sport:
                    continue
                key = addr << 16 | port
                sent = pending.get(key)
                # The ACK must be our keyed number + 1: a stray, late or
                # forged segment marks nothing.
                if sent is None or ack != (bases[addr] + port * PORT_STEP + 1) & 0xFFFFFFFF:
                    continue
                if flags & RST:
                    state = closed
                elif flags & (SYN | ACK) == SYN | ACK:
                    state = opened
                else:
                    continue
                del pending[key]
                result = PortResult(names[addr], port, state)
                on_result(result)
                if twins:
                    for _ in range(twins.pop(key, 0)):
                        on_result(result)
                if sample and key not in tries:  # Karn's rule: only unambiguous samples
                    self.rtt.sample(addr, now - sent)
                    sample = False
            if inbox is not None and len(sizes) < RECV_BATCH:
                return  # the queue is empty

    def receive6(self) -> None:
        """The IPv6 answers.  A raw IPv6 socket gives the TCP segment alone;
        the source address comes from recvfrom (RFC 3542 §3)."""
        raw6, buffer, pending, bases = self.raw6, self.buffer, self.pending, self.bases
        sport, tries, unpack_tcp = self.sport, self.tries, _TCP_PREFIX.unpack_from
        assert raw6 is not None
        now = time.monotonic()
        sample = True
        while True:
            try:
                size, peer = raw6.recvfrom_into(buffer)
            except BlockingIOError:
                return
            if size < 14:
                continue
            port, dport, _seq, ack = unpack_tcp(buffer, 0)
            if dport != sport:
                continue
            try:
                src = socket.inet_pton(socket.AF_INET6, str(peer[0]).split("%", 1)[0])
            except OSError:
                continue
            addr = int.from_bytes(src, "big") | _V6
            key = addr << 16 | port
            sent = pending.get(key)
            if sent is None or ack != (bases[addr] + port * PORT_STEP + 1) & 0xFFFFFFFF:
                continue
            state = state_of(buffer[13])
            if state is None:
                continue
            del pending[key]
            self.finish(key, state)
            if sample and key not in tries:
                self.rtt.sample(addr, now - sent)
                sample = False

    def expire(self, now: float) -> None:
        """The probes whose timeout (the RTT estimator's, per host) has
        passed: queued to be sent again, or "filtered" after ``retries``."""
        order, pending, tries, timeout = self.order, self.pending, self.tries, self.rtt.timeout
        while order:
            key, sent = order[0]
            if pending.get(key) != sent:
                order.popleft()  # answered, or sent again since
            elif sent + timeout(key >> 16) <= now:
                order.popleft()
                if tries.get(key, 1) > self.retries:
                    del pending[key]
                    self.finish(key, PortState.FILTERED)
                else:
                    self.resend.append(key)
            else:
                break


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
