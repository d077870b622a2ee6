"""The hub's JSON API and the sites' upload.

Staff (HTTP Basic over HTTPS, or a session):

- ``GET /api/v1/sites``: each site's ``name``, ``last_report`` (ISO 8601),
  ``internet`` (yes / no / unknown), ``lan``, ``counts`` by severity and
  ``new`` (findings its previous report lacked);
- ``GET /api/v1/sites/NAME/reports``: its reports, newest first;
  ``GET /api/v1/sites/NAME/reports/ID``: one report as the site sent it;
- ``GET /api/v1/export/findings.csv``, ``findings.sarif``,
  ``findings.defectdojo.json``: every site's newest findings;
- ``GET /metrics``: Prometheus.

Sites (``Authorization: Bearer TOKEN``): ``POST /api/v1/reports`` (or
``/api/v1/sites/NAME/reports``, which must be the token's own site) with one
``exposcan.report/1`` report. 201: stored; 400 malformed, 401 unknown token,
403 another site, 409 a replay, 413 too large, 415 not JSON: nothing stored.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web

from exposcan.hub import exports, metrics
from exposcan.hub.auth import bearer_token
from exposcan.hub.context import api_user, state
from exposcan.hub.intake import RefusedReport, parse_report, verdicts
from exposcan.hub.store import DuplicateError, ReportRow, SiteRow, iso, now_utc

log = logging.getLogger("exposcan.hub")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def report_json(row: ReportRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "finished": row.finished,
        "received": row.received,
        "vantage": row.vantage,
        "complete": row.complete,
        "internet": row.internet,
        "lan": row.lan,
        "counts": row.counts,
        "new": row.new,
    }


def site_json(site: SiteRow, stale_cutoff: str) -> dict[str, Any]:
    last = site.last
    return {
        "name": site.name,
        "last_report": last.finished if last else None,
        "internet": last.internet if last else "unknown",
        "lan": last.lan if last else "unknown",
        "counts": last.counts if last else {},
        "new": last.new if last else 0,
        "stale": site.stale(stale_cutoff),
    }


def stale_cutoff(days: int) -> str:
    return iso(now_utc() - timedelta(days=days))


async def upload(request: web.Request) -> web.Response:
    hub = state(request)
    token = bearer_token(request.headers.get("Authorization", ""))
    site = await hub.store.site_for_token(token) if token else None
    if site is None:
        return _error(401, "unknown site token")
    site_id, site_name = site
    named = request.match_info.get("name")
    if named is not None and named != site_name:
        log.warning("refused: the token of site %s sent a report for another site", site_name)
        return _error(403, "this token adds reports to its own site only")
    if request.content_type != "application/json":
        return _error(415, "send the report as application/json")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "the report is too large")
    try:
        report, body, digest = parse_report(raw)
    except RefusedReport as exc:
        log.warning("refused a report from site %s: %s", site_name, exc)
        return _error(exc.status, str(exc))
    try:
        stored = await hub.store.ingest(site_id, report, body, digest, verdicts(report))
    except DuplicateError:
        return _error(409, "this report was received before (a replay)")
    log.info(
        "report %d stored for site %s (%d findings, %d new)",
        stored.report_id,
        site_name,
        len(report.findings),
        len(stored.new),
    )
    hub.alerts.new_critical(site_name, stored.new, iso(report.scan.finished))
    return web.json_response(
        {"id": stored.report_id, "site": site_name, "new": len(stored.new)}, status=201
    )


async def sites(request: web.Request) -> web.Response:
    await api_user(request)
    hub = state(request)
    cutoff = stale_cutoff(hub.stale_days)
    return web.json_response([site_json(s, cutoff) for s in await hub.store.sites()])


async def site_reports(request: web.Request) -> web.Response:
    await api_user(request)
    hub = state(request)
    name = request.match_info["name"]
    if not await hub.store.sites(name):
        return _error(404, "no such site")
    return web.json_response([report_json(r) for r in await hub.store.reports(name)])


async def one_report(request: web.Request) -> web.Response:
    await api_user(request)
    body = await state(request).store.report_body(
        request.match_info["name"], int(request.match_info["id"])
    )
    if body is None:
        return _error(404, "no such report")
    return web.Response(text=body, content_type="application/json")


async def export(request: web.Request) -> web.Response:
    await api_user(request)
    rows = await state(request).store.latest_findings()
    kind = request.match_info["kind"]
    disposition = {"Content-Disposition": f'attachment; filename="exposcan-{kind}"'}
    if kind == "findings.csv":
        return web.Response(
            text=exports.findings_csv(rows), content_type="text/csv", headers=disposition
        )
    if kind == "findings.sarif":
        doc = exports.findings_sarif(rows)
        return web.Response(
            text=json.dumps(doc, indent=1),
            content_type="application/sarif+json",
            headers=disposition,
        )
    if kind == "findings.defectdojo.json":
        return web.json_response(exports.findings_defectdojo(rows), headers=disposition)
    return _error(404, "exports: findings.csv, findings.sarif, findings.defectdojo.json")


async def prometheus(request: web.Request) -> web.Response:
    await api_user(request)
    hub = state(request)
    text = metrics.render(
        await hub.store.sites(),
        stale_cutoff(hub.stale_days),
        await hub.store.reports_received(),
        hub.stale_days,
    )
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/reports", upload),
        web.post("/api/v1/sites/{name}/reports", upload),
        web.get("/api/v1/sites", sites),
        web.get("/api/v1/sites/{name}/reports", site_reports),
        web.get(r"/api/v1/sites/{name}/reports/{id:\d{1,18}}", one_report),
        web.get("/api/v1/export/{kind}", export),
        web.get("/metrics", prometheus),
    ]
