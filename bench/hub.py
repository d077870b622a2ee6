"""``python -m bench.hub``: the hub's ingest rate and its dashboard's time.

On a throw-away PostgreSQL cluster (exposcan_lab/postgres.py: Debian's
postgresql 15 as an unprivileged user on a unix socket, deleted after), or
with ``--db sqlite`` on a temporary SQLite file. The hub runs in this
process over TLS on 127.0.0.1; every request goes through HTTPS.

1. Ingest: ``--ingest`` reports pushed by ``--clients`` sites at once
   through ``POST /api/v1/reports`` (validation, verdicts, storage):
   reports per second.
2. Dashboard: ``--sites`` sites holding ``--days`` daily reports each (one
   a day, loaded straight into the database: a year of 1,000 sites is
   365,000 reports, hours through the API), then the median and worst
   time of the dashboard (all, new critical this week, stale), of
   ``/api/v1/sites`` and of a site's page (its year of history).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import ssl
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from exposcan.hub.alerts import Alerts
from exposcan.hub.auth import hash_password
from exposcan.hub.context import HubState
from exposcan.hub.intake import verdicts
from exposcan.hub.server import server_tls, serving
from exposcan.hub.store import SEVERITIES, Store, iso, token_hash
from exposcan.models import Finding, Host, Report, ScanInfo, Service, Severity, Tool, Vantage
from exposcan.models import finding_key as key_of
from exposcan_lab.postgres import Cluster
from exposcan_lab.practices import write_certificate

STAFF, PASSWORD = "bench", "bench password, long enough"


def _report(finished: datetime, critical: bool) -> Report:
    findings = [
        Finding(
            rule="dicom.query-open",
            severity=Severity.HIGH,
            host="198.18.0.10",
            port=104,
            protocol="dicom",
            title="The PACS answers queries from anyone on the network",
            key=key_of("dicom.query-open", "198.18.0.10", 104),
        )
    ]
    if critical:
        findings.append(
            Finding(
                rule="upnp.mapping-imaging",
                severity=Severity.CRITICAL,
                host="198.18.0.1",
                port=11112,
                protocol="upnp",
                title="The internet box forwards an internet port to an imaging service",
                evidence={"service": "dicom"},
                key=key_of("upnp.mapping-imaging", "198.18.0.1", 11112),
            )
        )
    return Report(
        tool=Tool(version="0.1.0"),
        scan=ScanInfo(
            started=finished - timedelta(seconds=40),
            finished=finished,
            vantage=Vantage.LAN,
            targets=["198.18.0.0/24"],
            complete=True,
            ports="104,80,445",
        ),
        hosts=[
            Host(
                address="198.18.0.10",
                services=[Service(port=104, protocol="dicom", product="Orthanc", version="1.10.1")],
            )
        ],
        findings=findings,
        errors=[],
    )


async def _timed(fn: Callable[[], Awaitable[int]], rounds: int) -> tuple[float, float, int]:
    times, status = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        status = await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times), status


async def _load_history(store: Store, sites: int, days: int, now: datetime) -> float:
    """``sites`` sites with one report a day for ``days`` days, straight in
    the tables (the same rows the API writes)."""
    start = time.perf_counter()
    plain = _report(now, critical=False)
    body = plain.to_json()
    crit = _report(now, critical=True)
    v_plain, v_crit = verdicts(plain), verdicts(crit)
    for s in range(sites):
        name = f"bench-{s:04d}"
        async with store.db.transaction() as tx:
            rows = await tx.fetch(
                "INSERT INTO sites (name, token_hash, created) VALUES (?, ?, ?) RETURNING id",
                (name, token_hash(name), iso(now - timedelta(days=days + 1))),
            )
            site_id = int(rows[0][0])
            # One site in ten got a critical forward once, one in twenty went silent.
            silent = s % 20 == 0
            reports = []
            for d in range(days):
                if silent and d >= days - min(30, days // 2):
                    break
                critical = s % 10 == 0 and d == days - 3
                v = v_crit if critical else v_plain
                counts = dict.fromkeys(SEVERITIES, 0)
                counts["high"] = 1
                counts["critical"] = 1 if critical else 0
                day = now - timedelta(days=days - 1 - d)
                reports.append(
                    (
                        site_id,
                        iso(day),
                        iso(day - timedelta(seconds=40)),
                        iso(day),
                        "lan",
                        1,
                        v.internet,
                        v.lan,
                        *(counts[x] for x in SEVERITIES),
                        1 if critical or d == 0 else 0,
                        1 if critical else 0,
                        f"{site_id}-{d}",
                        body,
                    )
                )
            await tx.executemany(
                "INSERT INTO reports (site_id, received, started, finished, vantage, complete, "
                "internet, lan, critical, high, medium, low, info, new_count, new_critical, "
                "digest, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                reports,
            )
            last = await tx.fetch(
                "SELECT id FROM reports WHERE site_id = ? ORDER BY finished DESC LIMIT 1",
                (site_id,),
            )
            ids = await tx.fetch("SELECT id FROM reports WHERE site_id = ?", (site_id,))
            await tx.executemany(
                "INSERT INTO findings (report_id, key, rule, severity, host, port, protocol, "
                "title, description, remediation, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        int(r[0]),
                        f.key,
                        f.rule,
                        f.severity.value,
                        f.host,
                        f.port,
                        f.protocol,
                        f.title,
                        "",
                        "",
                        "[]",
                    )
                    for r in ids
                    for f in plain.findings
                ],
            )
            await tx.execute(
                "UPDATE sites SET last_report_id = ? WHERE id = ?", (int(last[0][0]), site_id)
            )
    await store.db.execute("ANALYZE")
    return time.perf_counter() - start


async def bench(db: str, args: argparse.Namespace, folder: Path) -> dict[str, object]:
    write_certificate(folder, "127.0.0.1")
    store = await Store.open(db)
    await store.set_user(STAFF, hash_password(PASSWORD))
    state = HubState(store, Alerts([]), 7)
    results: dict[str, object] = {}
    ctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    basic = "Basic " + base64.b64encode(f"{STAFF}:{PASSWORD}".encode()).decode()
    tls = server_tls(folder / "cert.pem", folder / "key.pem")
    try:
        async with (
            serving(state, "127.0.0.1", 0, tls) as (host, port),
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session,
        ):
            url = f"https://{host}:{port}"
            # 1. ingest through HTTPS
            tokens = [await store.add_site(f"ingest-{i:03d}") for i in range(args.clients)]
            now = datetime.now(UTC).replace(microsecond=0)
            per_client = args.ingest // args.clients
            bodies = [
                [
                    _report(now - timedelta(days=per_client - n, seconds=c), n % 7 == 0)
                    .to_json()
                    .encode()
                    for n in range(per_client)
                ]
                for c in range(args.clients)
            ]

            async def push(token: str, mine: list[bytes]) -> int:
                ok = 0
                for raw in mine:
                    async with session.post(
                        url + "/api/v1/reports",
                        data=raw,
                        ssl=ctx,
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                        },
                    ) as r:
                        await r.read()
                        ok += r.status == 201
                return ok

            start = time.perf_counter()
            stored = sum(
                await asyncio.gather(*(push(t, b) for t, b in zip(tokens, bodies, strict=True)))
            )
            took = time.perf_counter() - start
            results["ingest"] = {
                "reports": stored,
                "clients": args.clients,
                "seconds": round(took, 2),
                "reports_per_second": round(stored / took, 1),
            }
            print(
                f"ingest: {stored} reports from {args.clients} sites at once in {took:.1f} s: "
                f"{stored / took:.1f} reports/s",
                flush=True,
            )
            if args.sites == 0:  # --sites 0: the ingest rate only
                return results
            # 2. the dashboard over a year of daily reports
            load_s = await _load_history(store, args.sites, args.days, now)
            total = await store.reports_received()
            print(
                f"loaded {args.sites} sites x {args.days} daily reports ({total} reports) "
                f"in {load_s:.0f} s",
                flush=True,
            )
            # A session, as a browser has one.
            user = await store.user(STAFF)
            assert user is not None
            sid, _ = await store.new_session(user[0], timedelta(hours=1))
            cookies = {"Cookie": f"__Host-exposcan-hub={sid}"}

            def getter(path: str, headers: dict[str, str]) -> Callable[[], Awaitable[int]]:
                async def get() -> int:
                    async with session.get(
                        url + path, ssl=ctx, headers=headers, allow_redirects=False
                    ) as r:
                        await r.read()
                        return r.status

                return get

            pages = {
                "dashboard (all sites)": ("/", cookies),
                "dashboard, new critical this week": ("/?show=new-critical", cookies),
                "dashboard, stale for 7 days": ("/?show=stale&days=7", cookies),
                "site page (a year of history)": ("/sites/bench-0001", cookies),
                "evidence page (a year)": ("/sites/bench-0001/evidence", cookies),
                "GET /api/v1/sites (session)": ("/api/v1/sites", cookies),
                "GET /api/v1/sites (HTTP Basic, Argon2)": (
                    "/api/v1/sites",
                    {"Authorization": basic},
                ),
                "export DefectDojo JSON": ("/api/v1/export/findings.defectdojo.json", cookies),
            }
            timings: dict[str, dict[str, float]] = {}
            for label, (path, headers) in pages.items():
                median, worst, status = await _timed(getter(path, headers), args.rounds)
                assert status == 200, (label, status)
                timings[label] = {
                    "median_ms": round(median * 1000, 1),
                    "max_ms": round(worst * 1000, 1),
                }
                print(
                    f"{label:42} median {median * 1000:7.1f} ms  max {worst * 1000:7.1f} ms",
                    flush=True,
                )
            results["pages"] = timings
            results["reports_in_db"] = total
    finally:
        await store.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--ingest", type=int, default=1000, help="reports pushed [1000]")
    parser.add_argument("--clients", type=int, default=10, help="sites pushing at once [10]")
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("-o", "--output", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    machine = (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"hub bench on {args.db}: {machine}", flush=True)
    with tempfile.TemporaryDirectory(prefix="exposcan-hub-bench-") as tmp:
        if args.db == "postgres":
            with Cluster.start() as cluster:
                results = asyncio.run(bench(cluster.createdb("hub"), args, Path(tmp)))
        else:
            results = asyncio.run(bench(str(Path(tmp) / "hub.sqlite3"), args, Path(tmp)))
    results.update(db=args.db, machine=machine, load_after=round(os.getloadavg()[0], 1))
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
