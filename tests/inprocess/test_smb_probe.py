"""The SMB probe against asyncio servers on a free loopback port, named smb
as the catalogue names 445: SMB1 accepted or not, and hostile ports that
must end as bounded error records."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from scapy.layers.smb2 import SMB2_Header, SMB2_Negotiate_Protocol_Response

from exposcan.catalogue import PortEntry
from exposcan.models import Report
from exposcan.protocols.smb.probe import SmbProbe
from tests.inprocess.servers import tcp_server
from tests.support.local_ports import LOOPBACK, scan_as
from tests.unit.test_smb_wire import SAMBA_SMB1_REFUSAL, smb1_accept

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def smb_at(port: int) -> PortEntry:
    """``port`` named smb, as 445 is in the shipped port list."""
    return PortEntry(port=port, protocol="smb")


@asynccontextmanager
async def smb_server(handler: Handler) -> AsyncIterator[int]:
    """Serve ``handler`` on a free loopback port; yield the port. The scan
    takes it for SMB (:func:`scan_smb`), as the shipped catalogue takes 445:
    no root, no free 445 needed."""
    async with tcp_server(handler, LOOPBACK, 0) as port:
        yield port


async def scan_smb(port: int, *, timeout: float = 2.0, total: float = 30.0) -> Report:
    """The real engine's SMB probe on ``port`` of the loopback address."""
    return await scan_as([smb_at(port)], [SmbProbe], timeout=timeout, total=total)


def smb2_negotiate_answer() -> bytes:
    # A 3.0.2 server that requires signing.
    return bytes(
        SMB2_Header(Flags="SMB2_FLAGS_SERVER_TO_REDIR")
        / SMB2_Negotiate_Protocol_Response(DialectRevision=0x0302, SecurityMode=0x03)
    )


def negotiating_server(smb1: str) -> Handler:
    """Answers SMB2 NEGOTIATE; answers an NT-LM-0.12-only SMB1 NEGOTIATE per
    ``smb1`` ("accept", "refuse" as Samba does, "drop"); closes on anything
    else (scapy's multi-protocol negotiate of the session step)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(4)
        body = await reader.readexactly(int.from_bytes(header[1:], "big"))
        if body[:4] == b"\xfeSMB":
            answer = smb2_negotiate_answer()
        elif body[:4] == b"\xffSMB" and b"SMB 2" not in body and smb1 != "drop":
            answer = smb1_accept() if smb1 == "accept" else SAMBA_SMB1_REFUSAL
        else:
            return
        writer.write(len(answer).to_bytes(4, "big") + answer)
        await writer.drain()
        await reader.read(1)

    return handler


async def spew(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # A NetBIOS-looking header announcing 16 MiB, then random bytes forever.
    writer.write(b"\x00\xff\xff\xff")
    chunk = os.urandom(65536)
    while True:
        writer.write(chunk)
        await writer.drain()


async def tarpit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def test_smb1_accepted_is_reported_medium_with_negotiation_details():
    # Given a server that answers SMB2 (3.0.2, signing required) and accepts SMB1
    async with smb_server(negotiating_server("accept")) as port:
        # When the real engine runs the SMB probe on it
        report = await scan_smb(port)
    # Then smb.v1 (medium) is reported, and the negotiation facts sit in details
    rules = {f.rule: f for f in report.findings}
    assert "smb.v1" in rules and rules["smb.v1"].severity == "medium"
    assert rules["smb.v1"].port == port
    service = report.hosts[0].services[0]
    assert service.product == "SMB"
    assert service.details["smb_dialect"] == "3.0.2"
    assert service.details["smb_signing"] == "required"
    assert service.details["smb1"] is True
    # And no share is claimed readable by a server that never let us in
    assert not any(r.startswith("smb.guest") for r in rules)


@pytest.mark.parametrize("mode", ["refuse", "drop"])
async def test_smb1_refused_or_dropped_is_not_reported(mode):
    # Given a server that answers SMB2 but refuses SMB1 (Samba's 0xFFFF, or a reset)
    async with smb_server(negotiating_server(mode)) as port:
        report = await scan_smb(port)
    # Then no smb.v1, and the service still says what was negotiated
    assert "smb.v1" not in {f.rule for f in report.findings}
    service = report.hosts[0].services[0]
    assert service.details["smb1"] is False
    assert service.details["smb_dialect"] == "3.0.2"


async def test_garbage_on_smb_is_a_bounded_error_record():
    # Given a port that announces a 16 MiB message then spews random bytes
    async with smb_server(spew) as port:
        started = time.monotonic()
        report = await scan_smb(port, total=8.0)
        elapsed = time.monotonic() - started
    # Then the probe ends quickly with an error record, no finding, no crash
    assert elapsed < 8.0
    assert [e.reason for e in report.errors] == ["too-large"]
    assert report.errors[0].probe == "smb" and report.errors[0].port == port
    assert report.findings == []


async def test_tarpit_on_smb_is_a_timeout_record_within_the_read_deadline():
    # Given a port that accepts and never answers
    async with smb_server(tarpit) as port:
        started = time.monotonic()
        report = await scan_smb(port, total=8.0)
        elapsed = time.monotonic() - started
    # Then one timeout error after about one read deadline (2 s), not the total
    assert elapsed < 6.0
    assert [e.reason for e in report.errors] == ["timeout"]
    assert report.findings == []


async def test_random_garbage_is_protocol_or_too_large():
    # Given random bytes from the first moment (whatever the first byte)
    async def random_bytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(bytes([0x47]) + os.urandom(4096))
        await writer.drain()
        await asyncio.sleep(3600)

    async with smb_server(random_bytes) as port:
        report = await scan_smb(port, total=8.0)
    # Then the NetBIOS header parse rejects it: a protocol error, no finding
    assert [e.reason for e in report.errors] == ["protocol"]
    assert report.findings == []
