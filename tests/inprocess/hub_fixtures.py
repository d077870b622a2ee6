"""The hub in-process over TLS on 127.0.0.1, on SQLite or on a throw-away
PostgreSQL cluster (Debian's postgresql 15, run as an unprivileged user on a
unix socket: exposcan_lab/postgres.py)."""

from __future__ import annotations

import base64
import io
import os
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exposcan.audit.notify.deliver import Target
from exposcan.hub.alerts import Alerts
from exposcan.hub.auth import hash_password
from exposcan.hub.context import HubState
from exposcan.hub.server import server_tls, serving
from exposcan.hub.store import Store
from exposcan_lab.postgres import Cluster, available
from exposcan_lab.practices import write_certificate

STAFF, PASSWORD = "alice", "correct horse battery staple"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    missing = available()
    if missing:
        pytest.fail(f"the hub's PostgreSQL tests need {missing}")
    cluster = Cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


_counter = iter(range(1, 10_000))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "hub.sqlite3")
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.createdb(f"hub{os.getpid()}_{next(_counter)}")


@dataclass
class RunningHub:
    url: str
    store: Store
    state: HubState
    ca: Path
    folder: Path

    def client_tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    async def request(
        self,
        method: str,
        path: str,
        *,
        auth: tuple[str, str] | None = (STAFF, PASSWORD),
        token: str | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        session: aiohttp.ClientSession | None = None,
        **kw: Any,
    ) -> tuple[int, bytes, aiohttp.typedefs.LooseHeaders]:
        headers: dict[str, str] = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif auth is not None:
            raw = f"{auth[0]}:{auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        if body is not None:
            headers["Content-Type"] = content_type
        own = session is None
        session = session or aiohttp.ClientSession()
        try:
            async with session.request(
                method,
                self.url + path,
                data=io.BytesIO(body) if body is not None else kw.pop("data", None),
                headers=headers,
                ssl=self.client_tls(),
                allow_redirects=False,
                **kw,
            ) as response:
                return response.status, await response.read(), response.headers
        finally:
            if own:
                await session.close()


@asynccontextmanager
async def running_hub(
    db: str,
    folder: Path,
    targets: list[Target] | None = None,
    stale_days: int = 7,
    port: int = 0,
) -> AsyncIterator[RunningHub]:
    """The hub on 127.0.0.1 (``port`` 0: any free one), its certificate
    signed by a private CA (``ca.pem`` in ``folder``) for 127.0.0.1."""
    if not (folder / "ca.pem").exists():
        write_certificate(folder, "127.0.0.1")
    context = server_tls(folder / "cert.pem", folder / "key.pem")
    store = await Store.open(db)
    await store.set_user(STAFF, hash_password(PASSWORD))
    state = HubState(store, Alerts(targets or [], stale_days), stale_days)
    try:
        async with serving(state, "127.0.0.1", port, context, stale_check_s=3600) as (host, bound):
            yield RunningHub(f"https://{host}:{bound}", store, state, folder / "ca.pem", folder)
    finally:
        await store.close()
