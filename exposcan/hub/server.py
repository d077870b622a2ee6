"""``exposcan hub serve``: the HTTPS service sites push to and staff read.

The hub never reaches into a practice: sites push their finished reports.
It listens on TLS only (the site tokens and staff passwords travel in
headers), with bounded connections: a TLS handshake deadline, small header
caps, a body cap just above the largest report it accepts, and keep-alive
short. Its log lines name a site and a report number, never what a report
holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from exposcan.hub import api, pages
from exposcan.hub.alerts import Alerts
from exposcan.hub.context import HUB, HubState
from exposcan.hub.intake import MAX_REPORT_BYTES
from exposcan.hub.store import Store

log = logging.getLogger("exposcan.hub")

#: How often stale sites are looked for.
STALE_CHECK_S = 3600.0
HANDSHAKE_TIMEOUT_S = 10.0


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # BCP 195
    context.load_cert_chain(cert, key)
    return context


@web.middleware
async def _headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        if not isinstance(exc, web.HTTPRedirection) and exc.status >= 400:
            exc.headers.setdefault("Cache-Control", "no-store")
        _secure(response)
        raise
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cache-Control", "no-store")


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def build_app(hub: HubState) -> web.Application:
    # The body cap: the largest report, plus room for JSON's whitespace.
    app = web.Application(middlewares=[_headers], client_max_size=MAX_REPORT_BYTES + 1024)
    app[HUB] = hub
    app.add_routes([web.get("/healthz", healthz), *api.routes(), *pages.routes()])
    return app


async def _stale_loop(hub: HubState, every_s: float) -> None:
    while True:
        try:
            stale = await hub.alerts.check_stale(hub.store)
            if stale:
                log.info("%d site(s) newly stale", len(stale))
        except Exception:  # the loop outlives a database hiccup
            log.warning("the stale-site check failed", exc_info=True)
        await asyncio.sleep(every_s)


@asynccontextmanager
async def serving(
    hub: HubState,
    hosts: str | Sequence[str],
    port: int,
    tls: ssl.SSLContext,
    stale_check_s: float = STALE_CHECK_S,
) -> AsyncIterator[tuple[str, int]]:
    """Listen on ``hosts:port`` (0: any free port); yields the first bound address."""
    runner = web.AppRunner(
        build_app(hub),
        access_log=log,
        access_log_format='%a "%r" %s %b %Tfs',
        keepalive_timeout=15.0,
        max_line_size=4096,
        max_field_size=8192,
        max_headers=64,
        shutdown_timeout=5.0,
    )
    await runner.setup()
    server = runner.server
    assert server is not None
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(
        server,
        hosts,
        port,
        ssl=tls,
        ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
        backlog=256,
        reuse_address=True,
    )
    checker = loop.create_task(_stale_loop(hub, stale_check_s))
    bound = listener.sockets[0].getsockname()
    try:
        yield bound[0], bound[1]
    finally:
        checker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checker
        listener.close()
        await runner.cleanup()
        await hub.alerts.drain()


async def run(
    db: str | None,
    listen: list[tuple[str, int]],
    tls: ssl.SSLContext,
    alerts: Alerts,
    stale_days: int,
) -> None:
    store = await Store.open(db)
    hub = HubState(store, alerts, stale_days)
    port = listen[0][1]
    try:
        async with serving(hub, [h for h, _ in listen], port, tls):
            log.info("serving on %s", ", ".join(f"{h}:{p}" for h, p in listen))
            await asyncio.Event().wait()
    finally:
        await store.close()
