"""The two databases the hub runs on, behind one small interface.

SQL is written once with ``?`` placeholders; the PostgreSQL backend numbers
them (``$1``...) for asyncpg. Both return rows as tuples.

- SQLite (the default, one contractor's machine): the standard library's
  ``sqlite3`` on one connection owned by one worker thread. SQLite has one
  writer at a time anyway, so a pool would only add lock waits; the thread
  keeps the event loop free (aiosqlite does the same with more code and one
  more dependency). WAL mode lets readers run beside the writer.
- PostgreSQL (a CERT, thousands of sites): asyncpg's own connection pool
  (optional extra ``exposcan[hub]``), imported only when a ``postgresql://``
  URL is given.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]
Args = Sequence[Any]

#: How long a statement may wait for a lock held by another process (a
#: second ``exposcan hub add-site`` while the server writes).
SQLITE_BUSY_S = 15.0
_PLACEHOLDER = re.compile(r"\?")


class StoreError(RuntimeError):
    """The hub's database cannot be opened, read or written (one line)."""


class Tx(Protocol):
    async def execute(self, sql: str, args: Args = ()) -> None: ...
    async def fetch(self, sql: str, args: Args = ()) -> list[Row]: ...
    async def executemany(self, sql: str, rows: Sequence[Args]) -> None: ...


class Backend(Protocol):
    dialect: str

    async def fetch(self, sql: str, args: Args = ()) -> list[Row]: ...
    async def execute(self, sql: str, args: Args = ()) -> None: ...
    def transaction(self) -> Any: ...  # an async context manager yielding a Tx
    async def close(self) -> None: ...


class SqliteBackend:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hub-sqlite")
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._call(self._open)

    def _open(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # What sites sent says where practices' images are open: private.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
        conn = sqlite3.connect(
            self.path, timeout=SQLITE_BUSY_S, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._conn = conn

    async def _call(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite {self.path}: {exc}") from exc

    def _fetch(self, sql: str, args: Args) -> list[Row]:
        assert self._conn is not None
        return [tuple(r) for r in self._conn.execute(sql, tuple(args)).fetchall()]

    def _many(self, sql: str, rows: Sequence[Args]) -> None:
        assert self._conn is not None
        self._conn.executemany(sql, [tuple(r) for r in rows])

    async def fetch(self, sql: str, args: Args = ()) -> list[Row]:
        async with self._lock:
            rows: list[Row] = await self._call(self._fetch, sql, args)
            return rows

    async def execute(self, sql: str, args: Args = ()) -> None:
        await self.fetch(sql, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            await self._call(self._fetch, "BEGIN IMMEDIATE", ())
            tx = _SqliteTx(self)
            try:
                yield tx
            except BaseException:
                await self._call(self._fetch, "ROLLBACK", ())
                raise
            await self._call(self._fetch, "COMMIT", ())

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.get_running_loop().run_in_executor(self._pool, conn.close)
        self._pool.shutdown(wait=True)


class _SqliteTx:
    def __init__(self, backend: SqliteBackend) -> None:
        self.backend = backend

    async def execute(self, sql: str, args: Args = ()) -> None:
        await self.backend._call(self.backend._fetch, sql, args)

    async def fetch(self, sql: str, args: Args = ()) -> list[Row]:
        rows: list[Row] = await self.backend._call(self.backend._fetch, sql, args)
        return rows

    async def executemany(self, sql: str, rows: Sequence[Args]) -> None:
        await self.backend._call(self.backend._many, sql, rows)


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2...`` (our SQL holds no
    literal question mark)."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


class PostgresBackend:
    dialect = "postgres"

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: Any = None

    async def open(self) -> None:
        try:
            import asyncpg
        except ImportError:
            raise StoreError(
                "a postgresql:// database needs asyncpg: pip install 'exposcan[hub]'"
            ) from None
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self.pool_size, command_timeout=60
            )
        except (OSError, asyncpg.PostgresError, ValueError) as exc:
            # The URL may hold a password: only the error's class and text.
            raise StoreError(f"cannot open the PostgreSQL database: {exc}") from None

    async def fetch(self, sql: str, args: Args = ()) -> list[Row]:
        import asyncpg

        try:
            rows = await self._pool.fetch(numbered(sql), *args)
        except asyncpg.PostgresError as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc
        return [tuple(r) for r in rows]

    async def execute(self, sql: str, args: Args = ()) -> None:
        await self.fetch(sql, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        import asyncpg

        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _PostgresTx(conn)
        except asyncpg.PostgresError as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def execute(self, sql: str, args: Args = ()) -> None:
        await self.conn.execute(numbered(sql), *args)

    async def fetch(self, sql: str, args: Args = ()) -> list[Row]:
        return [tuple(r) for r in await self.conn.fetch(numbered(sql), *args)]

    async def executemany(self, sql: str, rows: Sequence[Args]) -> None:
        await self.conn.executemany(numbered(sql), [tuple(r) for r in rows])


def is_unique_violation(exc: BaseException) -> bool:
    """A duplicate key (a replayed report, a site or user named twice)."""
    cause = exc.__cause__ or exc
    if isinstance(cause, sqlite3.IntegrityError):
        return "UNIQUE" in str(cause)
    return type(cause).__name__ == "UniqueViolationError"
