"""One outside scan, and the two ways of running it.

The scan is the CLI's ``exposcan scan --vantage internet ADDRESS`` path, in
process: the same configuration (every TCP port unless the reflector is told
otherwise, the same probe deadlines), the same engine, with one total
deadline that ends it.  A scan cut by its deadline still answers, marked
incomplete (``scan.complete`` false), as an interrupted CLI scan does.

In process, jobs run in the front's event loop behind a cap on scans at a
time; with Redis, each is an arq job that any worker takes (``worker.py``),
signed by the front, its result signed by the worker (``signing.py``).  A
client that drops cancels its job either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from exposcan.catalogue import default_catalogue
from exposcan.config import ScanConfig
from exposcan.limits import Deadlines
from exposcan.models import Report, Vantage
from exposcan.net.portspec import ALL_PORTS, format_ports, parse_ports
from exposcan.reflector.signing import SignatureError, open_signed, sign
from exposcan.service import ScanRequest, run_scan

log = logging.getLogger("exposcan.reflector")

#: arq's names: one queue, one function.
QUEUE = "exposcan:reflector:queue"
FUNCTION = "outside_scan"
#: Time a worker gets beyond the scan deadline to build and store the report.
SLACK_S = 15.0
QUEUE_WAIT_S = 60.0


class Busy(RuntimeError):
    """No room for one more scan now (503)."""


class JobFailed(RuntimeError):
    """The scan could not run (a worker's message, one line)."""


@dataclass(frozen=True)
class ScanPolicy:
    """What every scan of this reflector is: the ports and the deadlines.
    The defaults are the CLI's for ``scan --vantage internet``."""

    ports_spec: str = ALL_PORTS
    deadline: float = 240.0
    probe_timeout: float = 5.0
    scan_timeout: float = 1.0
    scan_type: str = "auto"
    concurrency: int = 500
    ports: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ports", tuple(parse_ports(self.ports_spec)))

    def config(self) -> ScanConfig:
        ports = list(self.ports)
        t = self.probe_timeout
        return ScanConfig(
            ports=ports,
            ports_spec=format_ports(ports),
            vantage=Vantage.INTERNET,
            deadlines=Deadlines.from_read(t),
            scan_timeout=self.scan_timeout,
            scan_type=self.scan_type,
            concurrency=self.concurrency,
        )


async def outside_scan(addresses: Sequence[str], policy: ScanPolicy) -> Report:
    """Scan ``addresses`` from the internet vantage, within the deadline."""
    # The scope rule has already vetted every address.
    request = ScanRequest(
        policy.config(),
        default_catalogue().read_all(),
        [ip_address(a) for a in addresses],
        labels=list(addresses),
        deadline=policy.deadline,
    )
    return (await run_scan(request)).report


class InProcessRunner:
    """Scans in the front's own loop, at most ``max_scans`` at a time."""

    def __init__(self, policy: ScanPolicy, max_scans: int) -> None:
        self.policy = policy
        self.max_scans = max_scans
        self.running = 0

    def reserve(self) -> None:
        if self.running >= self.max_scans:
            raise Busy(f"{self.max_scans} scans are running; try again in a few minutes")
        self.running += 1

    async def run(self, addresses: Sequence[str]) -> Report:
        """Run a reserved scan; a cancelled caller cancels the scan itself."""
        try:
            return await outside_scan(addresses, self.policy)
        finally:
            self.running -= 1

    def release(self) -> None:
        self.running -= 1

    async def close(self) -> None:
        return None


def _dumps(data: Any) -> bytes:
    # JSON, not arq's default pickle: a job read from Redis must not be able
    # to run code in a worker.
    return json.dumps(data, default=str).encode()


def _loads(raw: bytes) -> Any:
    return json.loads(raw)


class QueueRunner:
    """Puts each scan on the arq queue and waits for a worker's answer."""

    def __init__(self, pool: Any, policy: ScanPolicy, max_queued: int, key: bytes) -> None:
        self.pool = pool  # arq.connections.ArqRedis
        self.policy = policy
        self.max_queued = max_queued
        self.key = key
        self.running = 0
        self.forged = 0

    @classmethod
    async def connect(
        cls, url: str, policy: ScanPolicy, max_queued: int, key: bytes
    ) -> QueueRunner:
        from arq.connections import RedisSettings, create_pool

        pool = await create_pool(
            RedisSettings.from_dsn(url),
            job_serializer=_dumps,
            job_deserializer=_loads,
            default_queue_name=QUEUE,
        )
        return cls(pool, policy, max_queued, key)

    def reserve(self) -> None:
        # The local count bounds this front's waiting requests; the queue's
        # length (checked in run) bounds all fronts together.
        if self.running >= self.max_queued:
            raise Busy(f"{self.max_queued} scans are waiting; try again in a few minutes")
        self.running += 1

    def release(self) -> None:
        self.running -= 1

    async def run(self, addresses: Sequence[str]) -> Report:
        from arq.jobs import Job

        try:
            if await self.pool.zcard(QUEUE) >= self.max_queued:
                raise Busy(f"{self.max_queued} scans are queued; try again in a few minutes")
            # In the queue at most one scan's time (a minute at least): a
            # request waiting longer is answered "busy", its job dropped.
            wait = max(self.policy.deadline, QUEUE_WAIT_S)
            job_id = uuid.uuid4().hex
            order = {
                "id": job_id,
                "addresses": list(addresses),
                "ports": self.policy.ports_spec,
                "deadline": self.policy.deadline,
                "expires": time.time() + wait,
            }
            job: Job | None = await self.pool.enqueue_job(
                FUNCTION, sign(self.key, "job", order), _job_id=job_id, _expires=wait
            )
            assert job is not None  # a fresh uuid is never a duplicate
            try:
                limit = wait + self.policy.deadline + SLACK_S
                result = await job.result(timeout=limit, poll_delay=0.2)
            except asyncio.CancelledError:
                # The client dropped (or the front stops): the worker stops too.
                await _abort(job)
                raise
            except TimeoutError:
                await _abort(job)
                raise JobFailed("no worker finished the scan in time") from None
            except Exception as exc:  # arq: expired, not found, a worker's error
                log.info("queued scan failed: %s", type(exc).__name__)
                raise JobFailed("no worker took the scan in time; try again later") from None
            finally:
                # The report was for the client only: nothing stays in Redis.
                await self.pool.delete(f"arq:result:{job.job_id}")
            try:
                answer = open_signed(self.key, "result", result)
            except SignatureError:
                # Written into Redis by someone else: never the reflector's answer.
                self.forged += 1
                log.warning("a result not signed by a worker was refused")
                raise JobFailed("the worker's answer could not be verified") from None
            if answer.get("job") != job_id:
                self.forged += 1
                log.warning("a signed result of another job was refused")
                raise JobFailed("the worker's answer could not be verified")
            if not answer.get("ok") or not isinstance(answer.get("report"), str):
                message = answer.get("error")
                raise JobFailed(str(message or "the worker could not scan")[:200])
            return Report.model_validate_json(answer["report"])
        finally:
            self.running -= 1

    async def close(self) -> None:
        await self.pool.aclose()


async def _abort(job: Any) -> None:
    try:
        await asyncio.wait_for(job.abort(timeout=2.0, poll_delay=0.2), 3.0)
    except (TimeoutError, OSError, Exception):  # best effort: the job has its own deadline
        log.debug("abort of a queued scan not confirmed")
