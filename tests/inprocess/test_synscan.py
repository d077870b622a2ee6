"""The SYN sweep against loopback listeners, as root; the connect sweep as
the reference, and the unprivileged fallback."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from exposcan.net import mmsg
from exposcan.net.portscan import PortResult, PortState, sweep
from exposcan.net.synscan import (
    ACK,
    RST,
    SYN,
    answer_filter,
    attach_filter,
    open_raw,
    reserve_port,
    syn_sweep,
)
from tests.support.cli import cli_env, run_cli
from tests.support.requirements import missing

#: A process without CAP_NET_RAW (a user account, a container).
WITHOUT_RAW_SOCKETS = ("setpriv", "--bounding-set=-net_raw")


@pytest.fixture
def raw_sockets() -> None:
    """SYN scanning needs root: make test runs as root, a developer may not."""
    if os.geteuid() != 0:
        missing("root (raw sockets)")


root_only = pytest.mark.usefixtures("raw_sockets")


def _listeners(count: int) -> list[socket.socket]:
    out = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        out.append(sock)
    return out


def _closed_ports(count: int) -> set[int]:
    holders = [socket.socket() for _ in range(count)]
    for h in holders:
        h.bind(("127.0.0.1", 0))
    ports = {h.getsockname()[1] for h in holders}
    for h in holders:
        h.close()
    return ports


def _run(sweeper: object, ports: list[int], **kw: object) -> dict[int, PortState]:
    results: list[PortResult] = []
    sweeper(
        iter(("127.0.0.1", p) for p in ports),
        window=64,
        timeout=1.0,
        rate=0,  # type: ignore[operator]
        on_result=results.append,
        stop=kw.get("stop", threading.Event()),
    )
    return {r.port: r.state for r in results}


@root_only
def test_syn_and_connect_sweeps_agree_with_the_listeners() -> None:
    # Given 4 listening ports among 400 ports of loopback
    listeners = _listeners(4)
    open_ports = {s.getsockname()[1] for s in listeners}
    ports = sorted(open_ports | _closed_ports(396))
    try:
        # When both sweeps run over them
        syn = _run(syn_sweep, ports)
        connect = _run(sweep, ports)
    finally:
        for s in listeners:
            s.close()
    # Then each port has one answer, the same from both, and open = listening
    assert sorted(syn) == ports
    assert syn == connect
    assert {p for p, st in syn.items() if st is PortState.OPEN} == open_ports


@root_only
def test_syn_probes_leave_no_connection_behind() -> None:
    # Given a listener that is SYN-scanned
    (listener,) = _listeners(1)
    port = listener.getsockname()[1]
    listener.setblocking(False)
    try:
        assert _run(syn_sweep, [port]) == {port: PortState.OPEN}
        time.sleep(0.1)
        # Then our kernel answered its SYN-ACK with a RST: nothing reached
        # the accept queue (a connect scan would leave an accepted socket)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


@root_only
def test_stop_ends_the_syn_sweep_promptly() -> None:
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    assert _run(syn_sweep, list(range(1, 65536)), stop=stop) == {}
    assert time.monotonic() - started < 1.0


PICKS = (
    "from exposcan.net.portscan import sweep\n"
    "from exposcan.net.synscan import choose_sweeper, syn_available\n"
    "print(syn_available(), choose_sweeper('auto') is sweep)\n"
)


@root_only
def test_without_raw_sockets_auto_is_the_connect_scan() -> None:
    # Given a process that may not open raw sockets
    proc = subprocess.run(
        [*WITHOUT_RAW_SOCKETS, sys.executable, "-c", PICKS],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
        check=False,
    )
    # Then "auto" picks the connect scan
    assert proc.stdout.split() == ["False", "True"], proc.stderr


@root_only
def test_without_raw_sockets_an_explicit_syn_scan_is_refused() -> None:
    (listener,) = _listeners(1)
    port = listener.getsockname()[1]
    try:
        # When such a process asks for a SYN scan, then for the default
        refused = run_cli(
            "scan",
            "-q",
            "--no-probes",
            "--scan-type",
            "syn",
            "-p",
            str(port),
            "127.0.0.1",
            prefix=WITHOUT_RAW_SOCKETS,
        )
        auto = run_cli(
            "scan", "--no-probes", "-p", str(port), "127.0.0.1", prefix=WITHOUT_RAW_SOCKETS
        )
    finally:
        listener.close()
    # Then the SYN scan is an error that says why; the default still scans
    assert refused.returncode == 2
    assert "needs root" in refused.stderr
    assert auto.returncode == 0, auto.stderr  # a port scan makes no finding
    assert str(port) in auto.stdout


@root_only
def test_a_job_given_twice_gets_two_answers() -> None:
    (listener,) = _listeners(1)
    port = listener.getsockname()[1]
    results: list[PortResult] = []
    try:
        syn_sweep(
            iter([("127.0.0.1", port), ("127.0.0.1", port)]),
            window=8,
            timeout=1.0,
            rate=0,
            on_result=results.append,
            stop=threading.Event(),
        )
    finally:
        listener.close()
    assert results == [PortResult("127.0.0.1", port, PortState.OPEN)] * 2


@root_only
def test_syn_sweep_over_ipv6_loopback() -> None:
    # Given a listener on ::1 and a closed port next to it
    listener = socket.socket(socket.AF_INET6)
    listener.bind(("::1", 0))
    listener.listen(8)
    spare = socket.socket(socket.AF_INET6)
    spare.bind(("::1", 0))
    closed = spare.getsockname()[1]
    spare.close()
    ports = [listener.getsockname()[1], closed]
    results: list[PortResult] = []
    try:
        # When the SYN sweep (a raw IPv6 socket) scans both
        syn_sweep(
            iter(("::1", p) for p in ports),
            window=8,
            timeout=1.0,
            rate=0,
            on_result=results.append,
            stop=threading.Event(),
        )
    finally:
        listener.close()
    # Then the listener is open and the other port closed, as connect() says
    assert {r.port: r.state for r in results} == {
        ports[0]: PortState.OPEN,
        ports[1]: PortState.CLOSED,
    }


def _segment(sport: int, dport: int, ident: int, flags: int) -> bytes:
    # 20 bytes of TCP header; the acknowledgment number names the segment.
    return struct.pack("!HHIIBBHHH", sport, dport, 1, ident, 5 << 4, flags, 1024, 0, 0)


@root_only
@pytest.mark.parametrize(
    ("family", "loopback"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_the_socket_filter_passes_answers_to_our_port_only(
    family: socket.AddressFamily, loopback: str
) -> None:
    # Given a raw socket filtered for answers to our reserved port
    holder = reserve_port()
    ours = holder.getsockname()[1]
    watched = open_raw(family)
    sender = open_raw(family)
    try:
        assert attach_filter(watched, answer_filter(ours, ipv6=family == socket.AF_INET6))
        while True:  # what was queued before the filter was attached
            try:
                watched.recv(2048)
            except BlockingIOError:
                break
        # When segments of every kind reach this machine from port 7
        segments = {
            1: (ours, SYN | ACK),  # open
            2: (ours, RST | ACK),  # closed
            3: (ours, RST),  # closed (RFC 9293 §3.10.7.1 without ACK)
            4: (ours + 1 if ours < 65535 else 1, SYN | ACK),  # another port's
            5: (ours, ACK),  # no answer to a SYN
            6: (ours, SYN),  # a SYN: our own probe, seen on loopback
        }
        for ident, (dport, flags) in segments.items():
            sender.sendto(_segment(7, dport, ident, flags), (loopback, 0))
        passed: set[int] = set()
        for tcp in _segments_seen(watched, 0.5, ipv4=family == socket.AF_INET):
            sport, dport, _seq, ack = struct.unpack_from("!HHII", tcp)
            assert dport == ours  # nothing else gets through
            if sport == 7:
                passed.add(ack)
    finally:
        watched.close()
        sender.close()
        holder.close()
    # Then the SYN-ACK and both RSTs to our port reach us, and nothing else
    assert passed == {1, 2, 3}


def _segments_seen(sock: socket.socket, seconds: float, ipv4: bool = True) -> Iterator[bytes]:
    """The TCP segments a non-blocking raw socket receives for ``seconds``
    (an IPv4 raw socket hands the IP header too; an IPv6 one does not)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = sock.recv(2048)
        except BlockingIOError:
            time.sleep(0.001)
            continue
        yield data[(data[0] & 0x0F) * 4 :] if ipv4 else data


def _swept_with_a_forged_answer(ack_of: Callable[[int], int]) -> PortState:
    """Sweep one loopback port that never answers (its listener's accept queue
    is full: Linux drops the SYN), while a raw socket answers our SYN with a
    SYN-ACK whose acknowledgment number is ``ack_of(our sequence number)``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    clients = [socket.socket() for _ in range(3)]
    for client in clients:
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
    time.sleep(0.1)  # the first is queued, the others' SYNs are dropped
    sniffer, forger = open_raw(), open_raw()
    results: list[PortResult] = []
    sweep_thread = threading.Thread(
        target=syn_sweep,
        args=(iter([("127.0.0.1", port)]),),
        kwargs={
            "window": 1,
            "timeout": 0.3,
            "rate": 0,
            "on_result": results.append,
            "stop": threading.Event(),
        },
    )
    try:
        sweep_thread.start()
        for tcp in _segments_seen(sniffer, 2.0):
            sport, dport, seq, _ack, _off, flags, window = struct.unpack_from("!HHIIBBH", tcp)
            # Our probe: a SYN with the sweep's window (the clients' are larger)
            if dport == port and flags == SYN and window == 1024:
                forged = _segment(port, sport, ack_of(seq) & 0xFFFFFFFF, SYN | ACK)
                forger.sendto(forged, ("127.0.0.1", 0))
                break
        sweep_thread.join(5)
    finally:
        for sock in (sniffer, forger, listener, *clients):
            sock.close()
    assert len(results) == 1
    return results[0].state


@root_only
def test_a_syn_ack_that_does_not_acknowledge_our_number_marks_nothing_open() -> None:
    # Given a port that never answers, and an outsider who sees our SYN's
    # port but guesses its sequence number wrong (or leaves the ACK at 0)
    # When it answers in the target's name
    # Then the port stays silent: filtered, not open
    assert _swept_with_a_forged_answer(lambda seq: seq + 2) is PortState.FILTERED
    assert _swept_with_a_forged_answer(lambda seq: 0) is PortState.FILTERED


@root_only
def test_a_syn_ack_that_acknowledges_our_number_is_an_open_port() -> None:
    # Given the same silent port, when the answer acknowledges seq + 1
    # (RFC 9293 §3.10.7.3), as a listening target's does
    # Then it counts: the forged answers above failed on their number alone
    assert _swept_with_a_forged_answer(lambda seq: seq + 1) is PortState.OPEN


@root_only
def test_stop_during_a_sweep_ends_it_promptly() -> None:
    # Given a sweep of every loopback port 16 times over (a million jobs),
    # each answered at once: the window never fills, the loop never waits
    stop = threading.Event()
    results: list[PortResult] = []
    jobs = (("127.0.0.1", port) for _ in range(16) for port in range(1, 65536))
    sweep_thread = threading.Thread(
        target=syn_sweep,
        args=(jobs,),
        kwargs={
            "window": 64,
            "timeout": 1.0,
            "rate": 0,
            "on_result": results.append,
            "stop": stop,
        },
    )
    sweep_thread.start()
    time.sleep(0.3)
    # When it is stopped (Ctrl-C) in the middle
    stop.set()
    sweep_thread.join(1.0)
    # Then it had been answering, and it ended well before its million
    assert not sweep_thread.is_alive()
    assert 0 < len(results) < 16 * 65535


@root_only
def test_closed_ports_are_counted_when_the_caller_only_counts_them() -> None:
    # Given 3 listeners among 300 loopback ports
    listeners = _listeners(3)
    opened = {sock.getsockname()[1] for sock in listeners}
    ports = sorted(_closed_ports(297) | opened)
    results: list[PortResult] = []
    counts: list[int] = []
    try:
        # When the SYN sweep is given on_closed
        syn_sweep(
            iter(("127.0.0.1", p) for p in ports),
            window=64,
            timeout=1.0,
            rate=0,
            on_result=results.append,
            stop=threading.Event(),
            on_closed=counts.append,
        )
    finally:
        for sock in listeners:
            sock.close()
    # Then the open ports are results, the closed ones only counts (in
    # batches: fewer calls than ports), and every job is accounted for
    assert {r.port: r.state for r in results} == dict.fromkeys(opened, PortState.OPEN)
    assert sum(counts) == len(ports) - len(opened)
    assert len(counts) < len(ports) - len(opened)


@root_only
def test_a_closed_job_given_twice_is_counted_twice() -> None:
    (closed,) = _closed_ports(1)
    counts: list[int] = []
    syn_sweep(
        iter([("127.0.0.1", closed), ("127.0.0.1", closed)]),
        window=8,
        timeout=1.0,
        rate=0,
        on_result=lambda r: None,
        stop=threading.Event(),
        on_closed=counts.append,
    )
    assert sum(counts) == 2


@root_only
@pytest.mark.parametrize("window", [1, 7, 64, 3000])
def test_no_send_batch_exceeds_the_window_or_linux_limit(
    monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    # Given sendmmsg watched: how many SYNs each call is given
    sizes: list[int] = []
    send = mmsg.Batch.send

    def watched(self: mmsg.Batch, count: int, start: int = 0) -> int:
        sizes.append(count - start)
        return send(self, count, start)

    monkeypatch.setattr(mmsg.Batch, "send", watched)
    ports = sorted(_closed_ports(200))
    counts: list[int] = []
    # When loopback ports are swept with that window (2,000 jobs)
    syn_sweep(
        iter(("127.0.0.1", p) for _ in range(10) for p in ports),
        window=window,
        timeout=1.0,
        rate=0,
        on_result=lambda r: None,
        stop=threading.Event(),
        on_closed=counts.append,
    )
    # Then every job was answered, no batch held more unanswered probes than
    # the window, nor more than Linux takes in one call (1024), and a large
    # window sends large batches (few system calls)
    assert sum(counts) == 2000
    assert max(sizes) <= min(window, 1024)
    if window >= 64:
        assert len(sizes) < 2000 / 16


@root_only
def test_the_rate_spaces_new_probes_though_they_go_in_batches() -> None:
    # Given 120 closed loopback ports, answered at once
    ports = sorted(_closed_ports(120))
    counts: list[int] = []
    started = time.monotonic()
    # When they are swept at 400 probes a second, with room for all in the window
    syn_sweep(
        iter(("127.0.0.1", p) for p in ports),
        window=500,
        timeout=1.0,
        rate=400,
        on_result=lambda r: None,
        stop=threading.Event(),
        on_closed=counts.append,
    )
    elapsed = time.monotonic() - started
    # Then they took about 120 / 400 s (not one batch at once), all answered
    assert sum(counts) == 120
    assert 0.25 <= elapsed < 1.0
