"""Ask a reflector for the outside view of this network.

The client verifies the reflector before it sends anything: system CAs, a CA
file (a self-hosted reflector), or the certificate's pinned SHA-256 (checked
by aiohttp when the TLS connection is made, before the request goes out).  The
token comes from a file or the environment, never from the command line
(``ps`` shows every user's arguments), and travels only in a header.  The
answer is read up to a size cap, and the whole exchange has one deadline.

The client believes only what it can check.  The reflector scans the
request's source and the IPv6 addresses the request named, nothing else:
an answer's hosts, findings and errors naming any other address (parsed as
an address, in its canonical form) are left out, and counted, before they
could become a finding, a verdict or an alert about somebody else's
network.  Every string of the answer is cleaned of control and format
characters by the models (``exposcan.sanitise``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from yarl import URL

from exposcan.models import Report, Vantage
from exposcan.reflector.tokens import TokenFileError, check_private
from exposcan.reflector.wire import (
    MAX_ANSWER_BYTES,
    MAX_IPV6,
    SCAN_PATH,
    ErrorAnswer,
    ScanAnswer,
    ScanRequest,
)
from exposcan.sanitise import clean_text

# Names of environment variables, not secrets.
if TYPE_CHECKING:
    # Imported when a request is made: every scan imports this module (for
    # load_token) and aiohttp costs ~0.1 s to import.
    import aiohttp

TOKEN_ENV = "EXPOSCAN_OUTSIDE_TOKEN"  # noqa: S105
TOKEN_FILE_ENV = "EXPOSCAN_OUTSIDE_TOKEN_FILE"  # noqa: S105
#: A token is one short line of URL-safe characters (``add-token`` makes 43).
MAX_TOKEN_CHARS = 256
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


class ReflectorError(Exception):
    """The outside view could not be had; the message is one line."""


@dataclass(frozen=True)
class OutsideView:
    """What the reflector saw of this network from the internet.

    ``report.scan.complete`` is False when the reflector's own deadline ended
    the scan: then a port not seen open was not proven closed.
    """

    source: str
    ports_tried: int
    report: Report
    scanned: tuple[str, ...]
    reflector: str
    #: IPv6 addresses named but not scanned, each with why (over IPv4, or
    #: outside the source's /64); also in ``report.scan.notes``.
    skipped: tuple[str, ...] = ()
    #: Hosts, findings and errors of the answer that named an address this
    #: request did not ask about (neither the source nor a named address):
    #: left out of ``report``.
    dropped: int = 0


def load_token(path: Path | None = None) -> str:
    """The token: from ``path``, else $EXPOSCAN_OUTSIDE_TOKEN, else the file
    named by $EXPOSCAN_OUTSIDE_TOKEN_FILE."""
    if path is None:
        value = os.environ.get(TOKEN_ENV, "").strip()
        if value:
            return _checked_token(value, f"${TOKEN_ENV}")
        named = os.environ.get(TOKEN_FILE_ENV, "").strip()
        if not named:
            raise ReflectorError(
                f"no reflector token: set ${TOKEN_ENV} or ${TOKEN_FILE_ENV}, or give a token file"
            )
        path = Path(named)
    try:
        with path.open("rb") as handle:
            # A secret others may read is refused, as ssh refuses such a key.
            check_private(path, os.fstat(handle.fileno()).st_mode)
            raw = handle.read(MAX_TOKEN_CHARS + 2)
    except OSError as exc:
        raise ReflectorError(f"cannot read the token file {path}: {exc.strerror}") from None
    except TokenFileError as exc:
        raise ReflectorError(str(exc)) from None
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ReflectorError(f"the token file {path} does not hold a token") from None
    return _checked_token(text, str(path))


def _checked_token(value: str, where: str) -> str:
    # Checked here so that a stray newline or a pasted "Bearer" never reaches
    # a header; the message never quotes the value.
    if not value or len(value) > MAX_TOKEN_CHARS or not set(value) <= _TOKEN_CHARS:
        raise ReflectorError(f"{where} does not hold a token (one line of letters, digits, -_.~)")
    return value


def _pin(pin_sha256: str) -> aiohttp.Fingerprint:
    import aiohttp

    digest = pin_sha256.replace(":", "").strip().lower()
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ReflectorError("the certificate pin must be a SHA-256 (64 hex digits)")
    return aiohttp.Fingerprint(raw)


def _tls(ca_file: Path | None, pin_sha256: str | None) -> ssl.SSLContext | aiohttp.Fingerprint:
    if ca_file is not None and pin_sha256 is not None:
        raise ReflectorError("give the reflector's CA file or its certificate pin, not both")
    if pin_sha256 is not None:
        # The pinned certificate is the trust: a self-signed one needs no CA.
        return _pin(pin_sha256)
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ReflectorError(f"cannot load the CA file {ca_file}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # BCP 195
    return context


def _scan_url(url: str) -> URL:
    try:
        base = URL(url)
    except (ValueError, TypeError):
        raise ReflectorError(f"bad reflector URL {url!r}") from None
    if base.scheme != "https" or not base.host:
        raise ReflectorError("the reflector URL must be https://HOST[:PORT]")
    if base.user or base.password or base.query_string:
        # A credential in a URL ends up in logs and shell histories.
        raise ReflectorError("the reflector URL must hold no user, password or query")
    path = base.path.rstrip("/")
    if path.endswith(SCAN_PATH):
        return base.with_path(path)
    return base.with_path(path + SCAN_PATH)


def _ipv6_list(ipv6: Sequence[str]) -> list[str]:
    out: list[str] = []
    for text in ipv6:
        try:
            address = ip_address(text)
        except ValueError:
            raise ReflectorError(f"not an IPv6 address: {text!r}") from None
        if not isinstance(address, IPv6Address):
            raise ReflectorError(
                f"not an IPv6 address: {text} (IPv4: the reflector scans the source)"
            )
        if str(address) not in out:
            out.append(str(address))
    if len(out) > MAX_IPV6:
        raise ReflectorError(f"at most {MAX_IPV6} IPv6 addresses per request ({len(out)} given)")
    return out


async def _bounded_body(response: aiohttp.ClientResponse, cap: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > cap:
        raise ReflectorError(f"the reflector's answer is too large ({declared} bytes)")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await response.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise ReflectorError(f"the reflector's answer is larger than {cap} bytes")
        chunks.append(chunk)


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(clean_text(text).split())[:limit]


def _canonical(text: str) -> str | None:
    """``text`` if it is an IP address written as this client writes one."""
    try:
        address = ip_address(text)
    except ValueError:
        return None
    return text if str(address) == text else None


def answer_source(text: str) -> str:
    """The answer's ``source``, as an address (an IPv4-mapped IPv6 address
    is the IPv4 address it maps); anything else is no outside view."""
    try:
        address = ip_address(text)
    except ValueError:
        raise ReflectorError("the reflector's answer names no source address") from None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def believed(report: Report, asked: frozenset[str]) -> tuple[Report, int]:
    """``report`` with only the hosts, findings and errors of the addresses
    in ``asked`` (canonical forms), and how many others were left out."""
    hosts = [h for h in report.hosts if _canonical(h.address) in asked]
    findings = [f for f in report.findings if _canonical(f.host) in asked]
    errors = [e for e in report.errors if _canonical(e.host) in asked]
    dropped = (
        len(report.hosts)
        - len(hosts)
        + len(report.findings)
        - len(findings)
        + len(report.errors)
        - len(errors)
    )
    targets = [t for t in report.scan.targets if _canonical(t) in asked]
    scan = report.scan.model_copy(update={"targets": targets})
    kept = report.model_copy(
        update={"scan": scan, "hosts": hosts, "findings": findings, "errors": errors}
    )
    return kept, dropped


def client_connector(family: int = 0) -> aiohttp.TCPConnector:
    """The connector of a client of a pinned service (the reflector, the
    hub).  A pin mismatch closes the TLS transport gracefully (a close_notify
    that waits for the peer's), which an ``asyncio.run`` ending just after
    leaves half-closed: its socket then leaks until garbage collection
    (a ResourceWarning).  aiohttp aborts such transports when the connector
    closes if told to; Python 3.12.7 and later no longer need it, and aiohttp
    ignores the flag there."""
    import sys

    import aiohttp

    return aiohttp.TCPConnector(
        family=socket.AddressFamily(family),
        enable_cleanup_closed=sys.version_info < (3, 12, 7),
    )


async def request_outside_view(
    url: str,
    *,
    token: str,
    ca_file: Path | None = None,
    pin_sha256: str | None = None,
    ipv6: Sequence[str] = (),
    deadline: float = 300.0,
    family: int = 0,
) -> OutsideView:
    """Ask the reflector at ``url`` (https://HOST[:PORT]) to scan this network's
    public address back; raises :class:`ReflectorError` on any failure.
    ``family`` (socket.AF_INET or AF_INET6; 0: either) is how the request
    travels, so which of this network's addresses the reflector sees."""
    import aiohttp

    target = _scan_url(url)
    tls = _tls(ca_file, pin_sha256)
    token = _checked_token(token, "the token")
    body = ScanRequest(
        timestamp=time.time(), nonce=secrets.token_hex(16), ipv6=_ipv6_list(ipv6)
    ).model_dump_json()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    timeout = aiohttp.ClientTimeout(total=deadline, connect=min(15.0, deadline))
    try:
        async with asyncio.timeout(deadline):
            connector = client_connector(family)
            async with aiohttp.ClientSession(
                timeout=timeout, trust_env=False, connector=connector
            ) as session:
                async with session.post(
                    target, data=body, headers=headers, ssl=tls, allow_redirects=False
                ) as response:
                    status = response.status
                    raw = await _bounded_body(response, MAX_ANSWER_BYTES)
    except TimeoutError:
        raise ReflectorError(f"the reflector gave no answer within {deadline:g} s") from None
    except aiohttp.ServerFingerprintMismatch:
        raise ReflectorError(
            f"the reflector {target.host} presented a certificate that is not the pinned one"
        ) from None
    except aiohttp.ClientConnectorCertificateError as exc:
        reason = _one_line(str(exc.certificate_error))
        raise ReflectorError(
            f"the reflector {target.host}'s certificate is not trusted: {reason}"
        ) from None
    except aiohttp.ClientSSLError as exc:
        detail = _one_line(str(exc))
        raise ReflectorError(f"TLS with the reflector {target.host} failed: {detail}") from None
    except aiohttp.ClientError as exc:
        detail = _one_line(str(exc)) or type(exc).__name__
        raise ReflectorError(f"cannot reach the reflector {target.host}: {detail}") from None
    if status != 200:
        raise ReflectorError(_refusal(status, raw))
    try:
        answer = ScanAnswer.model_validate_json(raw)
    except ValidationError:
        raise ReflectorError("the reflector's answer is not an exposcan outside view") from None
    if answer.report.scan.vantage is not Vantage.INTERNET:
        raise ReflectorError("the reflector's report is not from the internet vantage")
    source = answer_source(answer.source)
    if family == socket.AF_INET and not isinstance(ip_address(source), IPv4Address):
        raise ReflectorError("the reflector answered a request over IPv4 with an IPv6 source")
    # The request went over one family or the other: the source is one
    # address, the IPv6 addresses named are the others it may have scanned.
    asked = frozenset({source, *_ipv6_list(ipv6)})
    report, dropped = believed(answer.report, asked)
    return OutsideView(
        source=source,
        ports_tried=answer.ports_tried,
        report=report,
        scanned=tuple(a for a in answer.scanned if _canonical(a) in asked),
        reflector=str(target.with_path("/")),
        skipped=tuple(_one_line(s, 100) for s in answer.skipped[:MAX_IPV6]),
        dropped=dropped,
    )


def _refusal(status: int, raw: bytes) -> str:
    try:
        message = _one_line(ErrorAnswer.model_validate_json(raw).error)
    except ValidationError:
        message = ""
    what = {
        401: "the token was refused",
        403: "the request was refused",
        409: "the request was refused as a replay",
        413: "the request was too large",
        429: "rate limited",
        503: "the reflector is busy",
    }.get(status, "the reflector refused")
    return f"{what}: {message} (HTTP {status})" if message else f"{what} (HTTP {status})"
