"""A real reflector front on loopback for the in-process tests, and a raw
client that can send what the real client never would."""

from __future__ import annotations

import json
import secrets
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from exposcan.reflector.jobs import InProcessRunner, QueueRunner, ScanPolicy
from exposcan.reflector.quota import MemoryStore, Policy, RedisStore, Store
from exposcan.reflector.scope import Sources
from exposcan.reflector.server import Bounds, Reflector, server_tls, serving
from exposcan.reflector.tokens import TokenStore, add_token
from exposcan.reflector.wire import SCAN_PATH
from tests.inprocess.reflector_tls import ServerCert, make_server_cert

LOOPBACK_SOURCES = "127.0.0.0/8,::1/128"
#: The job key of the Redis tests' fronts and workers (a test's own, never in Redis).
JOB_KEY = bytes(range(32))


@dataclass
class Running:
    url: str
    token: str
    cert: ServerCert
    reflector: Reflector
    tokens: Path

    def at(self, host: str) -> Running:
        """The same front, asked at another of its addresses."""
        port = self.url.rsplit(":", 1)[1]
        shown = f"[{host}]" if ":" in host else host
        return replace(self, url=f"https://{shown}:{port}")

    def add_token(self, label: str = "another") -> str:
        """Another practice's token (the front reads its file again)."""
        token, _ = add_token(self.tokens, label)
        return token


@asynccontextmanager
async def running_reflector(
    tmp: Path,
    *,
    ports: str = "1",
    deadline: float = 20.0,
    probe_timeout: float = 1.0,
    quota: Policy | None = None,
    bounds: Bounds | None = None,
    host: str | list[str] = "127.0.0.1",
    max_scans: int = 4,
    sources: str = LOOPBACK_SOURCES,
    redis_url: str | None = None,
    store_entries: int | None = None,
    job_key: bytes = JOB_KEY,
) -> AsyncIterator[Running]:
    """A front on ``host`` (several: one port); with ``redis_url`` its jobs go to the Redis queue
    and its limits live in Redis (several fronts may share them)."""
    cert = make_server_cert(tmp)
    token, _ = add_token(tmp / "tokens", "test")
    policy = scan_policy(ports, deadline, probe_timeout)
    runner: InProcessRunner | QueueRunner
    store: Store
    if redis_url:
        runner = await QueueRunner.connect(redis_url, policy, max_scans, job_key)
        store = RedisStore(Redis.from_url(redis_url))
    else:
        runner = InProcessRunner(policy, max_scans)
        store = MemoryStore(store_entries) if store_entries else MemoryStore()
    reflector = Reflector(
        TokenStore(tmp / "tokens"), store, runner, Sources.parse(sources), quota, bounds
    )
    async with serving(reflector, host, 0, server_tls(cert.cert, cert.key)) as (_, port):
        first = host if isinstance(host, str) else host[0]
        shown = f"[{first}]" if ":" in first else first
        yield Running(f"https://{shown}:{port}", token, cert, reflector, tmp / "tokens")


def scan_policy(ports: str, deadline: float, probe_timeout: float) -> ScanPolicy:
    return ScanPolicy(
        ports_spec=ports, deadline=deadline, probe_timeout=probe_timeout, scan_type="connect"
    )


def fresh(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"timestamp": time.time(), "nonce": secrets.token_hex(16), "ipv6": []}
    body.update(extra)
    return body


async def post(
    running: Running,
    body: dict[str, Any] | bytes,
    *,
    token: str | None = None,
    local: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[int, dict[str, Any]]:
    """POST to the reflector from ``local`` (a loopback source address)."""
    context = ssl.create_default_context(cafile=str(running.cert.ca))
    connector = aiohttp.TCPConnector(ssl=context, local_addr=(local, 0) if local else None)
    sent = headers or {
        "Authorization": f"Bearer {running.token if token is None else token}",
        "Content-Type": "application/json",
    }
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        async with session.post(running.url + SCAN_PATH, data=data, headers=sent) as response:
            return response.status, json.loads(await response.read())
