"""The request and the answer between the client and the reflector.

One POST of a small JSON body; the token travels only in the
``Authorization`` header (never in the URL or the body, which proxies and
logs keep).  The body names nothing to scan for IPv4: the reflector scans the
source it sees.  ``extra="forbid"``: a body naming any other field (a
"target") is refused whole, before any scan.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from exposcan.models import Report

SCAN_PATH = "/v1/scan"
#: Replay protection: a request older or newer than this is refused, and a
#: nonce is remembered for as long (RFC 6749 §10.12-style freshness window).
FRESHNESS_S = 120.0
NONCE_PATTERN = r"^[0-9a-f]{32,64}$"
#: IPv6 addresses a client may name (the PACS and the NAS of one practice).
MAX_IPV6 = 16
#: A request is a few hundred bytes; anything larger is refused unread.
MAX_REQUEST_BYTES = 8 * 1024
#: One host's report with every TCP port tried stays far below this.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScanRequest(_Frozen):
    timestamp: float = Field(description="the client's clock, seconds since the epoch")
    nonce: str = Field(pattern=NONCE_PATTERN, description="random, never reused")
    ipv6: list[str] = Field(
        default_factory=list,
        max_length=MAX_IPV6,
        description="IPv6 addresses to scan too; only those in the source's /64 "
        "(the reflector's --ipv6-prefix)",
    )


class ScanAnswer(_Frozen):
    source: str = Field(description="the request's source address, as the reflector saw it")
    scanned: list[str]
    skipped: list[str] = Field(
        default_factory=list, description="named addresses not scanned, each with why"
    )
    ports_tried: int
    report: Report


class ErrorAnswer(_Frozen):
    error: str
