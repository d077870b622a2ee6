"""``exposcan reflector worker``: take scans off the Redis queue (arq).

Any number of workers, on any number of machines, share one queue.  A worker
trusts the queue no more than it must: it takes only a job a front signed
with the job key (``signing.py``; Redis never holds the key) for its own
job id and not expired, and even then re-checks it by the front's own rules:
the scope rule (``scope.check_job``: plain addresses, at most the source and
the addresses a request may name, the IPv6 ones inside the source's prefix,
none that embeds IPv4, all inside its own ``--sources``), ports inside its
own ``--ports``, a finite deadline no longer than its own ``--deadline``.
Its result, signed too, stays in Redis only until the front reads it
(``keep_result``), as JSON.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, replace
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
from exposcan.reflector.scope import IPV6_PREFIX, ScopeError, Sources, check_job
from exposcan.reflector.signing import SignatureError, open_signed, sign

log = logging.getLogger("exposcan.reflector")

#: How long a result waits in Redis for its front (which deletes it on read).
KEEP_RESULT_S = 120


@dataclass(frozen=True)
class WorkerRules:
    """What a worker allows, whatever a job says."""

    policy: ScanPolicy
    sources: Sources
    key: bytes
    ipv6_prefix: int = IPV6_PREFIX


def accept_job(
    rules: WorkerRules, job_id: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[list[str], ScanPolicy]:
    """The addresses and the policy of a job, or :class:`ScopeError` /
    :class:`SignatureError` for one no front of this reflector sent."""
    if kwargs or len(args) != 1:
        raise SignatureError("not a job of this reflector")
    order = open_signed(rules.key, "job", args[0])
    if order.get("id") != job_id:
        raise SignatureError("a signed job under another id")
    expires, deadline = order.get("expires"), order.get("deadline")
    for value in (expires, deadline):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScopeError("a job without a finite deadline")
        if not math.isfinite(value):
            raise ScopeError("a job without a finite deadline")
    assert isinstance(expires, int | float) and isinstance(deadline, int | float)
    if expires < time.time():
        raise ScopeError("an expired job")
    if deadline <= 0:
        raise ScopeError("a job without a finite deadline")
    addresses = order.get("addresses")
    if not isinstance(addresses, list):
        raise ScopeError("a job without addresses")
    check_job(addresses, rules.sources, rules.ipv6_prefix)
    ports_spec = order.get("ports")
    if not isinstance(ports_spec, str):
        raise ScopeError("a job without ports")
    asked = ScanPolicy(ports_spec=ports_spec, deadline=min(deadline, rules.policy.deadline))
    if not set(asked.ports) <= set(rules.policy.ports):
        raise ScopeError("ports outside this worker's --ports")
    return list(addresses), replace(rules.policy, ports_spec=ports_spec, deadline=asked.deadline)


async def outside_scan_job(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    rules: WorkerRules = ctx["rules"]
    counts: Counter[str] = ctx["counts"]  # arq copies ctx per job: a shared object
    job_id = ctx.get("job_id")

    def answer(**result: Any) -> dict[str, Any]:
        return sign(rules.key, "result", {"job": str(job_id), **result})

    try:
        addresses, job_policy = accept_job(rules, job_id, args, kwargs)
    except (ScopeError, SignatureError, ValueError) as exc:
        counts["refused"] += 1
        log.warning("job refused: %s", exc)
        return answer(ok=False, error="the worker refused the job")
    try:
        report = await outside_scan(addresses, job_policy)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug must not kill the worker; only the type is logged
        log.warning("scan failed: %s", type(exc).__name__)
        return answer(ok=False, error=f"the scan failed ({type(exc).__name__})")
    counts["scans"] += 1
    log.info(
        "scan done: %d address(es), %d port(s) open, %d finding(s), complete=%s",
        len(addresses),
        sum(len(h.services) for h in report.hosts),
        len(report.findings),
        report.scan.complete,
    )
    return answer(ok=True, report=report.to_json())


def build_worker(url: str, rules: WorkerRules, max_jobs: int, handle_signals: bool = True) -> Any:
    """The arq Worker (call in a running loop)."""
    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    return Worker(
        functions=[
            func(
                outside_scan_job,
                name=FUNCTION,
                keep_result=KEEP_RESULT_S,
                timeout=rules.policy.deadline + SLACK_S,
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
        ctx={"rules": rules, "counts": Counter()},
        handle_signals=handle_signals,
    )


async def run_worker(url: str, rules: WorkerRules, max_jobs: int) -> None:
    worker = build_worker(url, rules, max_jobs)
    try:
        await worker.main()
    except asyncio.CancelledError:
        pass  # SIGINT/SIGTERM: arq cancels its main task
    finally:
        await worker.close()
