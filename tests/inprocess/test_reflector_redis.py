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
from arq.connections import RedisSettings, create_pool
from arq.jobs import serialize_result

from exposcan.catalogue import PortEntry, default_catalogue
from exposcan.reflector.jobs import FUNCTION, QUEUE, _dumps, _loads
from exposcan.reflector.quota import Policy, day_key
from exposcan.reflector.scope import Sources
from exposcan.reflector.signing import open_signed, sign
from exposcan.reflector.worker import WorkerRules, build_worker
from tests.inprocess.reflector_fixtures import (
    JOB_KEY,
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
    url: str,
    count: int,
    ports: str,
    deadline: float,
    sources: str = LOOPBACK_SOURCES,
    key: bytes = JOB_KEY,
) -> AsyncIterator[list[Any]]:
    policy = scan_policy(ports, deadline, probe_timeout=5.0)
    rules = WorkerRules(policy, Sources.parse(sources), key)
    made = [build_worker(url, rules, max_jobs=1, handle_signals=False) for _ in range(count)]
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
            # When all three ask at once (three practices, a token each)
            tokens = [front.token, front.add_token("b"), front.add_token("c")]
            asks = zip(sources, tokens, strict=True)
            answers = await asyncio.gather(
                *(post(front, fresh(), local=a, token=t) for a, t in asks)
            )
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


async def test_worker_refuses_forged_jobs(tmp_path: Path, redis_url: str) -> None:
    # Given a worker that serves 127.0.0.0/8, and a listener on 127.0.0.9
    # counting what reaches it; someone who can write to Redis enqueues jobs
    # straight into the queue: the old shape (addresses, ports, deadline),
    # one signed with another key, a signed job copied under another id, and
    # one whose deadline is NaN
    accepted: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)

    async with tcp_server(count, "127.0.0.9") as port:
        # (the writer needs no front: arq's own client, as anyone could use it)
        queue = await create_pool(
            RedisSettings.from_dsn(redis_url),
            job_serializer=_dumps,
            job_deserializer=_loads,
            default_queue_name=QUEUE,
        )
        order = {
            "id": "genuine",
            "addresses": ["127.0.0.9"],
            "ports": str(port),
            "deadline": 5.0,
            "expires": time.time() + 60,
        }
        nan = {**sign(JOB_KEY, "job", order)}
        nan["job"] = {**order, "id": "nan", "deadline": float("nan")}
        forged = [
            (("127.0.0.9",), ["127.0.0.9"], str(port), 5.0),
            ("other-key", sign(b"k" * 32, "job", {**order, "id": "other-key"})),
            ("copied", sign(JOB_KEY, "job", order)),
            ("nan", nan),
            ("mapped", sign(JOB_KEY, "job", {**order, "id": "x", "addresses": ["::ffff:7f00:9"]})),
        ]
        results = []
        try:
            async with workers(redis_url, 1, str(port), 5.0, sources="127.0.0.0/8") as pool:
                for job_id, *args in forged:
                    job = await queue.enqueue_job(FUNCTION, *args, _job_id=str(job_id))
                    results.append(await job.result(timeout=20, poll_delay=0.1))
                refused = pool[0].ctx["counts"]["refused"]
        finally:
            await queue.aclose()
    # Then every one is refused, and 127.0.0.9 saw no connection
    assert [open_signed(JOB_KEY, "result", r)["ok"] for r in results] == [False] * 5
    assert refused == 5
    assert accepted == []


async def test_forged_result_is_not_the_reflectors_answer(tmp_path: Path, redis_url: str) -> None:
    # Given a front in Redis mode and no worker; someone who can write to
    # Redis answers its job with a report of their own (an open PACS)
    async with running_reflector(tmp_path, redis_url=redis_url) as front:
        pool = front.reflector.runner.pool  # type: ignore[union-attr]

        async def forge() -> None:
            while not (queued := await pool.zrange(QUEUE, 0, -1)):
                await asyncio.sleep(0.05)
            job_id = queued[0].decode()
            report = {"ok": True, "report": '{"forged": true}', "job": job_id}
            for result in (report, sign(b"k" * 32, "result", report)):
                raw = serialize_result(
                    FUNCTION, (), {}, 1, 0, True, result, 0, 0, "x", QUEUE, job_id,
                    serializer=_dumps,
                )  # fmt: skip
                await pool.set(f"arq:result:{job_id}", raw)
                await asyncio.sleep(0.3)

        forger = asyncio.create_task(forge())
        status, answer = await post(front, fresh(), local="127.0.0.2")
        await forger
        forged = front.reflector.runner.forged  # type: ignore[union-attr]
        used = await front.reflector.store.used(day_key("source", "127.0.0.2"))
    # Then the practice is told the scan failed, never given the forged report
    assert status == 503, answer
    assert answer == {"error": "the worker's answer could not be verified"}
    assert forged == 1
    # And the failed scan did not count against the practice's day
    assert used == 0


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
        body = fresh()
        first, _ = await post(one, body, local="127.0.0.2")
        second, answer = await post(two, fresh(), local="127.0.0.2")
        # And a nonce used at one front is a replay at the other
        third, _ = await post(two, body, local="127.0.0.3")
    assert first == 200
    assert second == 429 and "scans today" in answer["error"]
    assert third == 409


async def test_redis_counters_end_with_their_day_or_at_zero(redis_url: str) -> None:
    from redis.asyncio import Redis

    from exposcan.reflector.quota import DAY_SLACK_S, PREFIX, RedisStore, day_key

    store = RedisStore(Redis.from_url(redis_url))
    try:
        key = day_key("source", "127.0.0.2")
        # Given a day's count taken twice, Then it lives to the end of its day, no longer
        assert await store.take(key, 5) and await store.take(key, 5)
        ttl = await store.redis.pttl(PREFIX + key)
        assert 0 < ttl <= (86400 + DAY_SLACK_S) * 1000
        # When both are given back, Then the counter is gone, not kept at 0
        await store.give_back(key)
        assert await store.used(key) == 1
        await store.give_back(key)
        assert await store.redis.exists(PREFIX + key) == 0
        # And a take refused at the limit leaves no counter behind either
        assert not await store.take(day_key("token", "t"), 0)
        assert await store.redis.exists(PREFIX + day_key("token", "t")) == 0
    finally:
        await store.close()


async def test_the_documented_acl_is_enough_and_no_more(tmp_path: Path) -> None:
    from redis.asyncio import Redis
    from redis.exceptions import NoPermissionError

    # Given a redis-server whose users are contrib/redis/reflector-users.acl
    shipped = Path(__file__).resolve().parents[2] / "contrib" / "redis" / "reflector-users.acl"
    acl = tmp_path / "users.acl"
    acl.write_text(shipped.read_text().replace(">CHANGE-ME", ">pw"))
    sock = tmp_path / "acl.sock"
    binary = shutil.which("redis-server")
    assert binary
    argv = [binary, "--port", "0", "--unixsocket", str(sock), "--save", ""]
    proc = subprocess.Popen(
        [*argv, "--dir", str(tmp_path), "--aclfile", str(acl)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        end = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < end:
            await asyncio.sleep(0.02)
        url = f"unix://reflector:pw@{sock}"
        # When a front and a worker use it as the reflector user
        async with (
            workers(url, 1, "1", 10.0),
            running_reflector(tmp_path, redis_url=url) as front,
        ):
            status, answer = await post(front, fresh(), local="127.0.0.2")
        # Then a scan goes through
        assert status == 200, answer
        # And that user can neither read the server's settings nor wipe it
        redis = Redis.from_url(url)
        try:
            for command in (("CONFIG", "GET", "*"), ("FLUSHALL",), ("SET", "other:key", "1")):
                with pytest.raises(NoPermissionError):
                    await redis.execute_command(*command)
        finally:
            await redis.aclose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
