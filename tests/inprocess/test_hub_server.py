"""The hub over TLS, on SQLite and on PostgreSQL: uploads, refusals, the
API, the exports, the pages' login and the alerts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import jsonschema

from exposcan.audit.notify.deliver import Webhook
from exposcan.hub.intake import MAX_REPORT_BYTES
from tests.hub_reports import mapping_imaging, practice_report, query_open
from tests.inprocess.hub_fixtures import PASSWORD, STAFF, db_url, pg_cluster, running_hub

__all__ = ["db_url", "pg_cluster"]  # fixtures
from tests.notify_servers import webhook_server

SARIF_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text()
)
DAY = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


async def test_sites_push_and_the_api_lists_each_with_its_verdicts(
    db_url: str, tmp_path: Path
) -> None:
    async with running_hub(db_url, tmp_path) as hub:
        # Given two sites with their tokens
        exposed = await hub.store.add_site("cabinet-exposed")
        quiet = await hub.store.add_site("cabinet-quiet")
        # When each pushes its report (one with a box forward to the PACS)
        first = practice_report(DAY, [query_open()])
        second = practice_report(DAY + timedelta(days=1), [query_open(), mapping_imaging()])
        for token, report in ((exposed, first), (exposed, second)):
            status, body, _ = await hub.request(
                "POST", "/api/v1/reports", token=token, body=report.to_json().encode()
            )
            assert status == 201, body
        status, body, _ = await hub.request(
            "POST",
            "/api/v1/sites/cabinet-quiet/reports",
            token=quiet,
            body=practice_report(DAY, []).to_json().encode(),
        )
        assert status == 201, body
        # Then the API lists each site with its verdicts, date, counts and what is new
        status, body, _ = await hub.request("GET", "/api/v1/sites")
        assert status == 200
        sites = {s["name"]: s for s in json.loads(body)}
        assert sites["cabinet-exposed"]["internet"] == "yes"
        assert sites["cabinet-exposed"]["lan"] == "yes"
        assert sites["cabinet-exposed"]["last_report"] == (DAY + timedelta(days=1)).isoformat()
        assert sites["cabinet-exposed"]["counts"]["critical"] == 1
        assert sites["cabinet-exposed"]["new"] == 1  # the forward; the PACS was there before
        assert sites["cabinet-quiet"]["internet"] == "unknown"  # a LAN scan, no outside view
        assert sites["cabinet-quiet"]["lan"] == "no"
        # And a site's reports come newest first
        status, body, _ = await hub.request("GET", "/api/v1/sites/cabinet-exposed/reports")
        finished = [r["finished"] for r in json.loads(body)]
        assert finished == [(DAY + timedelta(days=1)).isoformat(), DAY.isoformat()]
        # And an unknown site is 404
        status, _, _ = await hub.request("GET", "/api/v1/sites/nowhere/reports")
        assert status == 404


async def test_bad_uploads_are_refused_and_store_nothing(db_url: str, tmp_path: Path) -> None:
    async with running_hub(db_url, tmp_path) as hub:
        token = await hub.store.add_site("cabinet-a")
        other = await hub.store.add_site("cabinet-b")
        good = practice_report(DAY).to_json().encode()
        status, _, _ = await hub.request("POST", "/api/v1/reports", token=token, body=good)
        assert status == 201
        doc = json.loads(good)
        doc["findings"][0]["severity"] = "apocalyptic"
        cases = [
            # (why, token, path, body, content type, expected status)
            ("malformed JSON", token, "/api/v1/reports", b"{not json", "application/json", 400),
            ("foreign schema", token, "/api/v1/reports", b'{"schema": "x/1"}', None, 400),
            ("invalid field", token, "/api/v1/reports", json.dumps(doc).encode(), None, 400),
            ("replayed", token, "/api/v1/reports", good, None, 409),
            ("foreign site", token, "/api/v1/sites/cabinet-b/reports", good, None, 403),
            ("unknown token", "x" * 43, "/api/v1/reports", good, None, 401),
            ("staff, not a site", None, "/api/v1/reports", good, None, 401),
            ("not JSON", token, "/api/v1/reports", good, "text/plain", 415),
            ("oversized", token, "/api/v1/reports", b" " * (MAX_REPORT_BYTES + 2048), None, 413),
            ("deep", token, "/api/v1/reports", b"[" * 100 + b"]" * 100, None, 400),
        ]
        for why, tok, path, body, ctype, expected in cases:
            # When each bad upload is sent
            status, answer, _ = await hub.request(
                "POST", path, token=tok, body=body, content_type=ctype or "application/json"
            )
            # Then it is refused with its own status and a one-line reason
            assert status == expected, (why, status, answer)
            if status != 413:
                assert json.loads(answer)["error"], why
        # And nothing but the one good report was stored, at no site but its own
        assert await hub.store.reports_received() == 1
        assert await hub.store.reports("cabinet-b") == []
        assert other


async def test_staff_credentials_and_the_login_limit(db_url: str, tmp_path: Path) -> None:
    async with running_hub(db_url, tmp_path) as hub:
        # Given no credentials, Then the API asks for them
        status, _, headers = await hub.request("GET", "/api/v1/sites", auth=None)
        assert status == 401 and "Basic" in headers["WWW-Authenticate"]
        # And a site token is not a staff credential
        token = await hub.store.add_site("cabinet-a")
        status, _, _ = await hub.request("GET", "/api/v1/sites", token=token)
        assert status == 401
        # When a wrong password is tried five times, Then each is refused
        for _ in range(5):
            status, _, _ = await hub.request("GET", "/api/v1/sites", auth=(STAFF, "wrong" * 4))
            assert status == 401
        # And the sixth try is limited, even with the right password
        status, _, _ = await hub.request("GET", "/api/v1/sites", auth=(STAFF, PASSWORD))
        assert status == 429
        hub.state.staff.limiter._seen.clear()
        status, _, _ = await hub.request("GET", "/api/v1/sites", auth=(STAFF, PASSWORD))
        assert status == 200


async def test_exports_validate(db_url: str, tmp_path: Path) -> None:
    async with running_hub(db_url, tmp_path) as hub:
        for name in ("cabinet-a", "cabinet-b"):
            token = await hub.store.add_site(name)
            report = practice_report(DAY, [query_open(), mapping_imaging()])
            status, _, _ = await hub.request(
                "POST", "/api/v1/reports", token=token, body=report.to_json().encode()
            )
            assert status == 201
        # When the SARIF export is fetched, Then it validates against SARIF 2.1.0
        status, body, headers = await hub.request("GET", "/api/v1/export/findings.sarif")
        assert status == 200 and headers["Content-Type"].startswith("application/sarif+json")
        sarif = json.loads(body)
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
        results = sarif["runs"][0]["results"]
        assert len(results) == 4
        # And the same finding at two sites has two keys (same LAN address, two practices)
        keys = {r["partialFingerprints"]["exposcanFindingKey/v1"] for r in results}
        assert len(keys) == 4
        # When the DefectDojo export is fetched
        status, body, _ = await hub.request("GET", "/api/v1/export/findings.defectdojo.json")
        dojo = json.loads(body)
        # Then each finding has the generic parser's required fields and its stable key
        assert len(dojo["findings"]) == 4
        for finding in dojo["findings"]:
            assert {"title", "severity", "description"} <= set(finding)
            assert finding["severity"] in ("Info", "Low", "Medium", "High", "Critical")
            assert re.fullmatch(r"cabinet-[ab]/[0-9a-f]{16}", finding["unique_id_from_tool"])
            assert "evidence" not in json.dumps(finding)
        # And the CSV has a header and one row per finding
        status, body, _ = await hub.request("GET", "/api/v1/export/findings.csv")
        lines = body.decode().splitlines()
        assert lines[0].startswith("site,report_finished,key,rule,severity")
        assert len(lines) == 5
        # And an unknown export is 404
        status, _, _ = await hub.request("GET", "/api/v1/export/findings.xlsx")
        assert status == 404


async def test_pages_need_a_login_with_csrf(db_url: str, tmp_path: Path) -> None:
    async with running_hub(db_url, tmp_path) as hub:
        token = await hub.store.add_site("cabinet-a")
        await hub.request(
            "POST", "/api/v1/reports", token=token, body=practice_report(DAY).to_json().encode()
        )
        jar = aiohttp.CookieJar(unsafe=True)  # cookies from 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            # Given no session, Then the dashboard sends to the login page
            status, _, headers = await hub.request("GET", "/", auth=None, session=session)
            assert status == 303 and headers["Location"] == "/login"
            status, page, headers = await hub.request("GET", "/login", auth=None, session=session)
            assert "script-src" not in headers["Content-Security-Policy"]
            csrf = re.search(rb'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            cookie = headers.getall("Set-Cookie")[0]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            # When the form is posted without its CSRF token, Then it is refused
            form = {"user": STAFF, "password": PASSWORD}
            status, _, _ = await hub.request(
                "POST", "/login", auth=None, session=session, data=form
            )
            assert status == 403
            # When it is posted with it, Then a session starts and the dashboard shows the site
            form["csrf"] = csrf.group(1).decode()
            status, _, headers = await hub.request(
                "POST", "/login", auth=None, session=session, data=form
            )
            assert status == 303, headers
            status, page, _ = await hub.request("GET", "/", auth=None, session=session)
            assert status == 200 and b'data-site="cabinet-a"' in page
            # And the session works for the API too
            status, _, _ = await hub.request("GET", "/api/v1/sites", auth=None, session=session)
            assert status == 200
            # And the site page links its evidence page and the diff of two runs
            later = practice_report(DAY + timedelta(days=1), [query_open(), mapping_imaging()])
            await hub.request("POST", "/api/v1/reports", token=token, body=later.to_json().encode())
            reports = await hub.store.reports("cabinet-a")
            status, page, _ = await hub.request(
                "GET", "/sites/cabinet-a", auth=None, session=session
            )
            assert status == 200 and b"/sites/cabinet-a/evidence" in page
            status, page, _ = await hub.request(
                "GET",
                f"/sites/cabinet-a/diff?old={reports[1].id}&new={reports[0].id}",
                auth=None,
                session=session,
            )
            assert status == 200 and b"New (1)" in page and b"upnp.mapping-imaging" in page
            status, page, _ = await hub.request(
                "GET", "/sites/cabinet-a/evidence", auth=None, session=session
            )
            assert status == 200 and page.count(b"<tr><td>2026-11-0") == 2
            # And a report of another site is not found through this one
            status, _, _ = await hub.request(
                "GET", f"/sites/nowhere/reports/{reports[0].id}", auth=None, session=session
            )
            assert status == 404
            # And the French dashboard says it in French
            status, page, _ = await hub.request("GET", "/?lang=fr", auth=None, session=session)
            assert b"Cabinets" in page and b"lisibles" in page
            # When the staff member logs out (the form carries the session's CSRF token)
            token_in_page = re.search(rb'name="csrf" value="([^"]+)"', page)
            assert token_in_page is not None
            status, _, _ = await hub.request(
                "POST", "/logout", auth=None, session=session, data={"csrf": "forged"}
            )
            assert status == 403
            status, _, headers = await hub.request(
                "POST",
                "/logout",
                auth=None,
                session=session,
                data={"csrf": token_in_page.group(1).decode()},
            )
            # Then the session ends: the cookie is dropped and the pages ask for a login again
            assert status == 303 and "Max-Age=0" in headers["Set-Cookie"]
            assert "Secure" in headers["Set-Cookie"]
            status, _, headers = await hub.request("GET", "/", auth=None, session=session)
            assert status == 303 and headers["Location"] == "/login"


async def test_a_new_critical_finding_is_alerted(db_url: str, tmp_path: Path) -> None:
    async with webhook_server() as (port, hook):
        target = Webhook(f"http://127.0.0.1:{port}/hook")
        async with running_hub(db_url, tmp_path, [target]) as hub:
            token = await hub.store.add_site("cabinet-a")
            # Given a first report with no critical finding: no alert
            first = practice_report(DAY, [query_open()])
            await hub.request("POST", "/api/v1/reports", token=token, body=first.to_json().encode())
            await hub.state.alerts.drain()
            assert hook.bodies == []
            # When the next one holds a new critical finding
            second = practice_report(DAY + timedelta(days=1), [query_open(), mapping_imaging()])
            await hub.request(
                "POST", "/api/v1/reports", token=token, body=second.to_json().encode()
            )
            await hub.state.alerts.drain()
            # Then one alert names the site and the finding, without evidence
            assert [b["kind"] for b in hook.bodies] == ["new-critical"]
            assert hook.bodies[0]["site"] == "cabinet-a"
            assert hook.bodies[0]["new_findings"][0]["rule"] == "upnp.mapping-imaging"
            assert b"internal" not in hook.raw[0]
            # And a site that has not reported for the stale period is alerted once
            await hub.store.add_site("cabinet-silent")
            # (cabinet-a's last scan is weeks old; cabinet-silent was just added)
            assert await hub.state.alerts.check_stale(hub.store) == ["cabinet-a"]
            assert await hub.state.alerts.check_stale(hub.store) == []
            await hub.store.db.execute(
                "UPDATE sites SET created = ? WHERE name = ?",
                ((DAY - timedelta(days=30)).isoformat(), "cabinet-silent"),
            )
            assert await hub.state.alerts.check_stale(hub.store) == ["cabinet-silent"]
            await hub.state.alerts.drain()
            assert [b["kind"] for b in hook.bodies] == ["new-critical", "stale", "stale"]
            assert hook.bodies[1]["sites"] == ["cabinet-a"]
