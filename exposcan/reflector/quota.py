"""Counters, locks and nonces: what the reflector remembers, and nothing else.

Two stores with one interface: in memory (one front, a contractor's small
server) and Redis (any number of fronts share the limits).  Every entry
expires: a nonce after the freshness window, a lock after the scan deadline,
a day's counter at the end of its day (UTC); a counter given back to 0 is
deleted at once.  The memory store also caps its size, so that a flood of
requests cannot grow it without bound, and finds what has expired through a
heap of expiry times (an insert into a full store costs O(log n), not a walk
of every entry).

What one token can store is bounded by its day's scans: the front claims a
nonce and takes a day's count only for a request that passed every check
that stores nothing (token, body, clock, scope, the day's counts, a free
slot), so each scan started leaves at most a nonce, two counts and two
locks.  Requests without a valid token store only a bad-request count per
source, in a room of their own.
"""

from __future__ import annotations

import heapq
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # redis comes with the optional "reflector" extra (arq)
    from redis.asyncio import Redis

PREFIX = "exposcan:reflector:"
DAY_S = 86400.0
#: A day's counter outlives its day by this much (clocks of several fronts).
DAY_SLACK_S = 3600.0
#: The memory store refuses new entries beyond this (about 20 MB).
MAX_MEMORY_ENTRIES = 200_000


class StoreFull(RuntimeError):
    """The store is full of live entries: refuse the request (503)."""


@dataclass(frozen=True)
class Policy:
    per_source_day: int = 10
    per_token_day: int = 200
    #: Bad requests a day from one source without a valid token, and from
    #: one token: either budget spent refuses only its own kind.
    bad_per_source_day: int = 50


def day_key(kind: str, who: str) -> str:
    return f"day:{datetime.now(UTC).date().isoformat()}:{kind}:{who}"


def day_ttl() -> float:
    """Seconds a counter of today's key must live: to the end of the UTC day."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (midnight - now).total_seconds() + DAY_SLACK_S


class Store(Protocol):
    async def claim_nonce(self, nonce: str, ttl: float) -> bool:
        """True the first time ``nonce`` is seen within ``ttl``."""

    async def lock(self, key: str, ttl: float) -> str | None:
        """An owner id if ``key`` was free (it is now held for ``ttl``)."""

    async def unlock(self, key: str, owner: str) -> None: ...

    async def take(self, key: str, limit: int) -> bool:
        """Count one more under ``key`` (a day's key) if fewer than ``limit``
        are counted."""

    async def used(self, key: str) -> int:
        """What ``take`` has counted under ``key``."""

    async def give_back(self, key: str) -> None:
        """One less under ``key``; at 0 the counter is deleted."""

    async def peek(self, key: str, tokenless: bool = True) -> int:
        """The bad-request count under ``key``."""

    async def bump(self, key: str, tokenless: bool = True) -> int:
        """Count one more bad request under ``key`` (a day's key)."""

    async def close(self) -> None: ...


class _Expiring:
    """A dict whose entries expire, of bounded size; a heap of expiry times
    finds the expired ones without a walk of every entry."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.values: dict[str, tuple[float, str | int]] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self.values)

    def live(self, key: str) -> str | int | None:
        entry = self.values.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self.values[key]
            return None
        return entry[1]

    def _expire(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            expiry, key = heapq.heappop(heap)
            entry = self.values.get(key)
            if entry is not None and entry[0] == expiry:  # else: a stale heap item
                del self.values[key]

    def put(self, key: str, value: str | int, ttl: float | None) -> None:
        """Store ``value``; ``ttl`` None keeps the entry's expiry."""
        now = time.monotonic()
        old = self.values.get(key)
        if old is None and len(self.values) >= self.max_entries:
            self._expire(now)
            if len(self.values) >= self.max_entries:
                raise StoreFull("the reflector's memory of requests is full")
        if old is not None and ttl is None:
            expiry = old[0]
        else:
            expiry = now + (ttl or 0.0)
            heapq.heappush(self._heap, (expiry, key))
        self.values[key] = (expiry, value)
        if len(self._heap) > 2 * self.max_entries + 64:
            # Stale items (deleted or renewed keys): rebuild, amortised O(1).
            self._heap = [(e, k) for k, (e, _) in self.values.items()]
            heapq.heapify(self._heap)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)  # its heap item goes stale

    def count(self, key: str) -> int:
        value = self.live(key)
        return value if isinstance(value, int) else 0


class MemoryStore:
    """Bad-request counters of requests without a valid token (which anyone
    can create, from any number of sources) live apart, in a quarter of the
    room: they can never crowd out the nonces, locks and counts of requests
    with a token."""

    def __init__(self, max_entries: int = MAX_MEMORY_ENTRIES) -> None:
        self._main = _Expiring(max_entries)
        self._bad = _Expiring(max(1, max_entries // 4))

    def __len__(self) -> int:
        return len(self._main) + len(self._bad)

    async def claim_nonce(self, nonce: str, ttl: float) -> bool:
        key = f"nonce:{nonce}"
        if self._main.live(key) is not None:
            return False
        self._main.put(key, 1, ttl)
        return True

    async def lock(self, key: str, ttl: float) -> str | None:
        if self._main.live(f"lock:{key}") is not None:
            return None
        owner = secrets.token_hex(8)
        self._main.put(f"lock:{key}", owner, ttl)
        return owner

    async def unlock(self, key: str, owner: str) -> None:
        if self._main.live(f"lock:{key}") == owner:
            self._main.delete(f"lock:{key}")

    async def take(self, key: str, limit: int) -> bool:
        current = self._main.count(key)
        if current >= limit:
            return False
        self._main.put(key, current + 1, day_ttl() if current == 0 else None)
        return True

    async def used(self, key: str) -> int:
        return self._main.count(key)

    async def give_back(self, key: str) -> None:
        current = self._main.count(key)
        if current > 1:
            self._main.put(key, current - 1, None)
        else:
            self._main.delete(key)

    def _room(self, tokenless: bool) -> _Expiring:
        return self._bad if tokenless else self._main

    async def peek(self, key: str, tokenless: bool = True) -> int:
        return self._room(tokenless).count(key)

    async def bump(self, key: str, tokenless: bool = True) -> int:
        room = self._room(tokenless)
        current = room.count(key) + 1
        room.put(key, current, day_ttl() if current == 1 else None)
        return current

    async def close(self) -> None:
        self._main.values.clear()
        self._bad.values.clear()


# Atomic on the Redis side, so that two fronts never both take the last slot.
_TAKE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
  return 0
end
return 1
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_GIVE_BACK = """
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) end
return n
"""
_BUMP = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def claim_nonce(self, nonce: str, ttl: float) -> bool:
        return bool(await self.redis.set(f"{PREFIX}nonce:{nonce}", 1, nx=True, px=_ms(ttl)))

    async def lock(self, key: str, ttl: float) -> str | None:
        owner = secrets.token_hex(8)
        done = await self.redis.set(f"{PREFIX}lock:{key}", owner, nx=True, px=_ms(ttl))
        return owner if done else None

    async def unlock(self, key: str, owner: str) -> None:
        await self.redis.eval(_UNLOCK, 1, f"{PREFIX}lock:{key}", owner)  # type: ignore[misc]

    async def take(self, key: str, limit: int) -> bool:
        ttl = str(_ms(day_ttl()))
        done = await self.redis.eval(_TAKE, 1, f"{PREFIX}{key}", str(limit), ttl)  # type: ignore[misc]
        return bool(done)

    async def used(self, key: str) -> int:
        value = await self.redis.get(f"{PREFIX}{key}")
        return int(value) if value is not None else 0

    async def give_back(self, key: str) -> None:
        await self.redis.eval(_GIVE_BACK, 1, f"{PREFIX}{key}")  # type: ignore[misc]

    async def peek(self, key: str, tokenless: bool = True) -> int:
        return await self.used(key)

    async def bump(self, key: str, tokenless: bool = True) -> int:
        return int(await self.redis.eval(_BUMP, 1, f"{PREFIX}{key}", str(_ms(day_ttl()))))  # type: ignore[misc]

    async def close(self) -> None:
        await self.redis.aclose()
