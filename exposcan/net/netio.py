"""Bounded TCP I/O: every connect, read and whole exchange has a deadline,
every read a size cap.  A tarpit, a garbage spewer or an endless body costs a
bounded time and memory and ends as a :class:`ProbeError`, which the engine
turns into an error record."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from exposcan.limits import Deadlines, progressed
from exposcan.net.sockets import family_of as family_of
from exposcan.net.sockets import tcp_socket as tcp_socket
from exposcan.vocabulary import ErrorReason


class ProbeError(Exception):
    """A probe could not finish: recorded as data, never raised through a scan."""

    def __init__(self, reason: ErrorReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


def classify(exc: BaseException) -> ErrorReason:
    if isinstance(exc, ProbeError):
        return exc.reason
    if isinstance(exc, TimeoutError):
        return ErrorReason.TIMEOUT
    if isinstance(exc, ssl.SSLError):
        return ErrorReason.TLS
    if isinstance(exc, ConnectionRefusedError):
        return ErrorReason.REFUSED
    if isinstance(exc, ConnectionResetError | BrokenPipeError | asyncio.IncompleteReadError):
        return ErrorReason.RESET
    if isinstance(exc, OSError) and exc.errno in (
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
    ):
        return ErrorReason.UNREACHABLE
    if isinstance(exc, OSError):
        return ErrorReason.RESET
    if isinstance(exc, ValueError | UnicodeError | KeyError | IndexError):
        return ErrorReason.PROTOCOL
    return ErrorReason.INTERNAL


def insecure_tls_context() -> ssl.SSLContext:
    """Certificates are recorded as facts, not verified: a scanner must talk to
    a self-signed PACS to prove it is exposed."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # Old PACS speak TLS 1.0: we must reach them to say so (Python warns
    # that TLS 1.0 is deprecated, which is the point of the finding).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    # Old PACS speak old TLS: we want to see them, not refuse them.
    with contextlib.suppress(ssl.SSLError):
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


class Connection:
    """A TCP stream whose reads are each bounded in time and size."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadlines: Deadlines
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.deadlines = deadlines

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        async with asyncio.timeout(self.deadlines.read):
            await self.writer.drain()

    async def read_some(self, limit: int, timeout: float | None = None) -> bytes:
        """Whatever arrives first, at most ``limit`` bytes; b"" at EOF."""
        async with asyncio.timeout(timeout if timeout is not None else self.deadlines.read):
            data = await self.reader.read(limit)
        progressed(len(data))
        return data

    async def read_exactly(self, count: int, cap: int, timeout: float | None = None) -> bytes:
        if count > cap:
            raise ProbeError(ErrorReason.TOO_LARGE, f"{count} bytes announced, cap {cap}")
        async with asyncio.timeout(timeout if timeout is not None else self.deadlines.read):
            data = await self.reader.readexactly(count)
        progressed(count)
        return data

    def ssl_object(self) -> ssl.SSLObject | None:
        """The TLS session, for :func:`exposcan.net.tls.tls_facts`; None in clear."""
        sslobj = self.writer.get_extra_info("ssl_object")
        return sslobj if isinstance(sslobj, ssl.SSLObject) else None

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass


@asynccontextmanager
async def open_connection(
    host: str,
    port: int,
    deadlines: Deadlines,
    tls: bool = False,
    limit: int = 65536,
    tls_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Connection]:
    """Connect within ``deadlines.connect`` (TLS handshake included);
    ``tls_context`` replaces the default insecure one (e.g. to watch the
    handshake: :class:`exposcan.net.tls.HandshakeWatch`)."""
    try:
        async with asyncio.timeout(deadlines.connect + (deadlines.read if tls else 0)):
            reader, writer = await asyncio.open_connection(
                host,
                port,
                ssl=(tls_context or insecure_tls_context()) if tls else None,
                server_hostname="" if tls else None,
                limit=limit,
            )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise ProbeError(classify(exc), f"connect: {exc or 'timeout'}") from None
    conn = Connection(reader, writer, deadlines)
    try:
        yield conn
    finally:
        await conn.close()
