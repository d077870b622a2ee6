"""Three practices push to one hub over HTTPS (the contractor's view).

The practices lab (exposcan_lab/practices.py): three practices behind three
NAT boxes, each LAN host running nginx with a page that names a canary
patient. The hub runs on the lab internet (203.0.113.60:8443), its
certificate from a private CA; each practice scans its own LAN host with the
real CLI and ``--hub``. Practice 1 scans once while the hub is down: that
report waits in its outbox and goes with the next scan. Then the API lists
every site with its verdicts, and no canary, password or token is in the
hub's database, pages, exports or log. Run on SQLite and on PostgreSQL (a
throw-away cluster on a unix socket, which the hub in its namespace reaches
through the file system).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exposcan_lab.postgres import Cluster
from exposcan_lab.postgres import available as pg_missing
from exposcan_lab.practices import (
    HUB_IP,
    HUB_PORT,
    NET,
    PRACTICES,
    Practice,
    Practices,
    PracticesError,
    _missing,
    write_certificate,
)
from exposcan_lab.topology import CANARY_STRINGS, SECRET_STRINGS
from tests.support.cli import cli_argv, cli_env, validate_reports
from tests.support.requirements import missing

pytestmark = pytest.mark.lab

LAB_NAME = os.environ.get("EXPOSCAN_LAB_NAME") or "pytest"
HUB_URL = f"https://{HUB_IP}:{HUB_PORT}"
STAFF, PASSWORD = "tech", "a long enough staff password"


@pytest.fixture(scope="module")
def practices() -> Iterator[Practices]:
    absent = _missing() + ([m] if (m := pg_missing()) else [])
    if absent:
        missing("the practices lab (" + ", ".join(absent) + ")")
    try:
        lab = Practices.up(LAB_NAME, workers=1)
    except PracticesError as exc:
        pytest.fail(str(exc))
    try:
        yield lab
    finally:
        lab.down()


def _exposcan(lab: Practices, role: str, *args: str, stdin: str | None = None, **env: str) -> Any:
    proc = lab.run(role, cli_argv(args), timeout=240, input=stdin, env=cli_env(env))
    validate_reports(args)
    return proc


def _scan(lab: Practices, p: Practice, tag: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """The practice's LAN host scans itself and pushes to the hub."""
    out = folder / f"{p.lan}-{tag}.json"
    return _exposcan(
        lab,
        p.lan,
        "scan",
        p.host_ip,
        "-p",
        "80",
        "--no-discovery",
        "--no-outside",
        "--hub",
        HUB_URL,
        "--hub-ca",
        str(folder / "ca.pem"),
        "-o",
        str(out),
        EXPOSCAN_HUB_TOKEN_FILE=str(folder / f"{p.lan}.token"),
        XDG_DATA_HOME=str(folder / p.lan),
        XDG_CONFIG_HOME=str(folder / p.lan / "config"),
    )


GET = r"""
import base64, json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
out = {}
for path in sys.argv[4:]:
    req = urllib.request.Request(sys.argv[1] + path)
    req.add_header("Authorization", "Basic " + sys.argv[3])
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        out[path] = r.read().decode("utf-8", "replace")
print(json.dumps(out))
"""


def _get(lab: Practices, folder: Path, *paths: str) -> dict[str, str]:
    basic = base64.b64encode(f"{STAFF}:{PASSWORD}".encode()).decode()
    argv = [sys.executable, "-c", GET, HUB_URL, str(folder / "ca.pem"), basic, *paths]
    done = lab.run(NET, argv, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


@pytest.mark.timeout(900)
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_three_practices_push_to_one_hub(practices: Practices, store: str) -> None:
    lab = practices
    folder = lab.dir / f"hub-{store}"
    folder.mkdir(mode=0o755)
    write_certificate(folder, HUB_IP)
    cluster = Cluster.start() if store == "postgres" else None
    service = f"hub-{store}"
    try:
        db = cluster.createdb("hub") if cluster else str(folder / "hub.sqlite3")
        # Given a site and its token per practice, and a staff account
        tokens = {}
        for p in PRACTICES:
            done = _exposcan(lab, NET, "hub", "add-site", "--db", db, f"cabinet-{p.number}")
            assert done.returncode == 0, done.stderr
            tokens[p.number] = done.stdout.strip()
            (folder / f"{p.lan}.token").write_text(tokens[p.number] + "\n")
            (folder / f"{p.lan}.token").chmod(0o600)
        done = _exposcan(lab, NET, "hub", "add-user", "--db", db, STAFF, stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        # When practice 1 scans while the hub is down
        first = _scan(lab, PRACTICES[0], "down", folder)
        # Then the scan's exit code is a scan's (the page is no imaging: 0) and its report waits
        assert first.returncode == 0, first.stderr
        assert "wait in" in first.stderr and "for the next scan" in first.stderr
        outbox = folder / PRACTICES[0].lan / "exposcan" / "outbox"
        assert len(list(outbox.glob("*.json"))) == 1
        # When the hub runs on the internet host and every practice scans
        argv = cli_argv(["hub", "serve"])
        argv += ["--listen", f"{HUB_IP}:{HUB_PORT}", "--db", db]
        argv += ["--cert", str(folder / "cert.pem"), "--key", str(folder / "key.pem")]
        lab.start_service(NET, service, argv)
        lab.wait_tcp(NET, HUB_IP, HUB_PORT)
        scans = {p.number: _scan(lab, p, "up", folder) for p in PRACTICES}
        # Then each scan delivered (practice 1 its waiting report first)
        for number, done in scans.items():
            assert done.returncode == 0, done.stderr
            sent = 2 if number == 1 else 1
            assert f"{sent} report(s) sent to the hub" in done.stderr, done.stderr
        assert list(outbox.glob("*.json")) == []
        # And the API lists each practice with its verdicts and its last report
        pages = _get(
            lab,
            folder,
            "/api/v1/sites",
            "/api/v1/sites/cabinet-1/reports",
            "/api/v1/export/findings.csv",
            "/api/v1/export/findings.sarif",
            "/api/v1/export/findings.defectdojo.json",
            "/metrics",
        )
        sites = {s["name"]: s for s in json.loads(pages["/api/v1/sites"])}
        assert sorted(sites) == ["cabinet-1", "cabinet-2", "cabinet-3"]
        for p in PRACTICES:
            site = sites[f"cabinet-{p.number}"]
            report = json.loads((folder / f"{p.lan}-up.json").read_text())
            assert site["last_report"] == report["scan"]["finished"][:19] + "+00:00"
            assert (site["internet"], site["lan"]) == ("unknown", "no")
            assert site["stale"] is False
        assert len(json.loads(pages["/api/v1/sites/cabinet-1/reports"])) == 2
        assert "exposcan_hub_reports_received_total 4" in pages["/metrics"]
        # And no canary patient, password or token is in the pages, exports, database or log
        if cluster is not None:
            dump = subprocess.run(
                [
                    "runuser",
                    "-u",
                    "nobody",
                    "--",
                    "/usr/lib/postgresql/15/bin/pg_dump",
                    "-h",
                    str(cluster.socket_dir),
                    "hub",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        else:
            # WAL mode: the newest rows may still be in the -wal file.
            dump = "".join(
                path.read_bytes().decode("latin-1") for path in folder.glob("hub.sqlite3*")
            )
        assert "cabinet-2" in dump  # the dump is the hub's data
        text = json.dumps(pages) + dump + lab.logs(service)
        for secret in (*CANARY_STRINGS, *SECRET_STRINGS, PASSWORD, *tokens.values()):
            assert secret not in text
        # And a site's token cannot add a report to another site
        forged = _exposcan(
            lab,
            PRACTICES[1].lan,
            "scan",
            PRACTICES[1].host_ip,
            "-p",
            "80",
            "--no-discovery",
            "--no-outside",
            "--hub",
            HUB_URL,
            "--hub-ca",
            str(folder / "ca.pem"),
            EXPOSCAN_HUB_TOKEN="x" * 43,
            XDG_DATA_HOME=str(folder / "forged"),
            XDG_CONFIG_HOME=str(folder / "forged"),
        )
        assert forged.returncode == 0 and "the site token was refused (HTTP 401)" in forged.stderr
    finally:
        lab.stop_service(service)
        if cluster is not None:
            cluster.stop()
