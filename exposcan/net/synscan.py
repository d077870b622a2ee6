"""TCP SYN scan ("half-open", nmap -sS) for root: raw packets, no sockets.

Why: a connect scan pays Python's cost of a socket, a connect() and a close()
per port (LAB-NOTES: nmap -sT 1.7 s for 65,535 ports, -sS 0.8 s).  Here a
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

import errno
import os
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

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
        self._dst_sums: dict[bytes, int] = {}

    def packet(self, dst: bytes, dport: int, seq: int) -> bytes:
        dsum = self._dst_sums.get(dst)
        if dsum is None:
            dsum = self._dst_sums[dst] = _words(dst)
        total = self._base + dsum + dport + (seq >> 16) + (seq & 0xFFFF)
        return self._PACK.pack(
            self.sport,
            dport,
            seq,
            0,
            (HEADER_LEN // 4) << 4,
            SYN,
            WINDOW,
            checksum_fold(total),
            0,
            MSS_OPTION,
        )


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


class SequenceKey:
    """Initial sequence numbers that only we can predict: a keyed hash of the
    destination, so an answer's ACK proves it answers our probe."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = int.from_bytes(secret or os.urandom(8), "big")
        self._bases: dict[bytes, int] = {}

    def seq(self, dst: bytes, dport: int) -> int:
        # A keyed mix of the address, once per host; the port is added with
        # an odd multiplier, so each port of a host gets its own number.
        base = self._bases.get(dst)
        if base is None:
            x = (int.from_bytes(dst, "big") * 0x9E3779B97F4A7C15) ^ self._secret
            x = ((x ^ (x >> 29)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
            base = self._bases[dst] = (x ^ (x >> 32)) & 0xFFFFFFFF
        return (base + dport * 0x9E3779B1) & 0xFFFFFFFF


class RttEstimator:
    """RFC 6298 §2 smoothed round-trip time, per host."""

    def __init__(self, initial: float) -> None:
        self.initial = initial
        self._srtt: dict[bytes, tuple[float, float]] = {}

    def sample(self, host: bytes, rtt: float) -> None:
        old = self._srtt.get(host)
        if old is None:
            self._srtt[host] = (rtt, rtt / 2)
        else:
            srtt, var = old
            var = 0.75 * var + 0.25 * abs(srtt - rtt)
            self._srtt[host] = (0.875 * srtt + 0.125 * rtt, var)

    def timeout(self, host: bytes) -> float:
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


@dataclass(slots=True)
class _Probe:
    host: str
    port: int
    sent: float
    tries: int


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
    """
    raw = open_raw()
    try:
        raw6: socket.socket | None = open_raw(socket.AF_INET6)
    except OSError:  # IPv6 off here: IPv6 targets end "filtered", as connect() would
        raw6 = None
    holder = reserve_port()
    sport = holder.getsockname()[1]
    keys = SequenceKey()
    rtt = RttEstimator(timeout)
    templates: dict[bytes, SynTemplate] = {}  # by source address
    dst_src: dict[str, tuple[bytes, bytes]] = {}  # host -> (dst, src)
    pending: dict[tuple[bytes, int], _Probe] = {}
    # Send order = deadline order per retry round; stale entries skipped.
    order: deque[tuple[bytes, int, float]] = deque()
    resend: deque[tuple[bytes, int]] = deque()
    exhausted = False
    interval = 1.0 / rate if rate > 0 else 0.0
    next_start = time.monotonic()
    window = max(1, window)
    sendto = raw.sendto
    sendto6 = raw6.sendto if raw6 is not None else None

    twins: dict[tuple[bytes, int], int] = {}

    def finish(key: tuple[bytes, int], state: PortState) -> None:
        probe = pending.pop(key)
        result = PortResult(probe.host, probe.port, state)
        for _ in range(1 + (twins.pop(key, 0) if twins else 0)):
            on_result(result)

    def send(dst: bytes, src: bytes, host: str, port: int, now: float) -> bool:
        """False if the kernel refused the packet for good (no route)."""
        packet = templates[src].packet(dst, port, keys.seq(dst, port))
        try:
            if len(dst) == 4:
                sendto(packet, (host, 0))
            elif sendto6 is not None:
                sendto6(packet, (host, 0))
            else:
                return False
        except OSError as exc:
            # A full queue is not an answer: the retry timer resends.
            return exc.errno in (errno.ENOBUFS, errno.EAGAIN)
        return True

    recv = raw.recv
    unpack = _TCP_PREFIX.unpack_from

    def receive() -> None:
        # parse_answer() inlined: this runs once per port.  The kernel hands
        # raw sockets reassembled IPv4 datagrams of our protocol only, so
        # the checks left are length, our port and the ACK number.
        while True:
            try:
                data = recv(RECV_SIZE)
            except BlockingIOError:
                return
            ihl = (data[0] & 0x0F) * 4
            if len(data) < ihl + 14:
                continue
            port, dport, _seq, ack = unpack(data, ihl)
            if dport != sport:
                continue
            src = data[12:16]
            key = (src, port)
            probe = pending.get(key)
            if probe is None or ack != (keys.seq(src, port) + 1) & 0xFFFFFFFF:
                continue
            state = state_of(data[ihl + 13])
            if state is None:
                continue
            if probe.tries == 1:  # Karn's rule: only unambiguous samples
                rtt.sample(src, time.monotonic() - probe.sent)
            finish(key, state)

    def receive6() -> None:
        # A raw IPv6 socket gives the TCP segment alone; the source address
        # comes from recvfrom (RFC 3542 §3).
        assert raw6 is not None
        while True:
            try:
                data, peer = raw6.recvfrom(RECV_SIZE)
            except BlockingIOError:
                return
            if len(data) < 14:
                continue
            port, dport, _seq, ack = unpack(data, 0)
            if dport != sport:
                continue
            try:
                src = socket.inet_pton(socket.AF_INET6, str(peer[0]).split("%", 1)[0])
            except OSError:
                continue
            key = (src, port)
            probe = pending.get(key)
            if probe is None or ack != (keys.seq(src, port) + 1) & 0xFFFFFFFF:
                continue
            state = state_of(data[13])
            if state is None:
                continue
            if probe.tries == 1:
                rtt.sample(src, time.monotonic() - probe.sent)
            finish(key, state)

    poller = select.poll()
    poller.register(raw, select.POLLIN)
    if raw6 is not None:
        poller.register(raw6, select.POLLIN)

    def receive_all() -> None:
        receive()
        if raw6 is not None:
            receive6()

    try:
        while not stop.is_set():
            now = time.monotonic()
            # Retries first: they are the oldest work.
            while resend and len(pending) <= window and now >= next_start:
                key = resend.popleft()
                probe = pending.get(key)
                if probe is None:
                    continue
                dst, src = dst_src[probe.host]
                probe.tries += 1
                probe.sent = now
                if send(dst, src, probe.host, probe.port, now):
                    order.append((key[0], key[1], now))
                else:
                    finish(key, PortState.FILTERED)
                if interval:
                    next_start = max(next_start, now) + interval
            while not exhausted and len(pending) < window and now >= next_start:
                try:
                    host, port = next(jobs)
                except StopIteration:
                    exhausted = True
                    break
                pair = dst_src.get(host)
                if pair is None:
                    try:
                        pair = (pack_address(host), source_address(host))
                    except OSError:  # no route: as connect() would say
                        on_result(PortResult(host, port, PortState.FILTERED))
                        continue
                    dst_src[host] = pair
                    if pair[1] not in templates:
                        templates[pair[1]] = SynTemplate(pair[1], sport)
                dst, src = pair
                key = (dst, port)
                if key in pending:  # the same job twice: one probe answers both
                    twins[key] = twins.get(key, 0) + 1
                    continue
                pending[key] = _Probe(host, port, now, 1)
                if send(dst, src, host, port, now):
                    order.append((dst, port, now))
                else:
                    finish(key, PortState.FILTERED)
                if interval:
                    next_start = max(next_start, now) + interval
                # Read answers as we go: the receive buffer must not overflow
                # while a large window is being sent.
                if len(pending) % 256 == 0:
                    receive_all()
            if exhausted and not pending:
                return
            wait = POLL_INTERVAL
            if interval and not resend and (not exhausted):
                wait = max(0.0, min(wait, next_start - now))
            if poller.poll(wait * 1000):
                receive_all()
            now = time.monotonic()
            while order:
                dst, port, sent = order[0]
                key = (dst, port)
                probe = pending.get(key)
                if probe is None or probe.sent != sent:
                    order.popleft()  # answered, or sent again since
                elif sent + rtt.timeout(dst) <= now:
                    order.popleft()
                    if probe.tries > retries:
                        finish(key, PortState.FILTERED)
                    else:
                        resend.append(key)
                else:
                    break
    finally:
        poller.unregister(raw)
        raw.close()
        if raw6 is not None:
            poller.unregister(raw6)
            raw6.close()
        holder.close()


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
