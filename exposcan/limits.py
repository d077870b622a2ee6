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
import contextvars
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
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


#: A wait for a connection slot longer than this is queue time of the
#: probe (:class:`ProbeFlow`); a shorter one is a slot that was free.
QUEUE_NOTICED_S = 0.05


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
        """One application connection to ``host``: per-host, then global, then rate.

        The wait for a slot is the running probe's queue time, not a stall
        of its own (:class:`ProbeFlow`): a host's slots held by stalled
        probes must not get an honest sibling cut while it waits its turn."""
        slots = self._host_slots(host)
        flow = _FLOW.get()
        asked = time.monotonic()
        if flow is not None:
            flow.queued += 1
        try:
            await slots.acquire()
            try:
                await self.global_slots.acquire()
            except BaseException:
                slots.release()
                raise
            try:
                await self.rate.acquire()
            except BaseException:
                self.global_slots.release()
                slots.release()
                raise
        finally:
            if flow is not None:
                flow.queued -= 1
                now = time.monotonic()
                if now - asked > QUEUE_NOTICED_S:
                    # A turn waited for, not a slot free at once (a probe
                    # that reconnects to a stalling peer is no queue).
                    flow.dequeued = now
        try:
            yield
        finally:
            self.global_slots.release()
            slots.release()

    async def run_blocking(self, host: str, func: Callable[[], T]) -> T:
        """Run a blocking probe step in the pool, holding one slot of ``host``.

        ``func`` must bound itself with its library's timeouts: if the awaiting
        task is cancelled the thread still runs to its own deadline.
        """
        async with self.connection(host):
            loop = asyncio.get_running_loop()
            # The thread runs in the caller's context, so that what it
            # receives counts as the probe's progress (``progressed``).
            context = contextvars.copy_context()
            return await loop.run_in_executor(self._pool, context.run, func)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


#: A probe's rate floor, in bytes a second: a probe that receives at least
#: this much is making progress, and the host's error budget does not cut it.
#: The lab's drips are far below (HTTP headers a byte every 2 s, a C-ECHO
#: answer a byte a second, an SMB frame 64 bytes every 2 s: 32 B/s); an
#: honest service is far above, even from a busy machine: one small HTTP
#: answer (headers and a 132-byte sample, ~350 bytes) or a few DIMSE
#: responses per window of HOST_GRACE seconds are enough.
RATE_FLOOR = 128.0


@dataclass
class ProbeFlow:
    """What one running probe has received: fed by the bounded I/O layer
    (:func:`progressed`), read by :class:`HostBudget` to tell a probe that
    is still receiving from one that waits.  An increment lost to a race
    with a worker thread only makes the probe look a little slower."""

    received: int = 0
    #: Bytes a second below which the probe is waiting, not progressing.
    floor: float = RATE_FLOOR
    #: Waits for a connection slot in progress (``Limits.connection``), and
    #: when the last one ended (``time.monotonic``): queued is not stalled.
    queued: int = 0
    dequeued: float = 0.0


_FLOW: contextvars.ContextVar[ProbeFlow | None] = contextvars.ContextVar(
    "exposcan_probe_flow", default=None
)


def progressed(nbytes: int) -> None:
    """The running probe received ``nbytes`` (bytes read, or what a page of
    listing entries took on the wire).  Called by the bounded I/O layer; a
    no-op outside a probe.  Tasks the probe creates and threads it runs
    through :meth:`Limits.run_blocking` share its flow."""
    flow = _FLOW.get()
    if flow is not None:
        flow.received += nbytes


@contextmanager
def probe_flow(floor: float = RATE_FLOOR) -> Iterator[ProbeFlow]:
    """Make a fresh :class:`ProbeFlow` the running code's (the engine, around
    one probe)."""
    flow = ProbeFlow(floor=floor)
    token = _FLOW.set(flow)
    try:
        yield flow
    finally:
        _FLOW.reset(token)


@dataclass
class _Watched:
    """A running probe under a host budget's eye."""

    deadline: asyncio.Timeout
    extra: float
    flow: ProbeFlow
    #: ``flow.received`` and ``time.monotonic()`` when the current window opened.
    mark: int = 0
    opened: float = 0.0
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class HostBudget:
    """A per-host error budget for deadlines (nuclei's max-host-errors) that
    ends stalls, never progress.

    A host that has made ``allowed`` probes run into their deadline (a
    tarpit, a drip, a stall) is not given as many more: from then on each
    of its probes, running or still to run, is watched over windows of
    ``grace`` seconds (the first one longer by the allowance its protocol
    asks beyond the usual total: a DICOM node that looks its caller up in a
    dropping DNS is slow by design).  A probe that received less than its
    rate floor in a window is waiting: it is cut, as its own deadline would
    end it (what it had gathered stays, an error record says why it
    stopped).  A probe that received at least that much (a big listing, a
    share walk, C-FIND answers) is making progress, and one that waited for
    a connection slot of the host (held by its stalled siblings) was queued,
    not stalled: the watch re-arms, and only its own total deadline ends it.
    So a hostile host costs a grace per stalled probe, not a deadline each,
    and an honest service next to a stalled port keeps its finding however
    busy the machine is.
    """

    def __init__(self, allowed: int, grace: float) -> None:
        self.allowed = allowed
        self.grace = grace
        self._burnt: dict[str, int] = {}
        self._running: dict[str, dict[asyncio.Timeout, _Watched]] = {}
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
            for watched in self._running.get(host, {}).values():
                self._arm(watched, self.grace + watched.extra)

    @contextmanager
    def watch(
        self,
        host: str,
        deadline: asyncio.Timeout,
        extra: float = 0.0,
        flow: ProbeFlow | None = None,
    ) -> Iterator[None]:
        """Track a probe's deadline while it runs (``flow``: what it
        receives); watched at once if ``host`` has already spent its
        budget."""
        running = self._running.setdefault(host, {})
        watched = running[deadline] = _Watched(deadline, extra, flow or ProbeFlow())
        if self.exhausted(host):
            self._arm(watched, self.grace + extra)
        try:
            yield
        finally:
            running.pop(deadline, None)
            self._cut.discard(deadline)
            if watched.timer is not None:
                watched.timer.cancel()

    def _arm(self, watched: _Watched, window: float) -> None:
        """Open a window of ``window`` seconds at whose end the probe must
        have received its floor's worth."""
        if watched.timer is not None or watched.deadline.expired():
            return
        loop = asyncio.get_running_loop()
        watched.mark = watched.flow.received
        watched.opened = time.monotonic()
        end = loop.time() + window
        when = watched.deadline.when()
        if when is not None and when <= end:
            return  # its own deadline comes first
        watched.timer = loop.call_at(end, self._check, watched)

    def _check(self, watched: _Watched) -> None:
        watched.timer = None
        if watched.deadline.expired():
            return
        flow = watched.flow
        got = flow.received - watched.mark
        if got >= flow.floor * self.grace or flow.queued > 0:
            # Progress, or a turn still waited for behind the host's other
            # probes: another window (the grace only: the protocol's
            # allowance was for its first answer).
            self._arm(watched, self.grace)
            return
        loop = asyncio.get_running_loop()
        if flow.dequeued > watched.opened:
            # Its turn came during the window: it has a whole grace from
            # then to show progress (what it received counts from the
            # window's opening, the queued part brought nothing).
            end = loop.time() + (flow.dequeued + self.grace - time.monotonic())
            if end > loop.time() + 0.01:
                watched.timer = loop.call_at(end, self._check, watched)
                return
        self._cut.add(watched.deadline)
        watched.deadline.reschedule(loop.time())
