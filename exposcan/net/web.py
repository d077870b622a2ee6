"""The one bounded aiohttp client of exposcan (the HTTP probe's and the UPnP
probe's): one connection, closed after each answer, so the per-host cap is
exact and no pool outlives a probe; connect / socket-read / total deadlines;
no body inflated (``Accept-Encoding: identity``, no auto-decompress); status
line and headers capped; cookies dropped; and a capped read of every body.

aiohttp is imported by whoever imports this module: the UPnP probe does so
only when it makes a request (start-up).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp

from exposcan.limits import Deadlines, progressed
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError

#: Status line and each header: a hostile server cannot grow them past this.
MAX_LINE = 8190


class HeadBoundedResponse(aiohttp.ClientResponse):
    """A response whose status line and headers must all arrive within one
    read deadline: aiohttp's ``sock_read`` is per read, so a server dripping
    its headers a byte every 2 s (the lab's hostile host) held a probe until
    the request's total deadline, 13 s.  Slowloris, the other way
    round, is why servers bound a request's head in total (nginx's
    ``client_header_timeout``)."""

    head_deadline: float = Deadlines().read

    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        try:
            async with asyncio.timeout(self.head_deadline):
                response = await super().start(connection)
        except TimeoutError:
            raise ProbeError(
                ErrorReason.TIMEOUT,
                f"status line and headers not complete within {self.head_deadline:g} s",
            ) from None
        # What the head took on the wire, near enough: progress of the probe.
        progressed(16 + sum(len(k) + len(v) + 4 for k, v in self.raw_headers))
        return response


def bounded_session(
    deadlines: Deadlines,
    user_agent: str,
    *,
    ssl_context: ssl.SSLContext | bool = False,
    response_class: type[HeadBoundedResponse] = HeadBoundedResponse,
    **options: Any,
) -> aiohttp.ClientSession:
    """A session for one host: the bounds above; ``options`` go to aiohttp.
    ``response_class`` (one that keeps its connection's TLS facts, say) is
    given this session's head deadline."""
    connector = aiohttp.TCPConnector(
        limit=1, limit_per_host=1, force_close=True, ssl=ssl_context, use_dns_cache=False
    )
    # Per request: connect, then each socket read, then the whole exchange.
    timeout = aiohttp.ClientTimeout(
        total=deadlines.connect + 2 * deadlines.read,
        sock_connect=deadlines.connect,
        sock_read=deadlines.read,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        cookie_jar=aiohttp.DummyCookieJar(),
        max_line_size=MAX_LINE,
        max_field_size=MAX_LINE,
        response_class=type(
            response_class.__name__, (response_class,), {"head_deadline": deadlines.read}
        ),
        **options,
    )


async def read_capped(
    resp: aiohttp.ClientResponse, cap: int, truncate: bool = False
) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the body, and whether it was cut.  Past the
    cap the connection is closed (not drained): with ``truncate`` the first
    ``cap`` bytes are kept, else it is a ``too-large`` ProbeError.  An
    announced Content-Length over the cap fails before a byte is read."""
    if not truncate and resp.content_length is not None and resp.content_length > cap:
        resp.close()
        raise ProbeError(ErrorReason.TOO_LARGE, f"{resp.content_length} bytes announced, cap {cap}")
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = await resp.content.read(min(65536, cap + 1 - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
        progressed(len(chunk))
    resp.close()
    if truncate:
        return b"".join(chunks)[:cap], True
    raise ProbeError(ErrorReason.TOO_LARGE, f"HTTP body over {cap} bytes")
