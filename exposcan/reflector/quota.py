"""Counters, locks and nonces: what the reflector remembers, and nothing else.

Two stores with one interface: in memory (one front, a contractor's small
server) and Redis (any number of fronts share the limits).  Every entry
expires: a nonce after the freshness window, a source lock after the scan
deadline, a day's counter after two days.  The memory store also caps its
size, so that a flood of requests cannot grow it without bound.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # redis comes with the optional "reflector" extra (arq)
    from redis.asyncio import Redis

PREFIX = "exposcan:reflector:"
DAY_S = 86400.0
#: The memory store refuses new entries beyond this (about 20 MB).
MAX_MEMORY_ENTRIES = 200_000


class StoreFull(RuntimeError):
    """The store is full of live entries: refuse the request (503)."""


@dataclass(frozen=True)
class Policy:
    per_source_day: int = 10
    per_token_day: int = 200
    bad_per_source_day: int = 50


def day_key(kind: str, who: str) -> str:
    return f"day:{datetime.now(UTC).date().isoformat()}:{kind}:{who}"


class Store(Protocol):
    async def claim_nonce(self, nonce: str, ttl: float) -> bool:
        """True the first time ``nonce`` is seen within ``ttl``."""

    async def lock(self, key: str, ttl: float) -> str | None:
        """An owner id if ``key`` was free (it is now held for ``ttl``)."""

    async def unlock(self, key: str, owner: str) -> None: ...

    async def take(self, key: str, limit: int, ttl: float = 2 * DAY_S) -> bool:
        """Count one more under ``key`` if fewer than ``limit`` are counted."""

    async def give_back(self, key: str) -> None: ...

    async def peek(self, key: str) -> int:
        """The bad-request count under ``key``."""

    async def bump(self, key: str, ttl: float = 2 * DAY_S) -> int:
        """Count one more bad request under ``key``."""

    async def close(self) -> None: ...


class _Expiring:
    """A dict whose entries expire, of bounded size."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.values: dict[str, tuple[float, str | int]] = {}

    def live(self, key: str) -> str | int | None:
        entry = self.values.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self.values[key]
            return None
        return entry[1]

    def put(self, key: str, value: str | int, ttl: float | None) -> None:
        """Store ``value``; ``ttl`` None keeps the entry's expiry."""
        if key not in self.values and len(self.values) >= self.max_entries:
            now = time.monotonic()
            for old in [k for k, (expiry, _) in self.values.items() if expiry <= now]:
                del self.values[old]
            if len(self.values) >= self.max_entries:
                raise StoreFull("the reflector's memory of requests is full")
        expiry = self.values[key][0] if ttl is None else time.monotonic() + ttl
        self.values[key] = (expiry, value)

    def count(self, key: str) -> int:
        value = self.live(key)
        return value if isinstance(value, int) else 0


class MemoryStore:
    """Bad-request counters (which anyone can create, from any number of
    sources) live apart, in a quarter of the room: they can never crowd out
    the nonces, locks and counts of requests with a token."""

    def __init__(self, max_entries: int = MAX_MEMORY_ENTRIES) -> None:
        self._main = _Expiring(max_entries)
        self._bad = _Expiring(max(1, max_entries // 4))

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
            del self._main.values[f"lock:{key}"]

    async def take(self, key: str, limit: int, ttl: float = 2 * DAY_S) -> bool:
        current = self._main.count(key)
        if current >= limit:
            return False
        self._main.put(key, current + 1, ttl if current == 0 else None)
        return True

    async def give_back(self, key: str) -> None:
        current = self._main.count(key)
        if current > 0:
            self._main.put(key, current - 1, None)

    async def peek(self, key: str) -> int:
        return self._bad.count(key)

    async def bump(self, key: str, ttl: float = 2 * DAY_S) -> int:
        current = self._bad.count(key) + 1
        self._bad.put(key, current, ttl if current == 1 else None)
        return current

    async def close(self) -> None:
        self._main.values.clear()
        self._bad.values.clear()


# Atomic on the Redis side, so that two fronts never both take the last slot.
_TAKE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
return 1
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
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

    async def take(self, key: str, limit: int, ttl: float = 2 * DAY_S) -> bool:
        done = await self.redis.eval(_TAKE, 1, f"{PREFIX}{key}", str(limit), str(_ms(ttl)))  # type: ignore[misc]
        return bool(done)

    async def give_back(self, key: str) -> None:
        await self.redis.decr(f"{PREFIX}{key}")

    async def peek(self, key: str) -> int:
        value = await self.redis.get(f"{PREFIX}{key}")
        return int(value) if value is not None else 0

    async def bump(self, key: str, ttl: float = 2 * DAY_S) -> int:
        return int(await self.redis.eval(_BUMP, 1, f"{PREFIX}{key}", str(_ms(ttl))))  # type: ignore[misc]

    async def close(self) -> None:
        await self.redis.aclose()
