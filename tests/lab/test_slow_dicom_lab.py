"""dcmtk servers as practices run them: they look the caller's name
up before they answer, and the practice's DNS decides how long that takes.

- the viewer (storescp, DNS drops its queries): ~15 s per association;
- the archive (dcmqrscp checking its called AE, DNS refuses): a round trip;
- the modality (storescp, DNS answers NXDOMAIN): a round trip.

The scan must wait for the viewer as a DICOM client would, alongside the
rest, with one association on it; the others must not wait for it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report, findings_at, service_at
from tests.lab.conftest import run_exposcan
from tests.lab.lab_state import PacketCounter

pytestmark = pytest.mark.lab

PORTS = f"{t.VIEWER_PORT},{t.PACS_DICOM_PORT},{t.PACS_HTTP_PORT}"


def _free_viewer() -> None:
    """storescp still looks up the last caller for up to its DNS wait after
    a client gave up: let it finish before anyone else calls it."""
    time.sleep(t.VIEWER_DNS_WAIT_S + 1)


@pytest.fixture(scope="module")
def slow_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Given the viewer, the archive, the modality and the open PACS, scanned
    # together from the workstation, the viewer's connections counted
    out = tmp_path_factory.mktemp("slow-dicom") / "report.json"
    targets = [str(h.ip) for h in (t.VIEWER, t.ARCHIVE, t.MODALITY, t.PACS)]
    syn = ["-p", "tcp", "--dport", str(t.VIEWER_PORT), "--syn"]
    started = time.monotonic()
    with PacketCounter(lab, t.VIEWER.name, syn) as viewer_syns:
        proc = run_exposcan(
            lab,
            t.WS.name,
            ["scan", *targets, "-p", PORTS, "-vv", "-o", str(out), "--fail-on", "never"],
            timeout=180,
        )
        syns = viewer_syns.packets()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert_valid_report(report)
    print(f"\nslow DICOM scan (viewer ~{t.VIEWER_DNS_WAIT_S:g} s per association): {elapsed:.1f} s")
    stored = [p for p in (lab.host_dir(t.VIEWER.name) / "incoming").rglob("*") if p.is_file()]
    return {"report": report, "stderr": proc.stderr, "syns": syns, "stored": stored}


def test_the_slow_viewer_is_found_with_the_dns_dropping(slow_scan: dict[str, Any]) -> None:
    report = slow_scan["report"]
    found = findings_at(report, t.VIEWER.ip, t.VIEWER_PORT)
    # Then storescp's write exposure is proven, though it answered late
    assert found["dicom.store-open"]["storage_contexts_accepted"] >= 1
    service = service_at(report, t.VIEWER.ip, t.VIEWER_PORT)
    assert service["protocol"] == "dicom" and service["product"] == "dcmtk"
    assert not [e for e in report["errors"] if e["host"] == str(t.VIEWER.ip)]
    # and the report says how slow it was and why one association only
    notes = [n for n in report["scan"]["notes"] if n.startswith(f"{t.VIEWER.ip}:")]
    assert len(notes) == 1 and "one association" in notes[0]
    # and nothing was stored on it
    assert slow_scan["stored"] == []


def test_the_slow_viewer_saw_one_association(slow_scan: dict[str, Any]) -> None:
    # Then the viewer got one SYN from the port scan and one connection for
    # the association: no second guess, no random-AE check on a node that
    # serves one caller at a time
    assert slow_scan["syns"] == 2


def test_the_other_hosts_did_not_wait_for_the_viewer(slow_scan: dict[str, Any]) -> None:
    # Given the -vv log, in the order things happened
    lines = slow_scan["stderr"].splitlines()

    def done(host: object, port: int) -> int:
        pattern = re.compile(rf"{re.escape(str(host))}:{port} probe dicom: ")
        return next(i for i, line in enumerate(lines) if pattern.search(line))

    # Then the fast nodes' DICOM probes were done before the viewer's
    viewer = done(t.VIEWER.ip, t.VIEWER_PORT)
    assert done(t.MODALITY.ip, t.MODALITY_PORT) < viewer
    assert done(t.ARCHIVE.ip, t.ARCHIVE_PORT) < viewer
    assert done(t.PACS.ip, t.PACS_DICOM_PORT) < viewer


def test_refusing_and_nxdomain_dns_cost_nothing_and_hide_nothing(
    slow_scan: dict[str, Any],
) -> None:
    report = slow_scan["report"]
    # Given the modality (DNS answers NXDOMAIN): found, not slow
    modality = findings_at(report, t.MODALITY.ip, t.MODALITY_PORT)
    assert modality["dicom.store-open"]["storage_contexts_accepted"] >= 1
    assert modality["dicom.association-open"]["classification"] == "open to any caller"
    # And the archive (dcmqrscp, DNS refuses): DICOM by its rejections,
    # filtered on its called AE, which no default matches
    archive = service_at(report, t.ARCHIVE.ip, t.ARCHIVE_PORT)
    assert archive["protocol"] == "dicom"
    assert archive["details"]["classification"] == "filtered on the called AE"
    assert not set(findings_at(report, t.ARCHIVE.ip, t.ARCHIVE_PORT)) & {
        "dicom.query-open",
        "dicom.store-open",
    }
    assert not [e for e in report["errors"] if e["host"] in (str(t.ARCHIVE.ip), str(t.MODALITY.ip))]


def test_a_shorter_wait_than_the_viewers_says_what_the_silence_may_be(
    lab: Lab, slow_scan: dict[str, Any], tmp_path: Path
) -> None:
    # Given the viewer scanned with a wait shorter than its look-up
    out = tmp_path / "report.json"
    try:
        proc = run_exposcan(
            lab,
            t.WS.name,
            [
                "scan",
                str(t.VIEWER.ip),
                "-p",
                str(t.VIEWER_PORT),
                "--association-timeout",
                "3",
                "-o",
                str(out),
                "--fail-on",
                "never",
            ],
            timeout=120,
        )
    finally:
        _free_viewer()
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    # Then no finding, and an error that says it may be a slow server
    assert not findings_at(report, t.VIEWER.ip, t.VIEWER_PORT)
    [error] = [e for e in report["errors"] if e["host"] == str(t.VIEWER.ip)]
    assert error["reason"] == "timeout" and "rather than a dead one" in error["detail"]
    assert "may be" in proc.stdout + proc.stderr
