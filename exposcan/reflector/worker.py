"""``exposcan reflector worker``: take scans off the Redis queue (arq).

Any number of workers, on any number of machines, share one queue.  A worker
trusts the queue no more than it must: it scans only addresses its own
``--sources`` allow, only ports inside its own ``--ports``, and never longer
than its own ``--deadline`` (whoever can write to Redis must not make it a
scanner of arbitrary hosts).  Results stay in Redis only until the front
reads them (``keep_result``), as JSON.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from exposcan.reflector.jobs import (
    FUNCTION,
    QUEUE,
    SLACK_S,
    ScanPolicy,
    _dumps,
    _loads,
    outside_scan,
)
from exposcan.reflector.scope import ScopeError, Sources, normalise

log = logging.getLogger("exposcan.reflector")

#: How long a result waits in Redis for its front (which deletes it on read).
KEEP_RESULT_S = 120


async def outside_scan_job(
    ctx: dict[str, Any], addresses: Sequence[str], ports_spec: str, deadline: float
) -> dict[str, Any]:
    policy: ScanPolicy = ctx["policy"]
    sources: Sources = ctx["sources"]
    try:
        for text in addresses:
            if not sources.allows(normalise(text)):
                raise ScopeError("an address outside this worker's --sources")
        asked = ScanPolicy(ports_spec=ports_spec, deadline=min(deadline, policy.deadline))
        if not set(asked.ports) <= set(policy.ports):
            raise ScopeError("ports outside this worker's --ports")
        job_policy = replace(policy, ports_spec=ports_spec, deadline=asked.deadline)
    except (ScopeError, ValueError) as exc:
        ctx["counts"]["refused"] += 1
        log.warning("job refused: %s", exc)
        return {"ok": False, "error": f"the worker refused the job: {exc}"}
    try:
        report = await outside_scan(list(addresses), job_policy)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug must not kill the worker; only the type is logged
        log.warning("scan failed: %s", type(exc).__name__)
        return {"ok": False, "error": f"the scan failed ({type(exc).__name__})"}
    counts: Counter[str] = ctx["counts"]  # arq copies ctx per job: a shared object
    counts["scans"] += 1
    log.info(
        "scan done: %d address(es), %d port(s) open, %d finding(s), complete=%s",
        len(addresses),
        sum(len(h.services) for h in report.hosts),
        len(report.findings),
        report.scan.complete,
    )
    return {"ok": True, "report": report.to_json()}


def build_worker(
    url: str, policy: ScanPolicy, sources: Sources, max_jobs: int, handle_signals: bool = True
) -> Any:
    """The arq Worker (call in a running loop)."""
    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    return Worker(
        functions=[
            func(
                outside_scan_job,
                name=FUNCTION,
                keep_result=KEEP_RESULT_S,
                timeout=policy.deadline + SLACK_S,
                max_tries=1,  # a scan is never retried behind the client's back
            )
        ],
        queue_name=QUEUE,
        redis_settings=RedisSettings.from_dsn(url),
        max_jobs=max_jobs,
        allow_abort_jobs=True,
        job_serializer=_dumps,
        job_deserializer=_loads,
        log_results=False,  # a result is a report: never in a log
        poll_delay=0.2,
        ctx={"policy": policy, "sources": sources, "counts": Counter()},
        handle_signals=handle_signals,
    )


async def run_worker(url: str, policy: ScanPolicy, sources: Sources, max_jobs: int) -> None:
    worker = build_worker(url, policy, sources, max_jobs)
    try:
        await worker.main()
    except asyncio.CancelledError:
        pass  # SIGINT/SIGTERM: arq cancels its main task
    finally:
        await worker.close()
