"""SMB1-only servers that turn hostile once the SMB1 session starts: the
SMB1 client (impacket) runs behind the same bounded relay as the SMB2 one,
so a dripped giant frame or a stall costs bounded time and is an error
record, not a hang."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Awaitable, Callable

from tests.inprocess.test_smb_probe import scan_smb, smb_server
from tests.unit.test_smb_wire import smb1_accept

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def smb1_only(then: str) -> Handler:
    """An SMB1-only server: closes on an SMB2 NEGOTIATE, accepts the first
    NT LM 0.12 NEGOTIATE (the probe's dialect test), and answers the next
    one (the SMB1 session's) per ``then``: "drip" a frame announcing 16 MiB
    at 64 bytes every 2 s, or "stall" (silence)."""
    negotiates = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal negotiates
        with contextlib.suppress(Exception):
            header = await reader.readexactly(4)
            body = await reader.readexactly(int.from_bytes(header[1:], "big"))
            if body[:4] != b"\xffSMB":
                return  # SMB2: dropped, as an SMB1-only server does
            negotiates += 1
            if negotiates == 1:
                answer = smb1_accept()
                writer.write(len(answer).to_bytes(4, "big") + answer)
                await writer.drain()
            elif then == "drip":
                writer.write(b"\x00\xff\xff\xff" + b"\xffSMB" + os.urandom(60))
                await writer.drain()
                for _ in range(30):
                    await asyncio.sleep(2.0)
                    writer.write(os.urandom(64))
                    await writer.drain()
            await asyncio.sleep(60)

    return handler


async def test_smb1_session_answered_by_a_dripped_giant_frame_is_refused_unread() -> None:
    # Given an SMB1-only server answering the session's NEGOTIATE with a
    # frame announcing 16 MiB, then 64 bytes every 2 s
    async with smb_server(smb1_only("drip")) as port:
        started = time.monotonic()
        # When the SMB probe runs on it with 1 s reads and an 8 s total deadline
        report = await scan_smb(port, timeout=1.0, total=8.0)
        elapsed = time.monotonic() - started
    # Then SMB1 is told, the frame is refused by its announced length (one
    # too-large error), no share finding, long before the deadline, and no
    # worker thread is left reading
    service = report.hosts[0].services[0]
    assert service.details["smb1"] is True
    assert service.details["smb_dialect"] == "NT LM 0.12"
    assert [(e.probe, e.reason) for e in report.errors] == [("smb", "too-large")]
    assert "announces 16777215 bytes" in report.errors[0].detail
    assert [f.rule for f in report.findings] == ["smb.v1"]
    assert elapsed < 8.0
    assert not [t for t in threading.enumerate() if t.name.startswith("exposcan-blocking")]


async def test_smb1_session_that_stalls_is_one_timeout_error() -> None:
    # Given an SMB1-only server that never answers the session's NEGOTIATE
    async with smb_server(smb1_only("stall")) as port:
        started = time.monotonic()
        # When the SMB probe runs on it with 1 s reads and an 8 s total deadline
        report = await scan_smb(port, timeout=1.0, total=8.0)
        elapsed = time.monotonic() - started
    # Then the stall is one timeout error (not a silent "no guest access"),
    # the null session's stall spares the guest login a second one, and the
    # probe ends within the deadline
    assert [(e.probe, e.reason) for e in report.errors] == [("smb", "timeout")]
    assert "no session setup answer" in report.errors[0].detail
    assert [f.rule for f in report.findings] == ["smb.v1"]
    assert elapsed < 8.0
