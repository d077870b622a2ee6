"""Bounded asyncio NEGOTIATE exchanges: SMB2/3 facts and the SMB1 test.

One connection per exchange, each read capped in size and time (netio): a
tarpit or a garbage spewer on 445 ends as a :class:`ProbeError`.
"""

from __future__ import annotations

import asyncio

from exposcan.limits import Deadlines, Limits
from exposcan.models import ErrorReason
from exposcan.net.netio import Connection, ProbeError, open_connection
from exposcan.protocols.smb import wire

#: Keepalives a server may send before its answer (RFC 1002 §4.3.7).
MAX_KEEPALIVES = 4
#: Port of the NetBIOS session service, where a SESSION REQUEST comes first.
NETBIOS_PORT = 139


async def read_message(conn: Connection, cap: int = wire.NEGOTIATE_CAP) -> bytes:
    """One session message, its announced length capped before it is read."""
    for _ in range(MAX_KEEPALIVES + 1):
        kind, length = wire.parse_frame_header(await conn.read_exactly(4, 4))
        body = await conn.read_exactly(length, cap) if length else b""
        if kind == wire.NBSS_KEEPALIVE:
            continue
        if kind != wire.NBSS_MESSAGE:
            raise wire.WireError("unexpected NetBIOS packet")
        return body
    raise wire.WireError("only keepalives")


async def netbios_session(conn: Connection) -> None:
    """RFC 1002 §4.3.2: port 139 wants a SESSION REQUEST before any SMB."""
    await conn.send(wire.session_request())
    kind, length = wire.parse_frame_header(await conn.read_exactly(4, 4))
    if length:
        await conn.read_exactly(length, 64)
    if kind != wire.NBSS_POSITIVE:
        raise ProbeError(ErrorReason.PROTOCOL, "NetBIOS session refused")


async def exchange(
    address: str, port: int, message: bytes, deadlines: Deadlines, limits: Limits
) -> bytes:
    """Send one SMB message on a fresh connection and return the answer.

    Raises ProbeError for anything that is not an answer (timeout, garbage,
    a length past the cap); ``asyncio.IncompleteReadError`` when the server
    closed the connection instead of answering (a meaningful "no" for SMB1).
    """
    async with limits.connection(address):
        async with open_connection(address, port, deadlines) as conn:
            try:
                if port == NETBIOS_PORT:
                    await netbios_session(conn)
                await conn.send(wire.frame(message))
                return await read_message(conn)
            except TimeoutError:
                raise ProbeError(
                    ErrorReason.TIMEOUT,
                    f"no SMB answer within {deadlines.read:g} s",
                ) from None
            except wire.WireError as exc:
                raise ProbeError(ErrorReason.PROTOCOL, str(exc)) from None


async def negotiate_smb2(
    address: str, port: int, deadlines: Deadlines, limits: Limits
) -> wire.Smb2Answer:
    try:
        answer = await exchange(address, port, wire.smb2_negotiate_request(), deadlines, limits)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ProbeError(ErrorReason.RESET, "closed before an SMB2 NEGOTIATE response") from exc
    try:
        return wire.parse_smb2_negotiate(answer)
    except wire.WireError as exc:
        raise ProbeError(ErrorReason.PROTOCOL, str(exc)) from None


async def smb1_accepted(
    address: str, port: int, deadlines: Deadlines, limits: Limits
) -> wire.Smb1Answer:
    """Offer only NT LM 0.12: an SMB1 NEGOTIATE response choosing it means
    SMB1 is on (the protocol of CVE-2017-0144, WannaCry).  A server that
    closes the connection has SMB1 off (Windows resets; Samba answers with
    DialectIndex 0xFFFF)."""
    try:
        answer = await exchange(address, port, wire.smb1_negotiate_request(), deadlines, limits)
    except (asyncio.IncompleteReadError, ConnectionError):
        return wire.Smb1Answer(False)
    try:
        return wire.parse_smb1_negotiate(answer)
    except wire.WireError as exc:
        raise ProbeError(ErrorReason.PROTOCOL, str(exc)) from None
