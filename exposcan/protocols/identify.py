"""Service identification for ports the catalogue cannot name, and banners.

Like nmap's NULL probe then GetRequest: wait briefly for a greeting
(SSH, FTP, VNC speak first), else send a harmless HTTP request, else try a TLS
handshake, else an SMB2 NEGOTIATE (SMB is silent first and drops an HTTP
request).  What stays unknown is left to probes that accept ``unknown``
(DICOM tries an association: a PACS behind a box often sits on an odd port).
"""

from __future__ import annotations

import re
from typing import ClassVar

from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError, open_connection
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.state import ServiceState

# Protocols whose server speaks first: a banner says product and version.
SERVER_FIRST = frozenset({"ssh", "ftp", "vnc", "smtp"})
BANNER_CAP = 512

_SSH = re.compile(rb"^SSH-[\d.]+-([A-Za-z]+)[_-]?([\w.]+)?")
_FTP = re.compile(rb"^220[ -]")
_VNC = re.compile(rb"^RFB (\d{3}\.\d{3})")


def classify_banner(data: bytes) -> tuple[str, str | None, str | None]:
    """(protocol, product, version) guessed from what a server said first."""
    if m := _SSH.match(data):
        product = m.group(1).decode("ascii", "replace")
        version = m.group(2).decode("ascii", "replace") if m.group(2) else None
        return "ssh", product, version
    if _VNC.match(data):
        return "vnc", None, _VNC.match(data).group(1).decode()  # type: ignore[union-attr]
    if _FTP.match(data):
        return "ftp", None, None
    if data.startswith(b"HTTP/"):
        return "http", None, None
    return "unknown", None, None


class IdentifyProbe(ServiceProbe):
    name = "identify"
    protocols: ClassVar[frozenset[str]] = frozenset({"unknown", *SERVER_FIRST})
    phase = 10
    decides_protocols = True

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        deadlines = ctx.config.deadlines
        wait = min(deadlines.read, 1.5)
        async with ctx.limits.connection(ctx.address):
            async with open_connection(ctx.address, service.port, deadlines) as conn:
                try:
                    greeting = await conn.read_some(BANNER_CAP, timeout=wait)
                except TimeoutError:
                    greeting = b""
                if greeting:
                    service.banner = greeting
                    proto, product, version = classify_banner(greeting)
                    if proto != "unknown":
                        service.protocol, service.confirmed = proto, True
                        service.product = product or service.product
                        service.version = version or service.version
                    return
                if service.protocol in SERVER_FIRST:
                    return
                try:
                    await conn.send(b"GET / HTTP/1.0\r\n\r\n")
                    # A web server answers GET / at once; the wait is short
                    # so that an SMB server (silent here) is named within the
                    # read deadline after which the next phase starts.
                    answer = await conn.read_some(BANNER_CAP, timeout=min(deadlines.read, 2.0))
                except TimeoutError:
                    answer = None
                except (ConnectionResetError, BrokenPipeError):
                    # An answer too: no web server. A DICOM node resets on
                    # "GET " (PDU type 0x47, PS3.8 §9.3.1): the report's
                    # error for an Orthanc behind a hand-set forward was this.
                    answer = b""
        if answer is None:
            # Silent to a greeting wait and to a request: SMB waits for the
            # rest of what "GET " announced as a NetBIOS frame; else a tarpit
            # or a protocol we cannot name, and the report says so.
            if await self._smb_answers(ctx, service):
                service.protocol = "smb"
                return
            raise ProbeError(ErrorReason.TIMEOUT, "no greeting and no answer to an HTTP request")
        if answer.startswith(b"HTTP/"):
            service.protocol = "http"
            return
        # A TLS server answers plain text with an alert or by closing.
        if (answer[:1] == b"\x15" or not answer) and await self._tls_answers(ctx, service):
            service.protocol, service.tls = "http", True
            return
        # SMB says nothing first and drops an HTTP request (its NetBIOS
        # length would be "GET "): a box forwarding WAN 4445 to a NAS's 445
        # is told by an SMB2 NEGOTIATE ([MS-SMB2] §2.2.3), read-only.
        if not answer and await self._smb_answers(ctx, service):
            service.protocol = "smb"

    async def _smb_answers(self, ctx: ProbeContext, service: ServiceState) -> bool:
        from exposcan.protocols.smb.negotiate import negotiate_smb2

        try:
            await negotiate_smb2(ctx.address, service.port, ctx.config.deadlines, ctx.limits)
        except (ProbeError, TimeoutError, OSError):
            return False
        return True

    async def _tls_answers(self, ctx: ProbeContext, service: ServiceState) -> bool:
        try:
            async with (
                ctx.limits.connection(ctx.address),
                open_connection(ctx.address, service.port, ctx.config.deadlines, tls=True) as conn,
            ):
                await conn.send(b"GET / HTTP/1.0\r\n\r\n")
                answer = await conn.read_some(BANNER_CAP)
        except (ProbeError, TimeoutError, OSError):
            return False
        return answer.startswith(b"HTTP/")
