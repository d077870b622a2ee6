"""``exposcan reflector serve``: the HTTPS front.

Abuse is the design constraint.  Every check that costs nothing comes before
every check that costs something, and every check that stores nothing before
anything is stored: the source may be served; the token (hashed,
constant-time; without a valid one, the source's budget of such requests,
which never refuses a valid token); the token's own budget of bad requests;
a small body read under a deadline; a finite timestamp inside the freshness
window; the scope rule (``scope.py``); the day's counts per source and per
token (read, not taken); then, storing: one scan at a time per source and
per token and address family, room for one more scan, an unused nonce
(replay), and the day's counts taken.  A client that drops cancels its scan;
a scan that fails gives the day's counts back.

Connections are bounded before any of this (``gate.py``): counted per source
at accept, before TLS, under a cap kept below the descriptor limit; TLS
handshake and header deadlines; one request per connection; small header
and body caps.

The answer is the report; what the reflector keeps is counts.  Its log lines
name a token by its id (a hash prefix), never the token, the source, an
address scanned, or anything a probe found; aiohttp's and asyncio's own
lines (which name peers and quote request heads) are counted, not written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
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
from exposcan.reflector.gate import Bounds as Bounds
from exposcan.reflector.gate import Door, Gate, Guarded, connection_cap, listening_sockets
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
    IPV6_PREFIX,
    Address,
    Scope,
    ScopeError,
    Sources,
    check_prefix,
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

NOTE_NOT_SCANNED = declare_note("note.reflector.not-scanned")

Runner = InProcessRunner | QueueRunner


@dataclass
class Refusal(Exception):
    status: int
    message: str
    reason: str
    bad: bool = False  # counts toward the bad-request budget (source's or token's)


@dataclass
class Stats:
    """Everything the reflector keeps: counts."""

    counts: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())) or "nothing yet"


class _Withheld(logging.Filter):
    """aiohttp's own lines name the peer and quote request heads (a header
    can be a token), and any client can cause one a request: none is
    written; they are counted by level (``aiohttp.error=N`` in the count
    line at stop)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        self.counts[f"aiohttp.{record.levelname.lower()}"] += 1
        return False


_WITHHELD = _Withheld()
#: aiohttp's loggers a server writes to.
LIBRARY_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "aiohttp.internal")


def quiet_library_logs() -> None:
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).addFilter(_WITHHELD)  # once: addFilter keeps one copy


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
        ipv6_prefix: int = IPV6_PREFIX,
    ) -> None:
        self.tokens = tokens
        self.store = store
        self.runner = runner
        self.sources = sources
        self.quota = quota or Policy()
        self.bounds = bounds or Bounds()
        self.freshness = freshness
        self.prefix = check_prefix(ipv6_prefix)
        self.stats = Stats()
        scan_fds = 0
        if isinstance(runner, InProcessRunner):  # its scans' sockets are this process's
            scan_fds = runner.max_scans * runner.policy.concurrency
        cap = connection_cap(self.bounds.max_connections, scan_fds)
        self.gate = Gate(self.bounds, self.stats.counts, cap, self.prefix)

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
        protocol = request.transport.get_protocol() if request.transport else None
        if isinstance(protocol, Guarded):
            protocol.served = True
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
        skey = source_key(source, self.prefix)
        try:
            if not self.sources.allows(source):
                raise Refusal(403, "this reflector does not serve your address", "source")
            token = _bearer(request)
            entry = self.tokens.verify(token) if token else None
            if entry is None:
                await self._tokenless(skey)
            assert entry is not None
            token_id = entry.token_id
            ask, scope = await self._vet(request, source, token_id)
            family = "v6" if source.version == 6 else "v4"
            return await self._run(f"{token_id}:{family}", token_id, skey, ask, scope, started)
        except StoreFull as exc:
            raise Refusal(503, str(exc), "store-full") from None

    async def _tokenless(self, skey: str) -> None:
        """A request without a valid token: it counts against its source's
        budget, which only ever refuses requests without a valid token (a
        carrier-grade NAT or a guest Wi-Fi shares the practice's address)."""
        bad_key = day_key("bad", skey)
        if await self.store.peek(bad_key) >= self.quota.bad_per_source_day:
            raise Refusal(429, "too many bad requests from your address today", "bad-flood")
        # Best effort: requests without a token (any number of sources)
        # have a room of their own and never fill the store for anyone else.
        with contextlib.suppress(StoreFull):
            await self.store.bump(bad_key)
        raise Refusal(401, "unknown or missing token", "token")

    async def _vet(
        self, request: web.Request, source: Address, token_id: str
    ) -> tuple[ScanRequest, Scope]:
        """The checks that store nothing; a failure counts against the
        token's own bad-request budget."""
        bad_key = day_key("bad-token", token_id)
        if await self.store.peek(bad_key, tokenless=False) >= self.quota.bad_per_source_day:
            raise Refusal(429, "too many bad requests with this token today", "bad-token-flood")
        try:
            body = await self._read_body(request)
            ask = self._parse(body)
            stamp = ask.timestamp
            if not math.isfinite(stamp) or abs(time.time() - stamp) > self.freshness:
                raise Refusal(
                    409,
                    f"timestamp outside the {self.freshness:g} s window (check the clock)",
                    "stale",
                    bad=True,
                )
            try:
                scope = scan_scope(source, ask.ipv6, self.sources, self.prefix)
            except ScopeError as exc:
                raise Refusal(403, str(exc), "scope", bad=True) from None
        except Refusal as refusal:
            if refusal.bad:
                with contextlib.suppress(StoreFull):  # the refusal matters, not its count
                    await self.store.bump(bad_key, tokenless=False)
            raise
        return ask, scope

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

    async def _unlock(self, key: str, owner: str) -> None:
        await asyncio.shield(self.store.unlock(key, owner))

    async def _run(
        self, slot: str, token_id: str, skey: str, ask: ScanRequest, scope: Scope, started: float
    ) -> web.Response:
        """Run the scan.  ``slot`` is the token and the address family: one
        scan at a time each, so that one token never holds every scan slot,
        while a practice's client may ask over IPv4 and IPv6 side by side
        (a reflector known by a name with A and AAAA records)."""
        addresses = scope.addresses
        source_day, token_day = day_key("source", skey), day_key("token", token_id)
        # The day's counts first: they cost a read and store nothing.
        if await self.store.used(source_day) >= self.quota.per_source_day:
            message = f"your address had its {self.quota.per_source_day} scans today"
            raise Refusal(429, message, "source-day")
        if await self.store.used(token_day) >= self.quota.per_token_day:
            message = f"this token had its {self.quota.per_token_day} scans today"
            raise Refusal(429, message, "token-day")
        # Longer than a request can wait (queue, scan, slack): a front that
        # dies holding a lock frees it at the latest then.
        deadline = self.runner.policy.deadline
        lock_ttl = max(deadline, QUEUE_WAIT_S) + deadline + SLACK_S + 60
        async with contextlib.AsyncExitStack() as held:
            for key, why, reason in (
                (f"source:{skey}", "a scan of your address is already running", "busy-source"),
                (f"token:{slot}", "a scan for this token is already running", "busy-token"),
            ):
                owner = await self.store.lock(key, lock_ttl)
                if owner is None:
                    raise Refusal(429, why, reason)
                held.push_async_callback(self._unlock, key, owner)
            try:
                self.runner.reserve()
            except Busy as exc:
                raise Refusal(503, str(exc), "busy") from None
            try:
                if not await self.store.claim_nonce(ask.nonce, 2 * self.freshness):
                    with contextlib.suppress(StoreFull):
                        await self.store.bump(day_key("bad-token", token_id), tokenless=False)
                    raise Refusal(409, "nonce already used", "replay")
                if not await self.store.take(source_day, self.quota.per_source_day):
                    message = f"your address had its {self.quota.per_source_day} scans today"
                    raise Refusal(429, message, "source-day")
                if not await self.store.take(token_day, self.quota.per_token_day):
                    await self.store.give_back(source_day)
                    message = f"this token had its {self.quota.per_token_day} scans today"
                    raise Refusal(429, message, "token-day")
            except BaseException:
                self.runner.release()
                raise
            try:
                report = await self.runner.run(addresses)
            except Exception as exc:
                # No scan, no count: the practice may ask again today.
                await self.store.give_back(source_day)
                await self.store.give_back(token_day)
                if isinstance(exc, JobFailed | Busy):
                    raise Refusal(503, str(exc), "job") from None
                raise
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
    quiet_library_logs()
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    # asyncio's own lines print sockets (their peer addresses): a type only.
    loop.set_exception_handler(_loop_error(reflector.stats))
    hosts = [host] if isinstance(host, str) else list(host)
    listeners = listening_sockets(hosts, port, backlog=128)
    door = Door(reflector.gate, tls, lambda: server())
    door.start(listeners)
    bound = listeners[0].getsockname()
    try:
        yield bound[0], bound[1]
    finally:
        await door.close()
        for listener in listeners:
            listener.close()
        await runner.cleanup()
        await reflector.runner.close()
        await reflector.store.close()
        loop.set_exception_handler(previous)
        reflector.stats.counts.update(_WITHHELD.counts)
        _WITHHELD.counts.clear()
        log.info("stopped; counts: %s", reflector.stats.line())


def _loop_error(stats: Stats) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        # A count (in the stop line), not a line each: a client can cause them.
        stats.counts["loop-error"] += 1
        log.debug("event loop error: %s", type(error).__name__ if error else "no exception")

    return handle
