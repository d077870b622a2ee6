"""Hostile services for the lab's "junk" and "hostile" hosts.

Every probe must survive servers that misbehave: a scanner that waits for
ever, reads without a bound or trusts a header has a bug that a real clinic
network (odd appliances, half-dead devices) will find. The junk host:

- tarpit: accepts, never sends, never closes;
- spew: random bytes from the first moment, without end;
- fake DICOM: answers any input with an A-ASSOCIATE-AC-looking header
  (PDU type 0x02, reserved 0x00, a 4-byte length; PS3.8 §9.3.3) and junk
  that matches no length, then closes;
- endless HTTP: "200 OK" with a chunked body that never ends.

The hostile host (each off unless its option is given):

- huge DICOM: an A-ASSOCIATE-AC header claiming a 4 GiB PDU (length
  0xFFFFFFFF, the most PS3.8 §9.3.1's 32-bit field can say), then random
  bytes without end;
- drip: HTTP response headers sent one byte every few seconds (each read
  deadline is met, only a total deadline ends it: the slowloris of replies);
- TLS stall: takes the ClientHello, sends the first bytes of a ServerHello
  record announcing 16 KiB (RFC 8446 §5.1), then nothing: the handshake
  never completes;
- reset: accepts, then resets the connection (SO_LINGER 0) at the client's
  first bytes;
- SMB stall: answers SMB2 NEGOTIATE ([MS-SMB2] §2.2.4) like a server, then
  never answers the SESSION_SETUP;
- SSDP: answers every M-SEARCH (UPnP Device Architecture 1.1 §1.3.3) as an
  internet gateway whose LOCATION is a description with a billion-laughs
  entity bomb and an external entity (XXE) pointing back at this server, and
  a second answer whose LOCATION names a host outside the LAN.  A request
  for the entity's URL means a parser followed it: logged as "XXE FETCHED".

The second round (hosts hostile2 and hostile3), services that
answer, and lie or answer malformed:

- DICOM: an association accepted then A-ABORTed at once; a C-ECHO answer
  dripped one byte a second; a flood of C-ECHO responses to a message ID
  never sent; a 16-byte maximum PDU (logs "PDU OVER MAX" if overrun);
- SMB: SESSION_SETUP answered by a frame announcing 16 MiB then 64 bytes every
  2 s; or at once, with garbage;
- HTTP: a soft 404 echoing the path; a fake Orthanc whose /statistics cannot
  be true and whose /system names another port's DICOM node; nginx-like
  listings of 5,000 DICOM files (660 KB) and over the 1 MiB page cap; a 64 KiB
  header line; TLS with a certificate whose CN is 64 KiB (``--cert``).

Standalone (stdlib only) so that it runs in a namespace with any Python and
without importing the engine. "Endless" is bounded per connection and for
the whole process (see the caps below) so that a forgotten lab stops by
itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

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


async def huge_dicom(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        data = await asyncio.wait_for(reader.read(CHUNK), timeout=30)
        if data:
            # A-ASSOCIATE-AC, reserved, length 0xFFFFFFFF (4 GiB - 1): a reader
            # that allocates or waits for the announced length never returns.
            writer.write(b"\x02\x00\xff\xff\xff\xff")
            await _send_forever(writer, frame=False)
    await _hold(writer)


#: Seconds between two bytes of a dripped header: under any read deadline.
DRIP_INTERVAL = 2.0
_DRIPPED = b"HTTP/1.1 200 OK\r\nServer: drip/0.1\r\nContent-Type: text/html\r\n" + b"".join(
    b"X-Drip-%d: %s\r\n" % (i, b"d" * 60) for i in range(400)
)


async def drip_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    deadline = time.monotonic() + CONNECTION_CAP_S
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        for byte in _DRIPPED:
            if time.monotonic() > deadline:
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(DRIP_INTERVAL)
    await _hold(writer)


async def tls_stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        hello = await asyncio.wait_for(reader.read(CHUNK), timeout=30)
        if hello[:1] == b"\x16":  # a TLS handshake record: the ClientHello
            # Handshake record, TLS 1.2, 16384 bytes announced; a ServerHello
            # header (type 2) announcing 16380; 2 bytes of it. Then silence.
            writer.write(b"\x16\x03\x03\x40\x00" + b"\x02\x00\x3f\xfc" + b"\x03\x03")
            await writer.drain()
    await tarpit(reader, writer)


async def reset_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # At the client's first bytes (or after 1 s of silence): a reset before
    # any byte could be taken by a connect scan for a closed port, and the
    # point is to meet the probe.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader.read(1), timeout=1.0)
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(Exception):
        # Linger on, timeout 0: close() sends RST instead of FIN (RFC 793 §3.5 abort).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# SPNEGO negTokenInit offering NTLMSSP only (RFC 4178 §4.2.1; OIDs
# 1.3.6.1.5.5.2 and 1.3.6.1.4.1.311.2.2.10): what a server's NEGOTIATE
# response carries so that a client goes on to SESSION_SETUP.
_SPNEGO_NTLM = bytes.fromhex("601c06062b0601050502a0123010a00e300c060a2b06010401823702020a")


def smb2_negotiate_response(dialect: int = 0x0210) -> bytes:
    """[MS-SMB2] §2.2.4: dialect 2.1, signing enabled, not required."""
    header = (
        b"\xfeSMB"
        + struct.pack("<HHIHHIIQIIQ", 64, 0, 0, 0x0000, 1, 0x00000001, 0, 0, 0xFEFF, 0, 0)
        + b"\x00" * 16
    )
    now = int((time.time() + 11644473600) * 10_000_000)  # FILETIME
    body = (
        struct.pack(
            "<HHHH16sIIIIQQHHI",
            65,
            0x0001,
            dialect,
            0,
            os.urandom(16),
            0,
            65536,
            65536,
            65536,
            now,
            0,
            64 + 64,
            len(_SPNEGO_NTLM),
            0,
        )
        + _SPNEGO_NTLM
    )
    message = header + body
    return b"\x00" + len(message).to_bytes(3, "big") + message


async def smb_stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        header = await asyncio.wait_for(reader.readexactly(4), timeout=30)
        body = await asyncio.wait_for(
            reader.readexactly(int.from_bytes(header[1:4], "big") & 0xFFFF), timeout=30
        )
        if body[:4] == b"\xfeSMB" or b"SMB 2." in body:
            writer.write(smb2_negotiate_response())
            await writer.drain()
        # SMB1 alone offered: no answer either. Then silence, whatever comes.
    await tarpit(reader, writer)


async def _negotiate_then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Answer an SMB2 NEGOTIATE, read the SESSION_SETUP that follows; True
    when the client got that far (port 139's SESSION REQUEST answered too)."""
    for _ in range(4):
        header = await asyncio.wait_for(reader.readexactly(4), timeout=30)
        length = int.from_bytes(header[1:4], "big") & 0x1FFFF
        body = await asyncio.wait_for(reader.readexactly(length), timeout=30)
        if header[0] == 0x81:  # NetBIOS SESSION REQUEST (RFC 1002 §4.3.2)
            writer.write(b"\x82\x00\x00\x00")
            continue
        if body[:4] == b"\xfeSMB" and body[12:14] == b"\x00\x00":  # NEGOTIATE
            writer.write(smb2_negotiate_response())
            await writer.drain()
            continue
        if body[:5] == b"\xffSMBr":
            if b"SMB 2." not in body:
                return False  # SMB1 only: not this case
            # [MS-SMB2] §3.3.5.3.1: a multi-protocol NEGOTIATE is answered
            # with the wildcard dialect; the client then negotiates SMB2.
            writer.write(smb2_negotiate_response(0x02FF))
            await writer.drain()
            continue
        return True  # the SESSION_SETUP
    return False


async def smb_drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """SESSION_SETUP answered by a frame announcing 16 MiB, then 64 bytes
    every 2 s: a per-read timeout never fires."""
    deadline = time.monotonic() + CONNECTION_CAP_S
    with contextlib.suppress(Exception):
        if await _negotiate_then(reader, writer):
            writer.write(b"\x00\xff\xff\xff" + b"\xfeSMB" + os.urandom(60))
            await writer.drain()
            while time.monotonic() < deadline:
                await asyncio.sleep(DRIP_INTERVAL)
                writer.write(os.urandom(64))
                await writer.drain()
    await _hold(writer)


async def smb_garbled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """SESSION_SETUP answered at once, by a well-framed message that is no
    SMB2 SESSION_SETUP response: an answer came, malformed."""
    with contextlib.suppress(Exception):
        if await _negotiate_then(reader, writer):
            garbage = b"\xfeSMB" + b"\x40\x00" + b"\xff" * 58 + os.urandom(24)
            writer.write(b"\x00" + len(garbage).to_bytes(3, "big") + garbage)
            await writer.drain()
    await tarpit(reader, writer)


# --- Second round: services that answer, and lie -------------------

_APP_CONTEXT = b"1.2.840.10008.3.1.1.1"
_IMPLICIT_LE = b"1.2.840.10008.1.2"
_VERIFICATION = b"1.2.840.10008.1.1"
#: An implementation class UID of no real toolkit (PS3.7 §D.3.3.2).
_LIAR_UID = b"1.2.826.0.1.3680043.9.7433.15"


def _item(kind: int, value: bytes) -> bytes:
    return bytes([kind, 0]) + struct.pack(">H", len(value)) + value


def _proposed(rq_body: bytes) -> list[tuple[int, bytes]]:
    """(context id, abstract syntax) of an A-ASSOCIATE-RQ's body (PS3.8 §9.3.2)."""
    out, offset = [], 68
    while offset + 4 <= len(rq_body):
        kind = rq_body[offset]
        length = struct.unpack(">H", rq_body[offset + 2 : offset + 4])[0]
        value = rq_body[offset + 4 : offset + 4 + length]
        if kind == 0x20 and len(value) >= 4:
            syntax, sub = b"", 4
            while sub + 4 <= len(value):
                sub_len = struct.unpack(">H", value[sub + 2 : sub + 4])[0]
                if value[sub] == 0x30:
                    syntax = value[sub + 4 : sub + 4 + sub_len]
                sub += 4 + sub_len
            out.append((value[0], syntax))
        offset += 4 + length
    return out


def associate_ac(rq_body: bytes, max_pdu: int = 16384, only: bytes | None = None) -> bytes:
    """An A-ASSOCIATE-AC (PS3.8 §9.3.3) accepting every proposed context in
    Implicit VR Little Endian (or only the abstract syntax ``only``)."""
    items = _item(0x10, _APP_CONTEXT)
    for context_id, syntax in _proposed(rq_body):
        ok = only is None or syntax.rstrip(b"\0") == only
        items += _item(
            0x21,
            bytes([context_id, 0, 0 if ok else 3, 0]) + _item(0x40, _IMPLICIT_LE),
        )
    items += _item(0x50, _item(0x51, struct.pack(">I", max_pdu)) + _item(0x52, _LIAR_UID))
    body = b"\x00\x01\x00\x00" + rq_body[4:36] + b"\x00" * 32 + items
    return b"\x02\x00" + struct.pack(">I", len(body)) + body


def _element(tag: tuple[int, int], value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\0"
    return struct.pack("<HHI", *tag, len(value)) + value


def echo_response(message_id: int, context_id: int = 1) -> bytes:
    """A C-ECHO-RSP (PS3.7 §9.3.5.2) in one P-DATA-TF, command set in
    Implicit VR Little Endian (PS3.7 §6.3.1)."""
    fields = (
        _element((0, 0x0002), _VERIFICATION)
        + _element((0, 0x0100), struct.pack("<H", 0x8030))
        + _element((0, 0x0120), struct.pack("<H", message_id))
        + _element((0, 0x0800), struct.pack("<H", 0x0101))
        + _element((0, 0x0900), struct.pack("<H", 0))
    )
    command = _element((0, 0x0000), struct.pack("<I", len(fields))) + fields
    pdv = struct.pack(">I", len(command) + 2) + bytes([context_id, 0x03]) + command
    return b"\x04\x00" + struct.pack(">I", len(pdv)) + pdv


async def _read_pdu(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await asyncio.wait_for(reader.readexactly(6), timeout=30)
    length = struct.unpack(">I", header[2:6])[0]
    if length > 1 << 20:
        raise ValueError("PDU too large for a lab server")
    return header[0], await asyncio.wait_for(reader.readexactly(length), timeout=30)


async def _accept(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    max_pdu: int = 16384,
    only: bytes | None = None,
) -> bool:
    kind, body = await _read_pdu(reader)
    if kind != 0x01:
        return False
    writer.write(associate_ac(body, max_pdu, only))
    await writer.drain()
    return True


async def dicom_abort(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts every context, then A-ABORT at once (PS3.8 §9.3.8): none of
    them was ever usable."""
    with contextlib.suppress(Exception):
        if await _accept(reader, writer):
            writer.write(b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00")
            await writer.drain()
    await _hold(writer)


async def dicom_drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts, then answers the C-ECHO with a P-DATA-TF one byte a second."""
    deadline = time.monotonic() + CONNECTION_CAP_S
    with contextlib.suppress(Exception):
        if await _accept(reader, writer):
            await _read_pdu(reader)
            for byte in echo_response(1):
                if time.monotonic() > deadline:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1.0)
    await _hold(writer)


async def dicom_flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts, then floods C-ECHO responses to a message ID never sent."""
    deadline = time.monotonic() + CONNECTION_CAP_S
    sent = 0
    with contextlib.suppress(Exception):
        if await _accept(reader, writer):
            burst = echo_response(9999) * 256
            while sent < BYTES_CAP and time.monotonic() < deadline:
                writer.write(burst)
                await writer.drain()
                sent += len(burst)
    await _hold(writer)


#: The tiny maximum PDU length the next node announces (PS3.8 §D.1).
TINY_PDU = 16


async def dicom_tiny_pdu(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts Verification only, announcing a 16-byte maximum PDU; answers
    the C-ECHO and the A-RELEASE, and logs every P-DATA-TF over its maximum."""
    with contextlib.suppress(Exception):
        if await _accept(reader, writer, TINY_PDU, only=_VERIFICATION):
            largest = 0
            while True:
                kind, body = await _read_pdu(reader)
                if kind == 0x04:
                    largest = max(largest, len(body))
                    if len(body) > TINY_PDU:
                        print(f"hostile: PDU OVER MAX {len(body)} > {TINY_PDU}", flush=True)
                    # The last fragment of a command (PS3.8 §E.2): answer it.
                    if len(body) >= 6 and body[5] & 0x03 == 0x03:
                        writer.write(echo_response(1))
                elif kind == 0x05:  # A-RELEASE-RQ -> A-RELEASE-RP
                    writer.write(b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00")
                    print(f"hostile: tiny PDU released, largest {largest}", flush=True)
                    await writer.drain()
                    break
                else:
                    break
                await writer.drain()
    await _hold(writer)


def _http(status: str, body: bytes, ctype: bytes = b"text/html", extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s"
        % (status.encode(), ctype, len(body), extra, body)
    )


async def _http_path(reader: asyncio.StreamReader) -> str:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    parts = head.split(b" ", 2)
    return parts[1].decode("latin-1") if len(parts) > 2 else "/"


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def soft_404(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """200 for every path, the path echoed in the page: a "soft 404"."""
    with contextlib.suppress(Exception):
        path = await _http_path(reader)
        page = (
            f"<html><title>Not here</title><body>{_html_escape(path)} was not found</body></html>"
        )
        writer.write(_http("200 OK", page.encode()))
        await writer.drain()
    await _hold(writer)


#: What the fake Orthanc's /system says: its DICOM node is the tiny-PDU one.
LIAR_AET = "LIARPACS"


def fake_orthanc(dicom_port: int) -> Handler:
    """An Orthanc-looking REST API whose /statistics cannot be true."""
    system = json.dumps(
        {
            "Version": "1.12.11",
            "Name": "liar",
            "DicomAet": LIAR_AET,
            "DicomPort": dicom_port,
            "IsHttpServerSecure": False,
        }
    ).encode()
    statistics = (
        b'{"CountPatients": -7, "CountStudies": 1' + b"0" * 40 + b', "CountSeries": 3, '
        b'"CountInstances": 4, "TotalDiskSizeMB": 1}'
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            path = await _http_path(reader)
            if path == "/system":
                writer.write(_http("200 OK", system, b"application/json"))
            elif path == "/statistics":
                writer.write(_http("200 OK", statistics, b"application/json"))
            else:
                writer.write(_http("404 Not Found", b"Unknown resource"))
            await writer.drain()
        await _hold(writer)

    return handle


def _listing_page(count: int, line_size: int) -> bytes:
    """An nginx autoindex page of ``count`` DICOM files, each line padded to
    about ``line_size`` bytes (a modality export: long generated names)."""
    lines = []
    for i in range(count):
        name = f"IM{i:06d}" + "_" * max(0, line_size - 80) + ".dcm"
        lines.append(f'<a href="{name}">{name[:50]}</a> 01-Dec-2026 09:00 132\r\n')
    return (
        "<html><head><title>Index of /</title></head><body>\r\n<h1>Index of /</h1><hr><pre>"
        '<a href="../">../</a>\r\n' + "".join(lines) + "</pre><hr></body></html>\r\n"
    ).encode()


def big_listing(count: int, line_size: int) -> Handler:
    """nginx-like autoindex at / over ``count`` files; each file's first
    132 bytes carry the DICM magic (PS3.10 §7.1). Names carry no patient."""
    page = _listing_page(count, line_size)
    part10 = b"\0" * 128 + b"DICM" + b"\0" * 64

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            path = await _http_path(reader)
            if path == "/":
                writer.write(_http("200 OK", page, extra=b"Server: nginx/1.22.1\r\n"))
            elif path.endswith(".dcm"):
                writer.write(
                    _http("200 OK", part10, b"application/dicom", b"Server: nginx/1.22.1\r\n")
                )
            else:
                writer.write(_http("404 Not Found", b"", extra=b"Server: nginx/1.22.1\r\n"))
            await writer.drain()
        await _hold(writer)

    return handle


async def long_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A status line, then one header line of 64 KiB: malformed HTTP, not TLS."""
    with contextlib.suppress(Exception):
        await _http_path(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 65536 + b"\r\n\r\nhello")
        await writer.drain()
    await _hold(writer)


async def tls_hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A plain page, served over TLS with whatever certificate was given."""
    with contextlib.suppress(Exception):
        await _http_path(reader)
        writer.write(_http("200 OK", b"<html><body>hello</body></html>"))
        await writer.drain()
    await _hold(writer)


#: Billion laughs (ten levels of ten) and an external entity pointing back
#: here: defusedxml with DTDs forbidden refuses both before expanding.
def bomb_description(advertise: str, port: int) -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE root [\n'
        + "\n".join(levels)
        + f'\n<!ENTITY xxe SYSTEM "http://{advertise}:{port}/xxe">\n]>\n'
        '<root xmlns="urn:schemas-upnp-org:device-1-0">'
        "<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>"
        "<friendlyName>&lol9;</friendlyName><manufacturer>&xxe;</manufacturer>"
        "<serviceList><service>"
        "<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
        "<controlURL>/ctl</controlURL></service></serviceList></device></root>\n"
    ).encode()


def description_server(advertise: str, port: int) -> Handler:
    body = bomb_description(advertise, port)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
            path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"?"
            if path.startswith(b"/xxe"):
                print("hostile: XXE FETCHED", path[:100].decode("latin-1"), flush=True)
            else:
                print("hostile: description requested", flush=True)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        await _hold(writer)

    return handle


SSDP_GROUP = "239.255.255.250"
SSDP_PORT = 1900
IGD = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"


class SsdpResponder(asyncio.DatagramProtocol):
    """Answers M-SEARCH with two IGD answers: the bomb, and a LOCATION on
    another network. At most 50 answers a second: a lab host, not an amplifier."""

    def __init__(self, advertise: str, xml_port: int) -> None:
        self.advertise = advertise
        self.xml_port = xml_port
        self.transport: asyncio.DatagramTransport | None = None
        self._window = (0.0, 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.startswith(b"M-SEARCH") or self.transport is None:
            return
        start, count = self._window
        now = time.monotonic()
        if now - start > 1.0:
            start, count = now, 0
        if count >= 50:
            return
        self._window = (start, count + 2)
        st = IGD
        for line in data.decode("latin-1").split("\r\n"):
            if line.lower().startswith("st:") and "InternetGatewayDevice" in line:
                st = line.split(":", 1)[1].strip()[:80]
        for location in (
            f"http://{self.advertise}:{self.xml_port}/igd.xml",
            "http://203.0.113.50:80/rootDesc.xml",  # the lab internet: never followed
        ):
            answer = (
                "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nEXT:\r\n"
                f"LOCATION: {location}\r\nSERVER: hostile/0.1 UPnP/1.1 lab/0.1\r\n"
                f"ST: {st}\r\nUSN: uuid:00000000-0000-0000-0000-hostile0051::{st}\r\n\r\n"
            )
            self.transport.sendto(answer.encode("latin-1"), addr)


async def start_ssdp(advertise: str, xml_port: int) -> asyncio.DatagramTransport:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", SSDP_PORT))
    membership = socket.inet_aton(SSDP_GROUP) + socket.inet_aton(advertise)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: SsdpResponder(advertise, xml_port), sock=sock
    )
    return transport


HANDLERS: dict[str, Handler] = {
    "tarpit": tarpit,
    "spew": spew,
    "dicom": fake_dicom,
    "http": endless_http,
    "huge_dicom": huge_dicom,
    "drip": drip_http,
    "tls_stall": tls_stall,
    "reset": reset_at_once,
    "smb_stall": smb_stall,
    "smb_drip": smb_drip,
    "smb_garbled": smb_garbled,
    "dicom_abort": dicom_abort,
    "dicom_drip": dicom_drip,
    "dicom_flood": dicom_flood,
    "dicom_tiny_pdu": dicom_tiny_pdu,
    "soft_404": soft_404,
    "long_header": long_header,
    # 5,000 files in a 660 KB page, and a page over the 1 MiB cap.
    "listing": big_listing(5000, 132),
    "huge_listing": big_listing(6000, 300),
    "tls_cert": tls_hello,
}


async def serve(
    bind: str,
    ports: dict[str, int],
    lifetime: float,
    ssdp: tuple[str, int] | None = None,
    cert: str | None = None,
) -> None:
    handlers: dict[str, Handler] = dict(HANDLERS)
    handlers["fake_orthanc"] = fake_orthanc(ports.get("dicom_tiny_pdu", 0))
    if ssdp is not None:
        handlers["xml"] = description_server(*ssdp)
        ports = {**ports, "xml": ssdp[1]}
    tls: ssl.SSLContext | None = None
    if cert is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert)
    servers = [
        await asyncio.start_server(
            handlers[kind],
            bind,
            port,
            reuse_address=True,
            ssl=tls if kind == "tls_cert" else None,
        )
        for kind, port in ports.items()
        if port and (kind != "tls_cert" or tls is not None)
    ]
    datagram = await start_ssdp(*ssdp) if ssdp is not None else None
    print(f"hostile: listening on {bind} {ports} ssdp={ssdp is not None}", flush=True)
    try:
        await asyncio.sleep(lifetime)
    finally:
        for s in servers:
            s.close()
        if datagram is not None:
            datagram.close()


#: Services off unless their port is given (the hostile hosts' own).
OPTIONAL_SERVICES: tuple[str, ...] = (
    "huge-dicom",
    "drip",
    "tls-stall",
    "reset",
    "smb-stall",
    "smb-drip",
    "smb-garbled",
    "dicom-abort",
    "dicom-drip",
    "dicom-flood",
    "dicom-tiny-pdu",
    "soft-404",
    "long-header",
    "listing",
    "huge-listing",
    "fake-orthanc",
    "tls-cert",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--tarpit", type=int, default=8080)
    ap.add_argument("--spew", type=int, default=5678)
    ap.add_argument("--dicom", type=int, default=104)
    ap.add_argument("--http", type=int, default=80)
    # The hostile host's services: off (0) unless given.
    for kind in OPTIONAL_SERVICES:
        ap.add_argument(f"--{kind}", type=int, default=0, metavar="PORT")
    ap.add_argument(
        "--ssdp",
        metavar="ADDRESS:XMLPORT",
        help="answer SSDP on UDP 1900 as ADDRESS, the description on XMLPORT",
    )
    ap.add_argument("--cert", metavar="PEM", help="certificate and key for --tls-cert")
    ap.add_argument(
        "--lifetime", type=float, default=6 * 3600.0, help="exit after this many seconds"
    )
    a = ap.parse_args()
    ports = {
        kind: getattr(a, kind)
        for kind in (
            "tarpit",
            "spew",
            "dicom",
            "http",
            *(k.replace("-", "_") for k in OPTIONAL_SERVICES),
        )
    }
    ssdp = None
    if a.ssdp:
        address, _, xml_port = a.ssdp.rpartition(":")
        ssdp = (address, int(xml_port))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(a.bind, ports, a.lifetime, ssdp, a.cert))


if __name__ == "__main__":
    main()
