"""The SMB worker thread's sockets, owned and bounded by the event loop.

scapy's SMB2/3 client and impacket's SMB1 client are synchronous and run in
a worker thread, which asyncio cannot cancel.  Left to itself such a client
reads a frame's announced length with a per-read socket timeout: a server
announcing 16 MiB then dripping 64 bytes every 2 s resets that timeout for
ever, and interpreter exit waits for the thread (the process
outlived its report by 240 s).

So the thread never touches the network.  It gets one end of a local
socketpair; this relay, a task of the event loop, holds the TCP connection to
the server and copies between the two:

- every frame from the server is read by its 4-byte session header first
  (RFC 1002 §4.3.1; [MS-SMB2] §2.1) and refused when it announces more than
  ``frame_cap``: refused before a byte of it is read;
- a frame must arrive whole within one read deadline from its header (a
  total, not a per-byte, deadline: a drip cannot keep it alive);
- at the probe's deadline, or when the probe is cancelled, :meth:`close`
  shuts both ends: the thread's next (or current) ``recv`` returns at once.

Counters of what crossed tell the probe what happened (an answer came but was
malformed, or none came at all) without quoting a byte of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field

from exposcan.limits import Deadlines, progressed
from exposcan.models import ErrorReason
from exposcan.protocols.smb import wire

#: Replies the client asks for are at most 64 KiB of directory or read data
#: plus headers, and a srvsvc reply is capped at 256 KiB by the session
#: module: no honest frame from the server is larger than this.
FRAME_CAP = 512 * 1024
_COPY_CHUNK = 65536


@dataclass
class Link:
    """What one relayed connection saw (no content, counts only)."""

    frames_down: int = 0
    refused: str | None = None  # why the relay cut the connection, if it did
    reason: ErrorReason = ErrorReason.PROTOCOL


@dataclass
class SmbRelay:
    host: str
    port: int
    deadlines: Deadlines
    frame_cap: int = FRAME_CAP
    links: list[Link] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _thread_ends: list[socket.socket] = field(default_factory=list)
    _closed: bool = False

    async def open(self) -> tuple[socket.socket, Link]:
        """Connect to the server; return the thread's end of the pipe (a
        blocking socket with the read deadline as its timeout)."""
        if self._closed:
            raise ConnectionError("relay closed")
        async with asyncio.timeout(self.deadlines.connect):
            remote_r, remote_w = await asyncio.open_connection(self.host, self.port)
        self._writers.append(remote_w)
        ours, theirs = socket.socketpair()
        theirs.setblocking(True)
        theirs.settimeout(self.deadlines.read)
        self._thread_ends.append(theirs)
        local_r, local_w = await asyncio.open_connection(sock=ours)
        self._writers.append(local_w)
        link = Link()
        self.links.append(link)
        for coro in (
            self._upstream(local_r, remote_w),
            self._downstream(remote_r, local_w, remote_w, link),
        ):
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return theirs, link

    async def _upstream(self, local: asyncio.StreamReader, remote: asyncio.StreamWriter) -> None:
        """The client's requests, copied as they come (small, ours)."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await local.read(_COPY_CHUNK):
                remote.write(chunk)
                await remote.drain()
        with contextlib.suppress(OSError):
            remote.close()

    async def _downstream(
        self,
        remote: asyncio.StreamReader,
        local: asyncio.StreamWriter,
        remote_w: asyncio.StreamWriter,
        link: Link,
    ) -> None:
        """The server's frames, each capped and deadlined before it is passed."""
        try:
            while True:
                header = await remote.readexactly(4)
                try:
                    _, length = wire.parse_frame_header(header)
                except wire.WireError as exc:
                    link.refused = str(exc)
                    return
                if length > self.frame_cap:
                    link.reason = ErrorReason.TOO_LARGE
                    link.refused = (
                        f"SMB frame announces {length} bytes (cap {self.frame_cap}), not read"
                    )
                    return
                try:
                    async with asyncio.timeout(self.deadlines.read):
                        body = await remote.readexactly(length)
                except TimeoutError:
                    link.reason = ErrorReason.TIMEOUT
                    link.refused = (
                        f"SMB frame of {length} bytes not complete within {self.deadlines.read:g} s"
                    )
                    return
                link.frames_down += 1
                progressed(len(header) + length)
                local.write(header + body)
                await local.drain()
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            # EOF to the thread (its recv returns b"") and to the server.
            for writer in (local, remote_w):
                with contextlib.suppress(OSError):
                    writer.close()

    def refused(self) -> Link | None:
        """The first connection the relay cut, if any."""
        return next((link for link in self.links if link.refused), None)

    async def close(self) -> None:
        """End every connection now: the thread sees EOF at once."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            with contextlib.suppress(OSError):
                writer.close()
        for sock in self._thread_ends:
            # shutdown wakes a recv blocked in the thread; the thread closes
            # its own end (closing it here could race a reuse of its fd).
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
