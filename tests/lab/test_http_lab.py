"""The HTTP probe against the lab's real servers (Orthanc 1.10.1 with its
DICOMweb plugin, nginx autoindex, the hostile host), through the real CLI run
on the workstation (and once from the internet host)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import run_exposcan
from tests.support.lab_scan import LabScan

pytestmark = pytest.mark.lab

HTTP_PORTS = (
    f"{t.WEB_HTTP_PORT},{t.PACS_HTTP_PORT},{t.HOSTILE_TARPIT_PORT},{t.WEB_DICT_PORT},"
    f"{t.WEB_PORTAL_PORT}"
)


def _scan(lab: Lab, tmp: Path, host: str, args: list[str]) -> LabScan:
    out = tmp / "report.json"
    before = lab.orthanc_instance_count("pacs")
    start = time.monotonic()
    proc = run_exposcan(
        lab, host, ["scan", *args, "-o", str(out), "-vv", "--fail-on", "never"], timeout=180
    )
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert_valid_report(report)
    return LabScan(report, proc.stdout, proc.stderr, seconds, proc.returncode, before)


@pytest.fixture(scope="module")
def lan_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> LabScan:
    # One scan from the workstation of the open PACS, the secure PACS, the
    # nginx listing and the hostile host, on their HTTP ports only.
    targets = [str(h.ip) for h in (t.PACS, t.PACS_SECURE, t.WEB, t.JUNK)]
    return _scan(
        lab,
        tmp_path_factory.mktemp("http-lan"),
        "ws",
        [*targets, "-p", HTTP_PORTS, "--no-discovery"],
    )


def test_open_pacs_gives_unauthenticated_pacs_with_counts(lan_scan: LabScan) -> None:
    # Given the 2020-state Orthanc 1.10.1 on 198.18.0.10:8042
    found = lan_scan.findings(t.PACS.ip, t.PACS_HTTP_PORT)
    # Then http.pacs-unauthenticated names product, version and the counts
    ev = found["http.pacs-unauthenticated"]
    assert ev["product"] == "Orthanc"
    assert ev["version"] == "1.10.1"
    assert ev["patients"] == t.EXPECTED_PACS_PATIENTS
    assert ev["studies"] == t.EXPECTED_PACS_STUDIES
    assert ev["instances"] == t.EXPECTED_PACS_INSTANCES
    assert ev["studies_readable"] is True
    # and the CVEs of 1.10.1, and plain HTTP
    assert "CVE-2023-33466" in found["http.known-vulnerable"]["cves"]
    assert "http.cleartext" in found
    # and the service records the DICOM AE title (the DICOM probe's hint)
    service = lan_scan.service(t.PACS.ip, t.PACS_HTTP_PORT)
    assert (service["product"], service["version"]) == ("Orthanc", "1.10.1")
    assert service["details"]["DicomAet"] == t.PACS_AET
    assert service["details"]["DicomPort"] == t.PACS_DICOM_PORT


def test_secure_pacs_gives_no_data_finding(lan_scan: LabScan) -> None:
    # Given the well-configured Orthanc on 198.18.0.11:8042
    found = lan_scan.findings(t.PACS_SECURE.ip, t.SECURE_HTTP_PORT)
    # Then no data is readable: only the inventory line and plain-HTTP login
    assert "http.pacs-unauthenticated" not in found
    assert "http.listing-imaging" not in found
    assert "http.known-vulnerable" not in found  # its version is not disclosed
    assert set(found) <= {"http.pacs-login", "http.cleartext"}
    assert found["http.pacs-login"]["product"] == "Orthanc"
    assert lan_scan.service(t.PACS_SECURE.ip, t.SECURE_HTTP_PORT)["details"] == {}


def test_nginx_listing_serves_imaging(lan_scan: LabScan) -> None:
    # Given nginx autoindex over DICOM files (some without extension) and a
    # folder of .dic spelling dictionaries
    ev = lan_scan.findings(t.WEB.ip, t.WEB_HTTP_PORT)["http.listing-imaging"]
    # Then every DICOM file is counted, extension-less ones by their magic,
    # and no dictionary (read: no DICM magic)
    assert ev["server"] == "nginx"
    assert ev["imaging_files"] == t.EXPECTED_WEB_DICOM_FILES
    assert ev["files_seen"] == t.EXPECTED_WEB_FILES
    assert ev["without_extension"] == sum(1 for f in t.WEB_FILES if f.imaging and "." not in f.path)
    assert ev["extensions"] == ["dcm"]
    assert ev["cut_short"] is False


def test_a_listing_of_spelling_dictionaries_is_no_imaging(lan_scan: LabScan) -> None:
    # Given nginx autoindex on 8000 over the word processor's .dic dictionaries
    found = lan_scan.findings(t.WEB.ip, t.WEB_DICT_PORT)
    # Then the listing is served, and nothing about imaging is found in it
    assert lan_scan.service(t.WEB.ip, t.WEB_DICT_PORT)["protocol"] == "http"
    assert not found, found


def test_a_pacs_behind_a_reverse_proxy_at_a_sub_path_is_found(lan_scan: LabScan) -> None:
    # Given the practice portal on 8080, linking to Orthanc behind nginx's
    # proxy_pass at /pacs/
    found = lan_scan.findings(t.WEB.ip, t.WEB_PORTAL_PORT)
    # Then the PACS is found through the root page's link, and proven open
    ev = found["http.pacs-unauthenticated"]
    assert ev["product"] == "Orthanc" and ev["endpoint"] == f"{t.WEB_PROXY_PREFIX}/statistics"
    assert ev["studies"] == t.EXPECTED_PACS_STUDIES
    assert lan_scan.service(t.WEB.ip, t.WEB_PORTAL_PORT)["product"] == "Orthanc"


def test_hostile_ports_are_errors_not_hangs(lan_scan: LabScan) -> None:
    # Given the junk host: 80 = endless chunked body, 8080 = tarpit
    errors = {
        (e["port"], e["reason"])
        for e in lan_scan.report["errors"]
        if e["host"] == str(t.JUNK.ip) and e["probe"] == "http"
    }
    # Then each is an error record, and the whole scan stayed bounded
    assert (t.HOSTILE_HTTP_PORT, "too-large") in errors or (
        t.HOSTILE_HTTP_PORT,
        "timeout",
    ) in errors
    assert (t.HOSTILE_TARPIT_PORT, "timeout") in errors
    assert not lan_scan.findings(t.JUNK.ip, t.HOSTILE_HTTP_PORT)
    assert lan_scan.seconds < 90


def test_no_patient_data_or_secret_anywhere(lan_scan: LabScan) -> None:
    # Given the report, stdout and the -vv log of the scan
    text = json.dumps(lan_scan.report) + lan_scan.stdout + lan_scan.stderr
    # Then no canary (names, IDs, birth dates, UIDs, listed file names) nor
    # lab secret appears
    for canary in (*t.CANARY_STRINGS, *t.SECRET_STRINGS):
        assert canary not in text, canary


def test_scan_wrote_nothing_to_the_pacs(lab: Lab, lan_scan: LabScan) -> None:
    # Then the open Orthanc holds the same instances as before the scan
    assert lan_scan.before == t.EXPECTED_PACS_INSTANCES
    assert lab.orthanc_instance_count("pacs") == lan_scan.before


def test_intrusive_default_account_not_on_secure_pacs(lab: Lab, tmp_path: Path) -> None:
    # Given the secure Orthanc (a personal account, not orthanc:orthanc)
    # When scanned with --intrusive
    scan = _scan(
        lab,
        tmp_path,
        "ws",
        [str(t.PACS_SECURE.ip), "-p", str(t.SECURE_HTTP_PORT), "--no-discovery", "--intrusive"],
    )
    # Then no default-credentials finding, and its secret is never printed
    found = scan.findings(t.PACS_SECURE.ip, t.SECURE_HTTP_PORT)
    assert "http.default-credentials" not in found
    assert "http.pacs-login" in found
    for secret in t.SECRET_STRINGS:
        assert secret not in scan.stdout + scan.stderr + json.dumps(scan.report)


def test_internet_sees_the_pacs_web_through_the_box(lab: Lab, tmp_path: Path) -> None:
    # Given the box forwards 8042 to the open PACS (IGD) and 47000 to the
    # nginx listing (by hand)
    forward = next(f for f in t.MANUAL_FORWARDS if f.lan_ip == t.WEB.ip)
    # When the internet host scans the box's public address
    scan = _scan(
        lab,
        tmp_path,
        "inet",
        [
            str(t.BOX_WAN_IP),
            "--vantage",
            "internet",
            "-p",
            f"{t.PACS_HTTP_PORT},{forward.wan_port}",
        ],
    )
    pacs = scan.findings(t.BOX_WAN_IP, t.PACS_HTTP_PORT)
    listing = scan.findings(t.BOX_WAN_IP, forward.wan_port)
    # Then both are imaging reachable from the internet, proved over HTTP
    assert pacs["http.pacs-unauthenticated"]["product"] == "Orthanc"
    assert pacs["exposure.internet-imaging"]["service"] == "pacs-web"
    assert listing["http.listing-imaging"]["imaging_files"] == t.EXPECTED_WEB_DICOM_FILES
    assert listing["exposure.internet-imaging"]["service"] == "listing"
    text = json.dumps(scan.report) + scan.stdout + scan.stderr
    for canary in t.CANARY_STRINGS:
        assert canary not in text, canary
