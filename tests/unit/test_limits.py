import asyncio
import time

from exposcan.limits import Limits, RateLimiter


async def test_per_host_limit_is_exact_and_hosts_are_independent() -> None:
    # Given a per-host limit of 2 and a global limit of 10
    limits = Limits(concurrency=10, per_host=2, rate=0)
    inside: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}

    async def job(host: str) -> None:
        async with limits.connection(host):
            inside[host] += 1
            peak[host] = max(peak[host], inside[host])
            await asyncio.sleep(0.02)
            inside[host] -= 1

    # When 8 jobs per host run at once
    await asyncio.gather(*(job(h) for h in "ab" for _ in range(8)))
    limits.close()
    # Then no host ever saw more than 2 connections, and both reached 2
    assert peak == {"a": 2, "b": 2}


async def test_global_limit_caps_all_hosts() -> None:
    limits = Limits(concurrency=3, per_host=5, rate=0)
    inside = peak = 0

    async def job(host: str) -> None:
        nonlocal inside, peak
        async with limits.connection(host):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(job(f"h{i}") for i in range(12)))
    limits.close()
    assert peak == 3


async def test_rate_limit_spaces_new_connections() -> None:
    # Given 20 connections per second, When 6 are started
    rate = RateLimiter(20)
    started = time.monotonic()
    for _ in range(6):
        await rate.acquire()
    # Then they took at least 5 intervals of 50 ms
    assert time.monotonic() - started >= 0.24


async def test_blocking_work_holds_a_host_slot() -> None:
    limits = Limits(concurrency=4, per_host=1, rate=0)
    order: list[str] = []

    def work(tag: str) -> str:
        order.append(f"start {tag}")
        time.sleep(0.05)
        order.append(f"end {tag}")
        return tag

    results = await asyncio.gather(
        limits.run_blocking("h", lambda: work("1")), limits.run_blocking("h", lambda: work("2"))
    )
    limits.close()
    assert sorted(results) == ["1", "2"]
    # one at a time on the same host: each ends before the next starts
    assert order[1].startswith("end") and order[3].startswith("end")
