"""The connect sweep against loopback: states, deadlines, rate, stop."""

import asyncio
import contextlib
import socket
import threading
import time

from exposcan.net.portscan import PortResult, PortState, connect_scan, probe_port, sweep


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return int(port)


def test_open_and_closed_ports_with_a_small_window() -> None:
    # Given 3 listening ports among 200 ports
    listeners = [_listener() for _ in range(3)]
    open_ports = {s.getsockname()[1] for s in listeners}
    ports = sorted(open_ports | {_closed_port() for _ in range(197)})
    results: list[PortResult] = []
    # When swept 16 at a time
    sweep(
        iter(("127.0.0.1", p) for p in ports),
        window=16,
        timeout=1.0,
        rate=0,
        on_result=results.append,
        stop=threading.Event(),
    )
    for s in listeners:
        s.close()
    # Then every port has exactly one answer, and the open ones are the listeners
    assert sorted(r.port for r in results) == ports
    assert {r.port for r in results if r.state is PortState.OPEN} == open_ports
    assert all(r.state is PortState.CLOSED for r in results if r.port not in open_ports)


def test_rate_spaces_connection_starts() -> None:
    results: list[PortResult] = []
    started = time.monotonic()
    sweep(
        iter(("127.0.0.1", _closed_port()) for _ in range(6)),
        window=10,
        timeout=1.0,
        rate=20,
        on_result=results.append,
        stop=threading.Event(),
    )
    assert len(results) == 6
    assert time.monotonic() - started >= 0.24  # 5 intervals of 50 ms


def test_stop_ends_the_sweep_promptly() -> None:
    stop = threading.Event()
    stop.set()
    results: list[PortResult] = []
    sweep(
        iter(("127.0.0.1", p) for p in range(1, 65536)),
        window=100,
        timeout=1.0,
        rate=0,
        on_result=results.append,
        stop=stop,
    )
    assert results == []


async def test_open_ports_reach_the_event_loop_only() -> None:
    listener = _listener()
    port = listener.getsockname()[1]
    closed = _closed_port()
    seen: list[PortResult] = []
    counts: list[int] = []
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def on_open(r: PortResult) -> None:
        threads.add(threading.get_ident())
        seen.append(r)

    await connect_scan(
        iter([("127.0.0.1", port), ("127.0.0.1", closed)]),
        workers=4,
        timeout=1.0,
        rate=0,
        on_result=on_open,
        on_progress=counts.append,
    )
    listener.close()
    assert seen == [PortResult("127.0.0.1", port, PortState.OPEN)]
    assert threads == {loop_thread}  # engine state is only touched on the loop
    assert counts[-1] == 2
    assert await probe_port("127.0.0.1", closed, 1.0) is PortState.CLOSED


async def test_cancelling_the_scan_stops_its_thread() -> None:
    # Given a sweep of a million refused ports, counting answers from its thread
    answered: list[int] = [0]

    def count(done: int) -> None:
        answered[0] = done

    task = asyncio.create_task(  # noqa: RUF006 - awaited below
        connect_scan(
            iter(("127.0.0.1", _closed_port()) for _ in range(10**6)),
            workers=8,
            timeout=1.0,
            rate=0,
            on_result=lambda r: None,
            on_progress=count,
        )
    )
    await asyncio.sleep(0.3)
    # When it is cancelled (Ctrl-C)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)
    after_stop = answered[0]
    await asyncio.sleep(0.3)
    # Then it had been working, and its thread stopped: no answer since
    assert after_stop > 0
    assert answered[0] == after_stop


def test_ipv4_and_ipv6_loopback_in_one_sweep() -> None:
    # Given a listener on ::1 and one on 127.0.0.1, and a closed port on ::1
    v6 = socket.socket(socket.AF_INET6)
    v6.bind(("::1", 0))
    v6.listen(8)
    v4 = _listener()
    spare = socket.socket(socket.AF_INET6)
    spare.bind(("::1", 0))
    closed = spare.getsockname()[1]
    spare.close()
    jobs = [("::1", v6.getsockname()[1]), ("127.0.0.1", v4.getsockname()[1]), ("::1", closed)]
    results: list[PortResult] = []
    # When one sweep covers both families
    sweep(
        iter(jobs), window=4, timeout=1.0, rate=0, on_result=results.append, stop=threading.Event()
    )
    v6.close()
    v4.close()
    # Then each address family's socket found its own port's state
    states = {(r.host, r.port): r.state for r in results}
    assert states == {
        jobs[0]: PortState.OPEN,
        jobs[1]: PortState.OPEN,
        jobs[2]: PortState.CLOSED,
    }


async def test_probe_port_over_ipv6() -> None:
    # Given a listener on ::1
    v6 = socket.socket(socket.AF_INET6)
    v6.bind(("::1", 0))
    v6.listen(8)
    port = v6.getsockname()[1]
    # When one port is probed from the event loop, then after it is closed
    first = await probe_port("::1", port, 1.0)
    v6.close()
    second = await probe_port("::1", port, 1.0)
    # Then it was open, then closed
    assert (first, second) == (PortState.OPEN, PortState.CLOSED)
