"""The reflector's Redis mode: a real redis-server (on a unix socket in the
test's folder), fronts that queue each scan with arq, and workers that take
them."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from exposcan.catalogue import PortEntry, default_catalogue
from exposcan.reflector.jobs import FUNCTION, QUEUE, QueueRunner
from exposcan.reflector.quota import Policy
from exposcan.reflector.scope import Sources
from exposcan.reflector.worker import build_worker
from tests.inprocess.reflector_fixtures import (
    LOOPBACK_SOURCES,
    fresh,
    post,
    running_reflector,
    scan_policy,
)
from tests.inprocess.servers import tarpit, tcp_server


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: run scripts/install-deps.sh"
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        end = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < end:
            time.sleep(0.02)
        assert sock.exists(), "redis-server did not start"
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@asynccontextmanager
async def workers(
    url: str, count: int, ports: str, deadline: float, sources: str = LOOPBACK_SOURCES
) -> AsyncIterator[list[Any]]:
    policy = scan_policy(ports, deadline, probe_timeout=5.0)
    made = [
        build_worker(url, policy, Sources.parse(sources), max_jobs=1, handle_signals=False)
        for _ in range(count)
    ]
    tasks = [asyncio.create_task(w.main()) for w in made]
    try:
        yield made
    finally:
        for worker in made:
            with warnings.catch_warnings():
                # arq 0.26's close() calls redis-py's deprecated close(): not ours.
                warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
                await worker.close()
        await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def tarpits(hosts: list[str]) -> AsyncIterator[int]:
    """A service that never answers on each host, on one port the catalogue
    guesses as HTTP: a probe of it lasts until the scan's deadline."""
    async with tcp_server(tarpit, hosts[0]) as port:
        servers = [tcp_server(tarpit, h, port) for h in hosts[1:]]
        for server in servers:
            await server.__aenter__()
        default_catalogue().ports[port] = PortEntry(port=port, protocol="http", tls=False)
        try:
            yield port
        finally:
            del default_catalogue().ports[port]
            for server in servers:
                await server.__aexit__(None, None, None)


async def test_two_workers_serve_three_sources(tmp_path: Path, redis_url: str) -> None:
    # Given two workers (one job each at a time) and three requesters whose
    # scans each last until a 1.5 s deadline
    sources = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    async with tarpits(sources) as port:
        async with (
            workers(redis_url, 2, str(port), 1.5) as pool,
            running_reflector(
                tmp_path, ports=str(port), deadline=1.5, redis_url=redis_url
            ) as front,
        ):
            # When all three ask at once
            answers = await asyncio.gather(*(post(front, fresh(), local=s) for s in sources))
            scans = [w.ctx["counts"]["scans"] for w in pool]
            left = await front.reflector.runner.pool.keys("arq:result:*")  # type: ignore[union-attr]
    # Then each got its own report, naming only its own address
    for source, (status, answer) in zip(sources, answers, strict=True):
        assert status == 200, answer
        assert answer["source"] == source and answer["scanned"] == [source]
        assert [h["address"] for h in answer["report"]["hosts"]] == [source]
    # And both workers took jobs, and no report stayed in Redis
    assert sum(scans) == 3 and min(scans) >= 1, scans
    assert left == []


async def test_drop_aborts_the_workers_job(tmp_path: Path, redis_url: str) -> None:
    # Given a worker scanning a service that holds its probe connections
    opened: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(writer)
        await reader.read()

    async with tcp_server(hold, "127.0.0.2") as port:
        default_catalogue().ports[port] = PortEntry(port=port, protocol="http", tls=False)
        try:
            async with (
                workers(redis_url, 1, str(port), 60.0) as pool,
                running_reflector(
                    tmp_path, ports=str(port), deadline=60.0, redis_url=redis_url
                ) as front,
            ):
                request = asyncio.create_task(post(front, fresh(), local="127.0.0.2"))
                end = time.monotonic() + 20
                while len(opened) < 2 and time.monotonic() < end:
                    await asyncio.sleep(0.05)
                assert len(opened) >= 2
                # When the client drops
                request.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await request
                # Then the worker's job is aborted: its connections close
                end = time.monotonic() + 10
                while not all(w.transport.is_closing() for w in opened):
                    assert time.monotonic() < end, "the worker kept scanning"
                    await asyncio.sleep(0.05)
                assert pool[0].ctx["counts"]["scans"] == 0
                while front.reflector.stats.counts["dropped"] != 1:
                    assert time.monotonic() < end, "the front did not count the drop"
                    await asyncio.sleep(0.05)
                assert front.reflector.runner.running == 0
        finally:
            del default_catalogue().ports[port]


async def test_worker_refuses_a_job_outside_its_sources(tmp_path: Path, redis_url: str) -> None:
    # Given a job written straight into Redis naming 127.0.0.9, and a worker
    # that serves only 127.0.0.2
    accepted: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)

    async with tcp_server(count, "127.0.0.9") as port:
        runner = await QueueRunner.connect(redis_url, scan_policy(str(port), 5.0, 1.0), 4)
        try:
            async with workers(redis_url, 1, str(port), 5.0, sources="127.0.0.2/32"):
                job = await runner.pool.enqueue_job(FUNCTION, ["127.0.0.9"], str(port), 5.0)
                result = await job.result(timeout=20, poll_delay=0.1)
        finally:
            await runner.close()
    # Then it refuses it, and 127.0.0.9 sees no connection
    assert result["ok"] is False and "sources" in result["error"]
    assert accepted == []
    assert QUEUE.startswith("exposcan:")


async def test_two_fronts_share_the_limits(tmp_path: Path, redis_url: str) -> None:
    # Given two fronts on one Redis, one scan a day per source
    quota = Policy(per_source_day=1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        workers(redis_url, 1, "1", 10.0),
        running_reflector(tmp_path / "a", redis_url=redis_url, quota=quota) as one,
        running_reflector(tmp_path / "b", redis_url=redis_url, quota=quota) as two,
    ):
        first, _ = await post(one, fresh(), local="127.0.0.2")
        body = fresh()
        second, answer = await post(two, body, local="127.0.0.2")
        # And a nonce used at one front is a replay at the other
        third, _ = await post(one, body, local="127.0.0.3")
    assert first == 200
    assert second == 429 and "scans today" in answer["error"]
    assert third == 409
