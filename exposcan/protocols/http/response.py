"""What an HTTP exchange returned, apart from the client that fetched it.

Its own module so that the catalogue's HTTP kinds (fingerprints, listings),
loaded by every scan, do not import aiohttp and cryptography: a scan with no
HTTP service (a port sweep) never needs them (start-up time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

    from exposcan.net.tls import TlsFacts


@dataclass
class HttpResponse:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: str  # path and query that answered (after same-host redirects)
    tls: bool
    truncated: bool = False
    offsite_redirect: bool = False
    tls_facts: TlsFacts | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def realm(self) -> str | None:
        """The Basic/Digest realm of a 401 (RFC 7235 §2.2), if any."""
        return parse_realm(self.header("WWW-Authenticate"))


def parse_realm(value: str) -> str | None:
    low = value.lower()
    at = low.find("realm=")
    if at < 0:
        return None
    rest = value[at + 6 :].strip()
    if rest.startswith('"'):
        end = rest.find('"', 1)
        return rest[1:end] if end > 0 else rest[1:]
    return rest.split(",", 1)[0].strip()


class TlsMismatch(Exception):
    """The other side speaks the other transport (TLS vs plain)."""
