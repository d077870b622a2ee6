"""A bounded HTTP client for one service: every request holds one connection
slot of the host, has connect/read/total deadlines, and reads a capped body.

Built on aiohttp with a private connector (``limit=1``, no keep-alive) so the
per-host connection cap stays exact and no pool outlives the probe.  Redirects
are followed by hand, within the same host and port only (a scanner must not
wander to another machine a hostile server names).  Certificates are not
verified: a self-signed PACS is still a PACS; their facts are recorded.
"""

from __future__ import annotations

import base64
import ssl
import warnings
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Literal

import aiohttp
import aiohttp.connector
from yarl import URL

from exposcan.limits import Deadlines, Limits
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError, insecure_tls_context, open_connection
from exposcan.net.targets import url_host
from exposcan.net.tls import TlsFacts, tls_facts
from exposcan.net.web import HeadBoundedResponse, bounded_session, read_capped
from exposcan.protocols.http.response import HttpResponse, TlsMismatch, parse_realm

__all__ = ["HttpClient", "HttpResponse", "Method", "TlsMismatch", "parse_realm"]

Method = Literal["GET", "HEAD"]
#: The one write method, for :meth:`HttpClient.empty_post` only: its body
#: is always empty.
_EMPTY_POST: Final = "POST"

#: Default cap on a page body: a PACS page or an API answer is far smaller;
#: an endless body stops here as ``too-large``.
BODY_CAP = 512 * 1024
MAX_REDIRECTS = 3
USER_AGENT = "exposcan (medical imaging exposure check; read-only)"


@dataclass
class _Budget:
    requests: int = 0
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)


class HttpClient:
    """HTTP(S) to one ``host:port``; ``tls`` can be switched once by the caller."""

    def __init__(
        self,
        host: str,
        port: int,
        tls: bool,
        deadlines: Deadlines,
        limits: Limits,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.deadlines = deadlines
        self.limits = limits
        # RFC 7617 Basic credentials, sent as a header (aiohttp's BasicAuth
        # helper is deprecated); only ever used with --intrusive.
        self._authorization = (
            "Basic " + base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
            if basic_auth
            else None
        )
        self.budget = _Budget()
        self._ssl = _tls_context()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        self._session = bounded_session(
            self.deadlines, USER_AGENT, ssl_context=self._ssl, response_class=_Response
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def url(self, path: str) -> URL:
        # yarl re-quotes without double-encoding existing %XX escapes.
        scheme = "https" if self.tls else "http"
        # RFC 3986 §3.2.2: an IPv6 literal goes in brackets.
        return URL(f"{scheme}://{url_host(self.host)}:{self.port}{path}")

    async def request(
        self,
        path: str,
        method: Method = "GET",
        cap: int = BODY_CAP,
        headers: dict[str, str] | None = None,
        truncate: bool = False,
        follow: bool = True,
    ) -> HttpResponse:
        """One request (plus same-host redirects).  A body over ``cap`` is a
        ``too-large`` ProbeError, or cut at ``cap`` when ``truncate``."""
        current = path
        for _ in range(MAX_REDIRECTS + 1):
            resp = await self._once(current, method, cap, headers, truncate)
            if not follow or resp.status not in (301, 302, 303, 307, 308):
                return resp
            target = self._same_origin(resp.header("Location"), current)
            if target is None:
                resp.offsite_redirect = True
                return resp
            current = target
        return resp

    async def empty_post(
        self, path: str, headers: dict[str, str] | None = None, cap: int = 4096
    ) -> HttpResponse:
        """A POST with an empty body (Content-Length: 0), no redirect
        followed: whether an endpoint takes POSTs without credentials, told
        by its status. Zero bytes hold no DICOM instance nor anything else
        to store; catalogue requests stay GET or HEAD (``Method``)."""
        return await self._once(path, _EMPTY_POST, cap, headers, True)

    async def speaks_plain_http(self) -> bool:
        """Whether the port answers clear text with an HTTP status line: its
        first 5 bytes, nothing more. Tells a malformed HTTP answer (a header
        line past the cap) from a TLS server's alert, which aiohttp reports
        alike (a long header line blamed on TLS)."""
        try:
            async with (
                self.limits.connection(self.host),
                open_connection(self.host, self.port, self.deadlines) as conn,
            ):
                await conn.send(
                    b"GET / HTTP/1.0\r\nUser-Agent: " + USER_AGENT.encode() + b"\r\n\r\n"
                )
                head = b""
                while len(head) < 5:
                    chunk = await conn.read_some(5 - len(head))
                    if not chunk:
                        break
                    head += chunk
        except (ProbeError, OSError, TimeoutError):
            return False
        return head == b"HTTP/"

    def _same_origin(self, location: str, current: str) -> str | None:
        """The path to follow, or None if ``location`` leaves this host:port."""
        if not location:
            return None
        base = self.url(current)
        try:
            target = base.join(URL(location))
        except ValueError:
            return None
        if target.scheme not in ("http", "https") or target.host != self.host:
            return None
        if (target.port or (443 if target.scheme == "https" else 80)) != self.port:
            return None
        if (target.scheme == "https") != self.tls:
            return None
        return target.raw_path_qs or "/"

    async def _once(
        self,
        path: str,
        method: Method | Literal["POST"],
        cap: int,
        headers: dict[str, str] | None,
        truncate: bool,
    ) -> HttpResponse:
        assert self._session is not None, "use HttpClient as an async context manager"
        self.budget.requests += 1
        async with self.limits.connection(self.host):
            try:
                if self._authorization is not None:
                    headers = {**(headers or {}), "Authorization": self._authorization}
                async with self._session.request(
                    method,
                    self.url(path),
                    headers=headers,
                    allow_redirects=False,
                    # Only empty_post sends a body: none (Content-Length: 0).
                    data=b"" if method == _EMPTY_POST else None,
                ) as resp:
                    facts = _tls_of(resp) if self.tls else None
                    body, truncated = await read_capped(resp, cap, truncate)
                    return HttpResponse(
                        status=resp.status,
                        headers=resp.headers,
                        body=body,
                        url=path,
                        tls=self.tls,
                        truncated=truncated,
                        tls_facts=facts,
                    )
            except ProbeError:
                raise
            except TimeoutError:
                self.budget.timeouts += 1
                raise ProbeError(ErrorReason.TIMEOUT, "no complete HTTP answer in time") from None
            except aiohttp.ClientSSLError as exc:
                raise TlsMismatch(type(exc).__name__) from None
            except aiohttp.ClientConnectorError as exc:
                raise ProbeError(_connect_reason(exc), "connect failed") from None
            except (
                aiohttp.ServerDisconnectedError,
                aiohttp.ClientResponseError,
                aiohttp.ClientPayloadError,
                aiohttp.ClientOSError,
            ) as exc:
                # A TLS server that got plain text closes, resets or answers
                # with an alert record that is no HTTP status line.
                if not self.tls:
                    raise TlsMismatch(type(exc).__name__) from None
                raise ProbeError(ErrorReason.PROTOCOL, type(exc).__name__) from None
            except ssl.SSLError as exc:
                raise TlsMismatch(type(exc).__name__) from None
            except aiohttp.ClientError as exc:
                # Only the type: a message may quote the URL (a listed name).
                raise ProbeError(ErrorReason.PROTOCOL, type(exc).__name__) from None


def _tls_context() -> ssl.SSLContext:
    # netio's context allows TLS 1.0 (old PACS still speak it); Python flags
    # that setting as deprecated, which is the point here, not a bug.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return insecure_tls_context()


def _connect_reason(exc: aiohttp.ClientConnectorError) -> ErrorReason:
    os_error = exc.os_error
    if isinstance(os_error, ConnectionRefusedError):
        return ErrorReason.REFUSED
    if isinstance(os_error, TimeoutError):
        return ErrorReason.TIMEOUT
    return ErrorReason.UNREACHABLE


class _Response(HeadBoundedResponse):
    """Keeps the TLS facts of the connection: aiohttp detaches a response from
    its connection as soon as a short body has arrived (aiohttp issue 2205)."""

    tls: TlsFacts | None = None

    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        sslobj = transport.get_extra_info("ssl_object") if transport is not None else None
        if isinstance(sslobj, ssl.SSLObject | ssl.SSLSocket):
            self.tls = tls_facts(sslobj)
        return await super().start(connection)


def _tls_of(resp: aiohttp.ClientResponse) -> TlsFacts | None:
    return resp.tls if isinstance(resp, _Response) else None
