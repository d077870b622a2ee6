"""``exposcan reflector serve``: the HTTPS front.

Abuse is the design constraint.  Every check that costs nothing comes before
every check that costs something, and all of them before a scan: the source
may be served, the source has not sent too many bad requests today, the
token (hashed, constant-time), a small body read under a deadline, a fresh
timestamp and an unused nonce (replay), the scope rule (``scope.py``), one
scan at a time per source, room for one more scan, and the day's counts per
source and per token.  A client that drops cancels its scan.

Connections are bounded too: TLS handshake and header deadlines (aiohttp has
no header timeout of its own: a slow-loris client would hold a connection
for ever), a cap on connections at a time, one request per connection, small
header and body caps.

The answer is the report; what the reflector keeps is counts.  Its log lines
name a token by its id (a hash prefix), never the token, the source, an
address scanned, or anything a probe found.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from exposcan.notes import declare_note, notice, render_note
from exposcan.reflector.jobs import (
    QUEUE_WAIT_S,
    SLACK_S,
    Busy,
    InProcessRunner,
    JobFailed,
    QueueRunner,
)
from exposcan.reflector.quota import Policy, Store, StoreFull, day_key
from exposcan.reflector.scope import (
    Scope,
    ScopeError,
    Sources,
    normalise,
    scan_scope,
    source_key,
)
from exposcan.reflector.tokens import TokenStore
from exposcan.reflector.wire import (
    FRESHNESS_S,
    MAX_REQUEST_BYTES,
    SCAN_PATH,
    ScanAnswer,
    ScanRequest,
)

log = logging.getLogger("exposcan.reflector")

NOTE_NOT_SCANNED = declare_note(
    "note.reflector.not-scanned",
    en="not scanned: {address}",
    fr="non analysée : {address}",
)

Runner = InProcessRunner | QueueRunner


@dataclass(frozen=True)
class Bounds:
    """Per-connection bounds of the front."""

    max_connections: int = 256
    handshake_timeout: float = 10.0
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    shutdown_timeout: float = 5.0


@dataclass
class Refusal(Exception):
    status: int
    message: str
    reason: str
    bad: bool = False  # counts toward the source's bad-request budget


@dataclass
class Stats:
    """Everything the reflector keeps: counts."""

    counts: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())) or "nothing yet"


class ConnectionGuard:
    """Caps connections at a time and closes one that sent no complete
    request head within ``header_timeout`` of its TLS handshake."""

    def __init__(self, bounds: Bounds, stats: Stats) -> None:
        self.bounds = bounds
        self.stats = stats
        self.live = 0
        self._served: set[int] = set()

    def mark(self, transport: asyncio.BaseTransport | None) -> None:
        if transport is not None:
            self._served.add(id(transport))

    def wrap(self, inner: asyncio.Protocol) -> asyncio.Protocol:
        return _Guarded(inner, self)


class _Guarded(asyncio.Protocol):
    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.admitted = False
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if self.guard.live >= self.guard.bounds.max_connections:
            self.guard.stats.counts["refused.connections"] += 1
            transport.abort()  # type: ignore[attr-defined]
            return
        self.admitted = True
        self.guard.live += 1
        self.inner.connection_made(transport)
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.guard.bounds.header_timeout, self._expire)

    def _expire(self) -> None:
        transport = self.transport
        if transport is not None and id(transport) not in self.guard._served:
            self.guard.stats.counts["refused.slow-header"] += 1
            transport.abort()  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.admitted:
            return
        self.guard.live -= 1
        if self.transport is not None:
            self.guard._served.discard(id(self.transport))
        self.inner.connection_lost(exc)


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Reflector:
    def __init__(
        self,
        tokens: TokenStore,
        store: Store,
        runner: Runner,
        sources: Sources,
        quota: Policy | None = None,
        bounds: Bounds | None = None,
        freshness: float = FRESHNESS_S,
    ) -> None:
        self.tokens = tokens
        self.store = store
        self.runner = runner
        self.sources = sources
        self.quota = quota or Policy()
        self.bounds = bounds or Bounds()
        self.freshness = freshness
        self.stats = Stats()
        self.guard = ConnectionGuard(self.bounds, self.stats)

    # -- the app ----------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[self._middleware])
        app.router.add_post(SCAN_PATH, self.handle_scan)
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Here the request head is complete: the header deadline is met.
        self.guard.mark(request.transport)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # aiohttp's own refusals (404, 405, 413): one JSON line, no page.
            self.stats.counts[f"refused.http-{exc.status}"] += 1
            response = web.json_response({"error": exc.reason}, status=exc.status)
        except Exception as exc:  # a bug: one JSON line, the type only in the log
            self.stats.counts["internal"] += 1
            log.error("internal error: %s", type(exc).__name__)
            log.debug("internal error", exc_info=True)
            response = web.json_response({"error": "internal error"}, status=500)
        response.force_close()  # one request per connection
        return response

    async def handle_scan(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        try:
            return await self._scan(request, started)
        except Refusal as refusal:
            self.stats.counts[f"refused.{refusal.reason}"] += 1
            log.info("refused (%s, HTTP %d)", refusal.reason, refusal.status)
            return web.json_response({"error": refusal.message}, status=refusal.status)
        except asyncio.CancelledError:
            self.stats.counts["dropped"] += 1
            log.info("client dropped: scan cancelled after %.1f s", time.monotonic() - started)
            raise

    async def _scan(self, request: web.Request, started: float) -> web.Response:
        try:
            source = normalise(request.remote or "")
        except ValueError:
            raise Refusal(400, "no source address", "no-source") from None
        skey = source_key(source)
        bad_key = day_key("bad", skey)
        try:
            try:
                if await self.store.peek(bad_key) >= self.quota.bad_per_source_day:
                    raise Refusal(429, "too many bad requests from your address today", "bad-flood")
                if not self.sources.allows(source):
                    raise Refusal(403, "this reflector does not serve your address", "source")
                token = _bearer(request)
                entry = self.tokens.verify(token) if token else None
                if entry is None:
                    raise Refusal(401, "unknown or missing token", "token", bad=True)
                body = await self._read_body(request)
                ask = self._parse(body)
                if abs(time.time() - ask.timestamp) > self.freshness:
                    raise Refusal(
                        409,
                        f"timestamp outside the {self.freshness:g} s window (check the clock)",
                        "stale",
                        bad=True,
                    )
                if not await self.store.claim_nonce(ask.nonce, 2 * self.freshness):
                    raise Refusal(409, "nonce already used", "replay", bad=True)
                try:
                    scope = scan_scope(source, ask.ipv6, self.sources)
                except ScopeError as exc:
                    raise Refusal(403, str(exc), "scope", bad=True) from None
            except Refusal as refusal:
                if refusal.bad:
                    # Best effort: requests without a token (any number of
                    # sources) must never fill the store for everyone else.
                    with contextlib.suppress(StoreFull):
                        await self.store.bump(bad_key)
                raise
            return await self._run(entry.token_id, skey, scope, started)
        except StoreFull as exc:
            raise Refusal(503, str(exc), "store-full") from None

    async def _read_body(self, request: web.Request) -> bytes:
        if request.content_length is None:
            raise Refusal(411, "a Content-Length is required", "length", bad=True)
        if request.content_length > MAX_REQUEST_BYTES:
            message = f"the request is larger than {MAX_REQUEST_BYTES} bytes"
            raise Refusal(413, message, "size", bad=True)
        try:
            async with asyncio.timeout(self.bounds.body_timeout):
                return await request.read()
        except TimeoutError:
            raise Refusal(408, "the request body came too slowly", "slow-body", bad=True) from None

    def _parse(self, body: bytes) -> ScanRequest:
        try:
            return ScanRequest.model_validate_json(body)
        except ValidationError as exc:
            # Our own field names only: a value, or a field name of the
            # client's, could be anything it sent.
            known = ScanRequest.model_fields
            fields = sorted(
                {
                    str(e["loc"][0]) if str(e["loc"][0]) in known else "an unknown field"
                    for e in exc.errors()
                    if e["loc"]
                }
            ) or ["body"]
            raise Refusal(
                400, f"bad request: {', '.join(fields)} (no field may name a target)", "body", True
            ) from None

    async def _run(self, token_id: str, skey: str, scope: Scope, started: float) -> web.Response:
        addresses = scope.addresses
        # Longer than a request can wait (queue, scan, slack): a front that
        # dies holding it frees the source at the latest then.
        deadline = self.runner.policy.deadline
        lock_ttl = max(deadline, QUEUE_WAIT_S) + deadline + SLACK_S + 60
        owner = await self.store.lock(f"source:{skey}", lock_ttl)
        if owner is None:
            raise Refusal(429, "a scan of your address is already running", "busy-source")
        try:
            try:
                self.runner.reserve()
            except Busy as exc:
                raise Refusal(503, str(exc), "busy") from None
            try:
                if not await self.store.take(day_key("source", skey), self.quota.per_source_day):
                    raise Refusal(
                        429,
                        f"your address had its {self.quota.per_source_day} scans today",
                        "source-day",
                    )
                if not await self.store.take(day_key("token", token_id), self.quota.per_token_day):
                    await self.store.give_back(day_key("source", skey))
                    message = f"this token had its {self.quota.per_token_day} scans today"
                    raise Refusal(429, message, "token-day")
            except BaseException:
                self.runner.release()
                raise
            try:
                report = await self.runner.run(addresses)
            except (JobFailed, Busy) as exc:
                raise Refusal(503, str(exc), "job") from None
        finally:
            await asyncio.shield(self.store.unlock(f"source:{skey}", owner))
        if scope.skipped:
            skipped = [notice(NOTE_NOT_SCANNED, address=s) for s in scope.skipped]
            notes = [*report.scan.notes, *(render_note(n, "en") or n.code for n in skipped)]
            notices = [*report.scan.notices, *skipped]
            report = report.model_copy(
                update={"scan": report.scan.model_copy(update={"notes": notes, "notices": notices})}
            )
        answer = ScanAnswer(
            source=addresses[0],
            scanned=addresses,
            skipped=scope.skipped,
            ports_tried=len(self.runner.policy.ports),
            report=report,
        )
        self.stats.counts["scans"] += 1
        self.stats.counts["scans.incomplete"] += 0 if report.scan.complete else 1
        log.info(
            "scan done for token %s: %d address(es), %d port(s) tried, %d open, "
            "%d finding(s), complete=%s, %.1f s",
            token_id,
            len(addresses),
            len(self.runner.policy.ports),
            sum(len(h.services) for h in report.hosts),
            len(report.findings),
            report.scan.complete,
            time.monotonic() - started,
        )
        return web.Response(
            body=answer.model_dump_json(by_alias=True), content_type="application/json"
        )


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # BCP 195
    context.load_cert_chain(cert, key)
    return context


@asynccontextmanager
async def serving(
    reflector: Reflector, host: str | Sequence[str], port: int, tls: ssl.SSLContext
) -> AsyncIterator[tuple[str, int]]:
    """Listen on ``host:port`` (several hosts: one port; 0: any free port);
    yields the first bound address."""
    bounds = reflector.bounds
    runner = web.AppRunner(
        reflector.app(),
        access_log=None,  # the access log names the source: our own line counts instead
        handler_cancellation=True,  # a client that drops cancels its scan
        shutdown_timeout=bounds.shutdown_timeout,
        keepalive_timeout=1.0,
        max_line_size=2048,
        max_field_size=4096,
        max_headers=32,
    )
    await runner.setup()
    server = runner.server
    assert server is not None
    loop = asyncio.get_running_loop()

    def factory() -> asyncio.Protocol:
        inner: Any = server()
        return reflector.guard.wrap(inner)

    listener = await loop.create_server(
        factory,
        host,
        port,
        ssl=tls,
        ssl_handshake_timeout=bounds.handshake_timeout,
        backlog=128,
        reuse_address=True,
    )
    bound = listener.sockets[0].getsockname()
    try:
        yield bound[0], bound[1]
    finally:
        listener.close()
        await runner.cleanup()
        await reflector.runner.close()
        await reflector.store.close()
        log.info("stopped; counts: %s", reflector.stats.line())
