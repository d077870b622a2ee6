"""TCP connect scan: open / closed / filtered, for any user; and how a sweep
(this one, or the SYN scan of ``exposcan.net.synscan`` for root) reaches the
event loop.

Python's cost per connection, not the network, bounds a connect scan
(docs/lab.md: 11 s for 65,535 ports with ``loop.sock_connect``, nmap -sT 1.7 s).
So the sweep does what nmap's connect scan does instead of a coroutine per
port: a window of non-blocking ``connect()`` calls watched by one selector
(epoll on Linux), in a thread of its own; only open ports cross back to the
event loop.  ``make bench`` (bench/) measures it against nmap.
"""

from __future__ import annotations

import errno
import select
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

from exposcan.net.platform import fast_paths
from exposcan.net.sockets import family_of, tcp_socket

# struct linger {l_onoff=1, l_linger=0}: close() sends a RST.
_LINGER_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"

# How often the sweep looks at its deadlines and its stop flag.
POLL_INTERVAL = 0.02


class PortState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"


class PortResult(NamedTuple):
    # A tuple, not a frozen dataclass: a full sweep makes 65,535 of these,
    # and a frozen dataclass costs several times more to build.
    host: str
    port: int
    state: PortState


def _state_of(err: int) -> PortState:
    if err == 0:
        return PortState.OPEN
    if err == errno.ECONNREFUSED:
        return PortState.CLOSED
    # Unreachable, timed out, or anything else: no answer we can trust, as
    # nmap's "filtered".
    return PortState.FILTERED


async def probe_port(host: str, port: int, timeout: float) -> PortState:
    """One port, from the event loop (follow-up checks, not sweeps)."""
    # asyncio here and in connect_scan only: the sweeps run without an
    # event loop (a port scan alone, exposcan.port_scan, loads none).
    import asyncio

    loop = asyncio.get_running_loop()
    sock = tcp_socket(family_of(host))
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (host, port))
        return PortState.OPEN
    except TimeoutError:
        return PortState.FILTERED
    except OSError as exc:
        return _state_of(exc.errno or -1)
    finally:
        sock.close()


class Sweeper(Protocol):
    """A blocking sweep: one result per job, ends soon after ``stop``.  A
    result is an ``on_result`` call, but for a closed port when ``on_closed``
    is given: closed ports are then counted (``on_closed(n)``, n >= 1), not
    reported one by one; they are most of a sweep, and a caller that only
    counts them spares 65,535 calls on a host's full range."""

    def __call__(
        self,
        jobs: Iterator[tuple[str, int]],
        *,
        window: int,
        timeout: float,
        rate: float,
        on_result: Callable[[PortResult], None],
        stop: threading.Event,
        on_closed: Callable[[int], None] | None = None,
    ) -> None: ...


def _closed_counted(
    on_result: Callable[[PortResult], None], on_closed: Callable[[int], None]
) -> Callable[[PortResult], None]:
    """``on_result`` for a sweep that reports each result: a closed port
    goes to ``on_closed`` as a count of one."""

    def deliver(result: PortResult) -> None:
        if result.state is PortState.CLOSED:
            on_closed(1)
        else:
            on_result(result)

    return deliver


@dataclass
class _InFlight:
    sock: socket.socket
    host: str
    port: int
    started: float


def sweep(
    jobs: Iterator[tuple[str, int]],
    *,
    window: int,
    timeout: float,
    rate: float,
    on_result: Callable[[PortResult], None],
    stop: threading.Event,
    on_closed: Callable[[int], None] | None = None,
) -> None:
    """Blocking: connect to every (host, port) of ``jobs``, ``window`` at a time.

    ``rate`` (new connections per second, 0 = unlimited) spaces the starts.
    Returns when every job is answered or timed out, or soon after ``stop``.
    Linux's epoll when allowed (:func:`exposcan.net.platform.fast_paths`),
    else the portable ``selectors`` sweep.  ``on_closed``: see :class:`Sweeper`.
    """
    if on_closed is not None:
        on_result = _closed_counted(on_result, on_closed)
    if not fast_paths() or not hasattr(select, "epoll"):
        portable_sweep(
            jobs, window=window, timeout=timeout, rate=rate, on_result=on_result, stop=stop
        )
        return
    # epoll itself rather than selectors: a closed fd leaves the epoll set
    # by itself (no unregister call), and the event says "connected" without
    # a getsockopt(); a third of the system calls of a refused port went
    # (make bench).  Sockets are made non-blocking by socket() itself.
    poller = select.epoll()
    inflight: dict[int, _InFlight] = {}
    # Start order = deadline order; (fd, started) so a reused fd is told apart.
    order: deque[tuple[int, float]] = deque()
    exhausted = False
    next_start = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0
    out_only = select.EPOLLOUT
    new_socket = socket.socket
    sock_type = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
    inet, inet6 = socket.AF_INET, socket.AF_INET6

    def finish(fd: int, state: PortState) -> None:
        item = inflight.pop(fd)
        if state is PortState.OPEN:
            # RST on close: no TIME_WAIT pile, no half-open state left on a
            # fragile device (refused sockets have no connection to reset).
            item.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        item.sock.close()
        on_result(PortResult(item.host, item.port, state))

    try:
        while not stop.is_set():
            now = time.monotonic()
            while not exhausted and len(inflight) < window and now >= next_start:
                try:
                    host, port = next(jobs)
                except StopIteration:
                    exhausted = True
                    break
                sock = new_socket(inet6 if ":" in host else inet, sock_type)
                err = sock.connect_ex((host, port))
                if err == errno.EINPROGRESS:
                    fd = sock.fileno()
                    inflight[fd] = _InFlight(sock, host, port, now)
                    order.append((fd, now))
                    poller.register(fd, select.EPOLLOUT)
                else:  # answered at once (loopback refusal, unreachable net)
                    if err == 0:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                    sock.close()
                    on_result(PortResult(host, port, _state_of(err)))
                if interval:
                    next_start = max(next_start, now) + interval
            if exhausted and not inflight:
                return
            wait = POLL_INTERVAL if inflight else max(0.0, min(POLL_INTERVAL, next_start - now))
            for fd, events in poller.poll(wait):
                if events == out_only:  # writable, no error: connected
                    finish(fd, PortState.OPEN)
                else:
                    err = inflight[fd].sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    finish(fd, _state_of(err))
            now = time.monotonic()
            while order:
                fd, started = order[0]
                item = inflight.get(fd)
                if item is None or item.started != started:
                    order.popleft()  # answered already; the fd may be reused
                elif started + timeout <= now:
                    order.popleft()
                    finish(fd, PortState.FILTERED)
                else:
                    break
    finally:
        for item in inflight.values():
            item.sock.close()
        poller.close()


def portable_sweep(
    jobs: Iterator[tuple[str, int]],
    *,
    window: int,
    timeout: float,
    rate: float,
    on_result: Callable[[PortResult], None],
    stop: threading.Event,
    on_closed: Callable[[int], None] | None = None,
) -> None:
    """:func:`sweep` on any POSIX system: the default selector (kqueue, poll),
    ``setblocking(False)`` rather than ``SOCK_NONBLOCK``, the error read with
    ``SO_ERROR`` on every writable socket, and sockets unregistered by hand."""
    if on_closed is not None:
        on_result = _closed_counted(on_result, on_closed)
    selector = selectors.DefaultSelector()
    inflight: dict[int, _InFlight] = {}
    order: deque[tuple[int, float]] = deque()
    exhausted = False
    next_start = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0

    def finish(fd: int, state: PortState) -> None:
        item = inflight.pop(fd)
        selector.unregister(item.sock)
        if state is PortState.OPEN:
            item.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        item.sock.close()
        on_result(PortResult(item.host, item.port, state))

    try:
        while not stop.is_set():
            now = time.monotonic()
            while not exhausted and len(inflight) < window and now >= next_start:
                try:
                    host, port = next(jobs)
                except StopIteration:
                    exhausted = True
                    break
                sock = socket.socket(family_of(host), socket.SOCK_STREAM)
                sock.setblocking(False)
                err = sock.connect_ex((host, port))
                if err in (errno.EINPROGRESS, errno.EWOULDBLOCK):
                    fd = sock.fileno()
                    inflight[fd] = _InFlight(sock, host, port, now)
                    order.append((fd, now))
                    selector.register(sock, selectors.EVENT_WRITE)
                else:
                    if err == 0:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                    sock.close()
                    on_result(PortResult(host, port, _state_of(err)))
                if interval:
                    next_start = max(next_start, now) + interval
            if exhausted and not inflight:
                return
            wait = POLL_INTERVAL if inflight else max(0.0, min(POLL_INTERVAL, next_start - now))
            if inflight:
                for key, _ in selector.select(wait):
                    fd = key.fd
                    err = inflight[fd].sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    finish(fd, PortState.OPEN if err == 0 else _state_of(err))
            else:
                time.sleep(wait)
            now = time.monotonic()
            while order:
                fd, started = order[0]
                item = inflight.get(fd)
                if item is None or item.started != started:
                    order.popleft()
                elif started + timeout <= now:
                    order.popleft()
                    finish(fd, PortState.FILTERED)
                else:
                    break
    finally:
        for item in inflight.values():
            item.sock.close()
        selector.close()


async def connect_scan(
    jobs: Iterator[tuple[str, int]],
    *,
    workers: int,
    timeout: float,
    rate: float,
    on_result: Callable[[PortResult], None],
    on_progress: Callable[[int], None] | None = None,
    sweeper: Sweeper = sweep,
) -> None:
    """Scan (host, port) pairs, ``workers`` probes in flight at most, with
    ``sweeper`` (default: connect()s; ``synscan.syn_sweep`` as root).

    ``on_result`` runs on the event loop, for open ports only: they are few,
    and the engine's state is not shared with the sweep's thread.
    ``on_progress`` gets the count of ports answered so far, from the thread.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    stop = threading.Event()
    done = 0
    # Open ports cross to the loop in batches: one wake-up of the loop per
    # port (a pipe write, and the GIL handed back and forth) cost more than
    # the SYN sweep itself on a /24 with 2,500 open ports (make bench).
    batch: list[PortResult] = []
    lock = threading.Lock()

    def deliver() -> None:
        with lock:
            ready = batch[:]
            batch.clear()
        for result in ready:
            on_result(result)

    def counted(count: int) -> None:
        nonlocal done
        before, done = done, done + count
        # Every 256 answers, and at the end: the count is for the progress
        # line (redrawn a few times a second).
        if on_progress is not None and before >> 8 != done >> 8:
            on_progress(done)

    def from_thread(result: PortResult) -> None:
        counted(1)
        if result.state is PortState.OPEN:
            with lock:
                batch.append(result)
                first = len(batch) == 1
            if first:
                loop.call_soon_threadsafe(deliver)

    try:
        await asyncio.to_thread(
            sweeper,
            jobs,
            window=max(1, workers),
            timeout=timeout,
            rate=rate,
            on_result=from_thread,
            stop=stop,
            # Closed ports, most of a sweep, are only counted: no call per port.
            on_closed=counted,
        )
    finally:
        stop.set()  # cancelled (Ctrl-C): the thread ends within POLL_INTERVAL
        if on_progress is not None:
            on_progress(done)
    # Let the open ports queued by the thread reach on_result before we return.
    await asyncio.sleep(0)
    deliver()
