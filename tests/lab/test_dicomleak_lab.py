"""What a DICOM node leaks beyond images, and DICOMweb hygiene, against the
lab's real servers through the real CLI on the workstation at -vv: dcmtk's
wlmscpfs serving a worklist of canary patients, an Orthanc 1.10.1 DICOMweb
behind an nginx answering any origin with credentials, the 2020 Orthanc,
and the well-configured Orthanc as the negative case."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import findings_at
from tests.lab.conftest import run_exposcan

pytestmark = pytest.mark.lab

PORTS = f"{t.RIS_PORT},{t.DICOMWEB_HTTP_PORT},{t.SECURE_DICOM_PORT},{t.SECURE_HTTP_PORT}"
HYGIENE = {"http.stow-open", "http.cors-any-origin", "http.wado-uri-open"}


@dataclass
class LeakScan:
    returncode: int
    report: dict[str, Any]
    #: Every output of the run, as text: stdout, stderr (the -vv log), the
    #: JSON and HTML reports and the history database's rows.
    outputs: dict[str, str]
    dicomweb_instances: tuple[int, int]

    def findings(self, host: t.Host, port: int) -> dict[str, dict[str, Any]]:
        return findings_at(self.report, host.ip, port)


def _db_text(path: Path) -> str:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        rows = [repr(db.execute(f"select * from {name}").fetchall()) for name in tables]
    return "\n".join(rows)


@pytest.fixture(scope="module")
def leak_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> LeakScan:
    # Given the RIS, the DICOMweb PACS and the well-configured PACS
    out = tmp_path_factory.mktemp("dicomleak")
    before = lab.orthanc_instance_count(t.DICOMWEB.name)
    # When the workstation scans them at -vv, every output written
    proc = run_exposcan(
        lab,
        "ws",
        [
            "scan",
            str(t.RIS.ip),
            str(t.DICOMWEB.ip),
            str(t.PACS_SECURE.ip),
            "-p",
            PORTS,
            "--no-discovery",
            "--db",
            str(out / "history.sqlite3"),
            "-o",
            str(out / "report.json"),
            "-o",
            str(out / "report.html"),
            "-vv",
        ],
        timeout=180,
    )
    after = lab.orthanc_instance_count(t.DICOMWEB.name)
    outputs = {
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "json": (out / "report.json").read_text(),
        "html": (out / "report.html").read_text(),
        "db": _db_text(out / "history.sqlite3"),
    }
    report = json.loads(outputs["json"])
    return LeakScan(proc.returncode, report, outputs, (before, after))


def test_the_worklist_is_a_finding_with_its_count(leak_scan: LeakScan) -> None:
    # Then the exit code says a high finding (the worklist) was found
    assert leak_scan.returncode == 1, leak_scan.outputs["stderr"][-3000:]
    # And the worklist node has its own finding, with the count of scheduled steps
    found = leak_scan.findings(t.RIS, t.RIS_PORT)
    worklist = found["dicom.worklist-open"]
    assert (worklist["scheduled_count"], worklist["capped"]) == (t.RIS_SCHEDULED_STEPS, False)
    assert worklist["called_ae"] == t.RIS_AET
    # And it is not called a node that refuses every query
    assert "dicom.association-open" not in found
    # And the terminal names it with its count
    assert "dicom.worklist-open" in leak_scan.outputs["stdout"]
    assert f"scheduled_count={t.RIS_SCHEDULED_STEPS}" in leak_scan.outputs["stdout"]


def test_no_canary_string_in_any_output(leak_scan: LeakScan) -> None:
    # Then no patient, physician, ID, accession number, description or UID of
    # the worklist files is in stdout, the -vv log, the JSON, the HTML or the
    # history database
    for name, text in leak_scan.outputs.items():
        leaked = [s for s in t.CANARY_STRINGS if s in text]
        assert not leaked, f"{name}: {leaked}"


def test_stow_and_cors_on_the_open_dicomweb_pacs(leak_scan: LeakScan) -> None:
    # Then the DICOMweb PACS behind the permissive nginx has both findings
    found = leak_scan.findings(t.DICOMWEB, t.DICOMWEB_HTTP_PORT)
    assert found["http.stow-open"] == {
        **found["http.stow-open"],
        "product": "Orthanc",
        "endpoint": "/dicom-web/studies",
        "status": 415,
    }
    assert found["http.cors-any-origin"] == {
        **found["http.cors-any-origin"],
        "allow_origin": "echoed",
        "allow_credentials": True,
        "origin_sent": "https://evil.example",
    }
    # And Orthanc 1.10.1 answers a WADO-URI request naming no object 404, as
    # an unknown path: no WADO-URI finding is claimed
    assert "http.wado-uri-open" not in found
    # And nothing was stored there
    assert leak_scan.dicomweb_instances == (0, 0)


def test_none_on_the_well_configured_pacs(leak_scan: LeakScan) -> None:
    # Then the well-configured Orthanc gives none of the new findings
    web = leak_scan.findings(t.PACS_SECURE, t.SECURE_HTTP_PORT)
    dicom = leak_scan.findings(t.PACS_SECURE, t.SECURE_DICOM_PORT)
    assert "http.pacs-login" in web
    assert not HYGIENE & set(web)
    assert not {"dicom.worklist-open", "dicom.retrieve-open", "dicom.workflow-open"} & set(dicom)
