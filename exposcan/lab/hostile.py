"""Hostile TCP services for the lab's "junk" host.

Every probe must survive servers that misbehave: a scanner that waits for
ever, reads without a bound or trusts a header has a bug that a real clinic
network (odd appliances, half-dead devices) will find. Four ports:

- tarpit: accepts, never sends, never closes;
- spew: random bytes from the first moment, without end;
- fake DICOM: answers any input with an A-ASSOCIATE-AC-looking header
  (PDU type 0x02, reserved 0x00, a 4-byte length; PS3.8 §9.3.3) and junk
  that matches no length, then closes;
- endless HTTP: "200 OK" with a chunked body that never ends.

Standalone (stdlib only) so that it runs in a namespace with any Python and
without importing the engine. "Endless" is bounded per connection and for
the whole process (see the caps below) so that a forgotten lab stops by
itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import struct
import time

#: A connection is dropped after this long, whatever it does: far beyond any
#: scanner timeout, yet a leaked socket does not live for ever.
CONNECTION_CAP_S = 600.0
#: Bytes sent at most per endless connection (64 MiB).
BYTES_CAP = 64 * 1024 * 1024
CHUNK = 4096


async def _hold(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await writer.wait_closed()


async def tarpit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Read (and drop) what the client sends so its send buffer never fills,
    # but never answer: the client must give up on its own read timeout.
    deadline = time.monotonic() + CONNECTION_CAP_S
    with contextlib.suppress(Exception):
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(reader.read(CHUNK), timeout=5)
            except TimeoutError:
                continue
            if not data:
                break
    await _hold(writer)


async def _send_forever(writer: asyncio.StreamWriter, frame: bool) -> None:
    sent = 0
    deadline = time.monotonic() + CONNECTION_CAP_S
    with contextlib.suppress(Exception):
        while sent < BYTES_CAP and time.monotonic() < deadline:
            block = os.urandom(CHUNK)
            writer.write(b"%x\r\n%s\r\n" % (len(block), block) if frame else block)
            await writer.drain()  # back-pressure: a slow reader slows us
            sent += CHUNK


async def spew(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _send_forever(writer, frame=False)
    await _hold(writer)


async def fake_dicom(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        data = await asyncio.wait_for(reader.read(CHUNK), timeout=30)
        if data:
            junk = os.urandom(200)
            # Claims 0x7FFFFFF0 bytes follow; 200 do. A parser that trusts the
            # length allocates or waits; a careful one reports garbage.
            writer.write(b"\x02\x00" + struct.pack(">I", 0x7FFFFFF0) + junk)
            await writer.drain()
    await _hold(writer)


async def endless_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        writer.write(
            b"HTTP/1.1 200 OK\r\n"
            b"Server: junk/0.1\r\n"
            b"Content-Type: text/html\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        await _send_forever(writer, frame=True)
    await _hold(writer)


async def serve(bind: str, ports: dict[str, int], lifetime: float) -> None:
    handlers = {"tarpit": tarpit, "spew": spew, "dicom": fake_dicom, "http": endless_http}
    servers = [
        await asyncio.start_server(handlers[kind], bind, port, reuse_address=True)
        for kind, port in ports.items()
    ]
    print(f"hostile: listening on {bind} {ports}", flush=True)
    try:
        await asyncio.sleep(lifetime)
    finally:
        for s in servers:
            s.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--tarpit", type=int, default=8080)
    ap.add_argument("--spew", type=int, default=5678)
    ap.add_argument("--dicom", type=int, default=104)
    ap.add_argument("--http", type=int, default=80)
    ap.add_argument(
        "--lifetime", type=float, default=6 * 3600.0, help="exit after this many seconds"
    )
    a = ap.parse_args()
    ports = {"tarpit": a.tarpit, "spew": a.spew, "dicom": a.dicom, "http": a.http}
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(a.bind, ports, a.lifetime))


if __name__ == "__main__":
    main()
