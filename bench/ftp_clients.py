"""aioftp against exposcan's own FTP client, on hostile servers (loopback).

``python -m bench.ftp_clients`` prints, for each client:

- an endless multi-line greeting ("220-" lines forever): how long until the
  client gives up and how much its resident memory grew meanwhile;
- a PASV reply naming another address (127.0.0.2, still loopback): which
  address the client's data connection went to.

Why it matters (exposcan/protocols/ftp/client.py): a scanner must bound
every read, and must never connect where a server tells it to.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aioftp

from exposcan.limits import Deadlines
from exposcan.net.netio import ProbeError
from exposcan.protocols.ftp.client import FtpClient

HOST = "127.0.0.1"
OTHER = "127.0.0.2"
DEADLINE = 5.0


def endless_greeting_server() -> int:
    """A thread that greets with "220-" lines forever (its own thread, so
    that the client's event loop is the only thing measured)."""
    listener = socket.create_server((HOST, 0))
    port = int(listener.getsockname()[1])
    chunk = b"220-welcome to a server that never stops greeting\r\n" * 500

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            with contextlib.suppress(OSError), conn:
                while True:
                    conn.sendall(chunk)

    threading.Thread(target=serve, daemon=True).start()
    return port


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _child(name: str, port: int, out: Any) -> None:
    client = CLIENTS[name]

    async def run() -> str:
        try:
            async with asyncio.timeout(DEADLINE):
                return await client(port)
        except TimeoutError:
            return f"stopped by the {DEADLINE:g} s deadline"

    before = rss_mb(os.getpid())
    outcome = asyncio.run(run())
    out.send((outcome, rss_mb(os.getpid()) - before))


def measure(name: str) -> tuple[float, float, str]:
    """Run one client in a child process (a client that ignores its
    deadline must not take the benchmark with it); grace: 3 s past it."""
    port = endless_greeting_server()
    here, there = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_child, args=(name, port, there))
    started = time.monotonic()
    child.start()
    time.sleep(0.05)
    base = rss_mb(child.pid or 0)
    outcome = ""
    grown = 0.0
    while time.monotonic() - started < DEADLINE + 3:
        if here.poll(0.05):
            outcome, grown = here.recv()
            break
    elapsed = time.monotonic() - started
    if not outcome:
        grown = rss_mb(child.pid or 0) - base
        outcome = f"still reading {elapsed:.1f} s later: its {DEADLINE:g} s deadline never fired"
        child.kill()  # our own child, by its handle
    child.join(5)
    return elapsed, grown, outcome


async def aioftp_greeting(port: int) -> str:
    # socket_timeout is per read: a steady spewer never trips it.
    client = aioftp.Client(socket_timeout=2, connection_timeout=2)
    try:
        await client.connect(HOST, port)
        return "connected"
    except Exception as exc:  # any outcome is a figure here
        return type(exc).__name__
    finally:
        client.close()


async def own_greeting(port: int) -> str:
    try:
        async with FtpClient(HOST, port, Deadlines(2, 2, 10)):
            return "connected"
    except ProbeError as exc:
        return f"ProbeError {exc.reason.value}: {exc.detail}"


CLIENTS: dict[str, Callable[[int], Awaitable[str]]] = {
    f"aioftp {aioftp.__version__}": aioftp_greeting,
    "exposcan": own_greeting,
}


async def pasv_redirect() -> dict[str, str]:
    """Which address each client's data connection reaches when PASV names
    OTHER. Both listeners are on loopback: nothing leaves the machine."""
    reached: dict[str, str] = {}
    current = {"client": ""}

    async def data(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached[current["client"]] = writer.get_extra_info("sockname")[0]
        writer.close()

    data_main = await asyncio.start_server(data, HOST, 0)
    port = data_main.sockets[0].getsockname()[1]
    data_other = await asyncio.start_server(data, OTHER, port)

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 ok\r\n")
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                verb = line.split(b" ")[0].strip().upper()
                answers = {
                    b"USER": b"230 in\r\n",
                    b"TYPE": b"200 ok\r\n",
                    b"CWD": b"250 ok\r\n",
                    b"PASV": f"227 ok (127,0,0,2,{port // 256},{port % 256})\r\n".encode(),
                    b"LIST": b"150 go\r\n226 done\r\n",
                    b"MLSD": b"150 go\r\n226 done\r\n",
                }
                writer.write(answers.get(verb, b"502 no\r\n"))
                await writer.drain()

    server = await asyncio.start_server(control, HOST, 0)
    cport = server.sockets[0].getsockname()[1]
    current["client"] = "aioftp"
    client = aioftp.Client(socket_timeout=2, connection_timeout=2)
    with contextlib.suppress(Exception):
        await client.connect(HOST, cport)
        await client.login()
        await client.get_passive_connection("I", ["pasv"])
    client.close()
    current["client"] = "exposcan"
    with contextlib.suppress(ProbeError):
        async with FtpClient(HOST, cport, Deadlines(2, 2, 10)) as ftp:
            await ftp.command("USER", "anonymous")
            await ftp.transfer("LIST", "", 4096)
    await asyncio.sleep(0.1)
    for s in (server, data_main, data_other):
        s.close()
    return reached


async def main() -> None:
    print(f"endless multi-line greeting, outer deadline {DEADLINE:g} s:")
    for name in CLIENTS:
        elapsed, peak, outcome = measure(name)
        print(f"  {name:12s} ended after {elapsed:5.2f} s, RSS +{peak:7.1f} MB: {outcome}")
    print("PASV reply naming 127.0.0.2 (control connection on 127.0.0.1):")
    for name, address in (await pasv_redirect()).items():
        print(f"  {name:12s} data connection went to {address}")


if __name__ == "__main__":
    asyncio.run(main())
