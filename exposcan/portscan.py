"""TCP connect scan: open / closed / filtered, for any user.

Python's cost per connection, not the network, bounds a connect scan (see
LAB-NOTES: ~11 s for 65,535 ports with raw non-blocking sockets): so no
StreamReader per port, one socket and ``loop.sock_connect`` each, and a fixed
pool of workers pulling from one shared iterator instead of a task per port.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from exposcan.limits import RateLimiter
from exposcan.netio import tcp_socket


class PortState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"


@dataclass(frozen=True)
class PortResult:
    host: str
    port: int
    state: PortState


async def probe_port(host: str, port: int, timeout: float) -> PortState:
    loop = asyncio.get_running_loop()
    sock = tcp_socket()
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (host, port))
        return PortState.OPEN
    except ConnectionRefusedError:
        return PortState.CLOSED
    except TimeoutError:
        return PortState.FILTERED
    except OSError as exc:
        # ICMP unreachable from a firewall reads as filtered, as in nmap.
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES):
            return PortState.FILTERED
        return PortState.FILTERED
    finally:
        sock.close()


async def connect_scan(
    jobs: Iterator[tuple[str, int]],
    *,
    workers: int,
    timeout: float,
    rate: RateLimiter,
    on_result: Callable[[PortResult], None],
) -> None:
    """Scan (host, port) pairs with ``workers`` concurrent connects."""

    async def worker() -> None:
        for host, port in jobs:  # a shared iterator: each pair is taken once
            await rate.acquire()
            state = await probe_port(host, port, timeout)
            on_result(PortResult(host, port, state))

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, workers)):
            group.create_task(worker())
