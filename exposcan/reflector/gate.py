"""The front's door: connections counted at accept, before TLS.

A connection costs a file descriptor from the moment the kernel hands it
over, and a TLS handshake costs CPU: so the front accepts each connection
itself (``sock_accept``), looks at its source address, and closes it at once
when that source already holds ``per_source_connections`` (an IPv4 address,
or an IPv6 source's scope prefix, and its /48) or when the front holds
``max_connections``, a cap kept below the process's file-descriptor limit
(what the scans need is kept aside).  Only then does TLS start, under a
handshake deadline, and after it the request head must come within the
header deadline (aiohttp has none of its own: a slow-loris client would hold
a connection for ever).

Nothing here logs a source address: refusals are counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network, ip_address

from exposcan.reflector.scope import IPV6_PREFIX, WIDEST_IPV6_PREFIX, source_key

log = logging.getLogger("exposcan.reflector")

#: Descriptors kept for what is not a connection (logs, Redis, the loop).
FD_RESERVE = 64
#: The fewest connections a front takes at a time, whatever the limit says.
MIN_CONNECTIONS = 16
#: After an accept error (the descriptors ran out after all), wait this long.
ACCEPT_RETRY_S = 0.1


@dataclass(frozen=True)
class Bounds:
    """Per-connection bounds of the front."""

    max_connections: int = 256
    per_source_connections: int = 8
    handshake_timeout: float = 10.0
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    shutdown_timeout: float = 5.0


def connection_cap(wanted: int, scan_fds: int) -> int:
    """``wanted`` connections at most, fewer if the descriptor limit, less
    ``scan_fds`` and a reserve, leaves less room."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return min(wanted, max(MIN_CONNECTIONS, soft - FD_RESERVE - scan_fds))


def raise_fd_limit() -> None:
    """The soft descriptor limit up to the hard one (as servers do at start)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Gate:
    """Counts connections at a time, in all and per source."""

    def __init__(
        self, bounds: Bounds, counts: Counter[str], max_connections: int, prefix: int = IPV6_PREFIX
    ) -> None:
        self.bounds = bounds
        self.counts = counts
        self.max_connections = max_connections
        self.prefix = prefix
        self.live = 0
        self.per_source: Counter[str] = Counter()

    def _keys(self, host: str) -> tuple[str, ...]:
        try:
            address = ip_address(host.split("%", 1)[0])
        except ValueError:
            return ("?",)
        if isinstance(address, IPv6Address):
            if address.ipv4_mapped is not None:
                return (str(address.ipv4_mapped),)
            # A /48 is a site: its /64s together get a few sources' worth.
            site = str(IPv6Network((address, WIDEST_IPV6_PREFIX), strict=False))
            return (source_key(address, self.prefix), "site:" + site)
        return (str(address),)

    def admit(self, host: str) -> tuple[str, ...] | None:
        """The keys to release later, or None: refused (the caller closes)."""
        if self.live >= self.max_connections:
            self.counts["refused.connections"] += 1
            return None
        keys = self._keys(host)
        per = self.bounds.per_source_connections
        caps = [per if not k.startswith("site:") else 4 * per for k in keys]
        if any(self.per_source[k] >= cap for k, cap in zip(keys, caps, strict=True)):
            self.counts["refused.source-connections"] += 1
            return None
        self.live += 1
        for key in keys:
            self.per_source[key] += 1
        return keys

    def release(self, keys: tuple[str, ...]) -> None:
        self.live -= 1
        for key in keys:
            self.per_source[key] -= 1
            if self.per_source[key] <= 0:
                del self.per_source[key]


class Guarded(asyncio.Protocol):
    """aiohttp's protocol, behind the header deadline; gives its source's
    slot back once, when the connection ends (or its handshake fails)."""

    def __init__(self, inner: asyncio.Protocol, gate: Gate, keys: tuple[str, ...]) -> None:
        self.inner = inner
        self.gate = gate
        self.keys: tuple[str, ...] | None = keys
        self.served = False
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.BaseTransport | None = None

    def release(self) -> None:
        if self.keys is not None:
            self.gate.release(self.keys)
            self.keys = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.inner.connection_made(transport)
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.gate.bounds.header_timeout, self._expire)

    def _expire(self) -> None:
        if self.transport is not None and not self.served:
            self.gate.counts["refused.slow-header"] += 1
            self.transport.abort()  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.release()
        self.inner.connection_lost(exc)


def listening_sockets(hosts: list[str], port: int, backlog: int) -> list[socket.socket]:
    """One listening socket per host, all on one port (0: the first's)."""
    made: list[socket.socket] = []
    try:
        for host in hosts:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
            sock = socket.socket(family, kind, proto)
            made.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
            port = sock.getsockname()[1]
    except BaseException:
        for sock in made:
            sock.close()
        raise
    return made


class Door:
    """Accepts on listening sockets, admits through the gate, then TLS."""

    def __init__(
        self, gate: Gate, tls: ssl.SSLContext, protocol: Callable[[], asyncio.Protocol]
    ) -> None:
        self.gate = gate
        self.tls = tls
        self.protocol = protocol
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, listeners: list[socket.socket]) -> None:
        for listener in listeners:
            self._spawn(self._accept(listener))

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, peer = await loop.sock_accept(listener)
            except OSError:  # EMFILE and the like: the kernel queues meanwhile
                self.gate.counts["accept-error"] += 1
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            keys = self.gate.admit(str(peer[0]))
            if keys is None:
                sock.close()
                continue
            self._spawn(self._handshake(sock, keys))

    async def _handshake(self, sock: socket.socket, keys: tuple[str, ...]) -> None:
        guarded = Guarded(self.protocol(), self.gate, keys)
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: guarded,
                sock,
                ssl=self.tls,
                ssl_handshake_timeout=self.gate.bounds.handshake_timeout,
            )
        except asyncio.CancelledError:
            guarded.release()
            sock.close()
            raise
        except Exception:  # a failed or slow handshake: a count, no line
            self.gate.counts["refused.handshake"] += 1
            guarded.release()
            sock.close()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
