"""Two-level concurrency, a rate limit, and deadlines.

As sslyze does: a global limit plus a per-host limit, each job using at most
one connection so the per-host cap is exact (practice devices are fragile: an
old modality falls over at a few parallel associations).  Blocking libraries
(pynetdicom, scapy's SMB client) run in a dedicated thread pool behind the
same limits, with their own library timeouts set, because asyncio cannot
cancel a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Deadlines:
    """Connect / read / total, split as httpx and aiohttp do."""

    connect: float = 3.0
    read: float = 5.0
    total: float = 30.0

    @classmethod
    def from_read(cls, read: float) -> Deadlines:
        """The deadlines of ``--timeout READ``, for the CLI and the reflector
        alike: a connect gets 3/5 of a read (a SYN-ACK needs no work from the
        peer), a probe six reads in total (a DICOM association is a handful
        of exchanges)."""
        return cls(connect=read * 0.6, read=read, total=read * 6)


class RateLimiter:
    """A token bucket on new connections per second (0 = unlimited)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + 1.0 / self.rate
        if wait > 0:
            await asyncio.sleep(wait)


class Limits:
    def __init__(
        self, concurrency: int, per_host: int, rate: float, blocking_threads: int = 16
    ) -> None:
        self.concurrency = concurrency
        self.per_host = per_host
        self.global_slots = asyncio.Semaphore(concurrency)
        self.rate = RateLimiter(rate)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self.blocking_threads = max(1, min(blocking_threads, concurrency))
        self._pool = ThreadPoolExecutor(
            max_workers=self.blocking_threads, thread_name_prefix="exposcan-blocking"
        )

    def _host_slots(self, host: str) -> asyncio.Semaphore:
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.per_host)
        return sem

    @asynccontextmanager
    async def connection(self, host: str) -> AsyncIterator[None]:
        """One application connection to ``host``: per-host, then global, then rate."""
        async with self._host_slots(host), self.global_slots:
            await self.rate.acquire()
            yield

    async def run_blocking(self, host: str, func: Callable[[], T]) -> T:
        """Run a blocking probe step in the pool, holding one slot of ``host``.

        ``func`` must bound itself with its library's timeouts: if the awaiting
        task is cancelled the thread still runs to its own deadline.
        """
        async with self.connection(host):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, func)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class HostBudget:
    """A per-host error budget for deadlines (nuclei's max-host-errors).

    A host that has made ``allowed`` probes run into their deadline (a
    tarpit, a drip, a stall) is not given as many more: from then on each
    of its probes, running or still to run, has at most ``grace`` seconds
    left, plus the allowance its protocol asks for beyond the usual total
    (a DICOM node that looks its caller up in a dropping DNS is slow by
    design, issue 13).  On the lab's hostile host three probes that each
    burnt a deadline in turn made the critical path of the practice scan
    (issue 14); honest services answer in milliseconds, well inside
    ``grace``.  The cut ends a probe as its own deadline does: what it had
    gathered stays, an error record says why it stopped.
    """

    def __init__(self, allowed: int, grace: float) -> None:
        self.allowed = allowed
        self.grace = grace
        self._burnt: dict[str, int] = {}
        self._running: dict[str, dict[asyncio.Timeout, float]] = {}
        self._cut: set[asyncio.Timeout] = set()

    def burnt(self, host: str) -> int:
        return self._burnt.get(host, 0)

    def exhausted(self, host: str) -> bool:
        return self.burnt(host) >= self.allowed

    def was_cut(self, deadline: asyncio.Timeout) -> bool:
        return deadline in self._cut

    def burn(self, host: str) -> None:
        """One of ``host``'s probes ran into its deadline."""
        self._burnt[host] = self.burnt(host) + 1
        if self.burnt(host) == self.allowed:
            for deadline, extra in self._running.get(host, {}).items():
                self._shorten(deadline, extra)

    @contextmanager
    def watch(self, host: str, deadline: asyncio.Timeout, extra: float = 0.0) -> Iterator[None]:
        """Track a probe's deadline while it runs, cut at once if ``host``
        has already spent its budget."""
        running = self._running.setdefault(host, {})
        running[deadline] = extra
        if self.exhausted(host):
            self._shorten(deadline, extra)
        try:
            yield
        finally:
            running.pop(deadline, None)
            self._cut.discard(deadline)

    def _shorten(self, deadline: asyncio.Timeout, extra: float) -> None:
        limit = asyncio.get_running_loop().time() + self.grace + extra
        when = deadline.when()
        if when is None or when > limit:
            deadline.reschedule(limit)
            self._cut.add(deadline)
