"""Health data that is not an image in the NAS's guest share and the nginx
listing: the same first-byte signatures as in the FTP zone
(probes/health-data-files.yaml), found by the SMB walk and the listing walk
of the real CLI against Samba and nginx from Debian.

Run as root:
    EXPOSCAN_LAB_NAME=<name> EXPOSCAN_REQUIRE_LAB=1 pytest tests/lab/test_health_data_lab.py
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report, findings_at
from tests.lab.conftest import run_exposcan

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    # Given the NAS's guest share and the nginx listing, each holding canary
    # laboratory results (HPRIM, HL7 v2) beside the DICOM files
    out = tmp_path_factory.mktemp("health") / "lan.json"
    ports = f"{t.SMB_PORTS[0]},{t.WEB_HTTP_PORT}"
    # When the workstation scans both
    proc = run_exposcan(
        lab, t.WS.name, ["scan", "-p", ports, "-o", str(out), str(t.NAS.ip), str(t.WEB.ip)]
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    return assert_valid_report(out.read_text()), proc.stdout + proc.stderr + out.read_text()


def test_the_share_gives_its_health_data_twin(scan: tuple[dict[str, Any], str]) -> None:
    found = findings_at(scan[0], t.NAS.ip, t.SMB_PORTS[0])
    # Then the share's health data is a high finding of its own, with counts
    ev = found["smb.guest-share-health-data"]
    assert ev["share"] == t.NAS_GUEST_SHARE
    assert ev["health_data_files"] == t.EXPECTED_NAS_HEALTH_FILES == 2
    assert ev["health_data_kinds"] == ["hl7v2", "hprim"]
    # and the images are still counted as before, the results not among them
    assert found["smb.guest-share-imaging"]["imaging_files"] == t.EXPECTED_NAS_DICOM_FILES


def test_the_listing_gives_its_health_data_twin(scan: tuple[dict[str, Any], str]) -> None:
    found = findings_at(scan[0], t.WEB.ip, t.WEB_HTTP_PORT)
    ev = found["http.listing-health-data"]
    assert ev["health_data_files"] == t.EXPECTED_WEB_HEALTH_FILES == 2
    assert ev["health_data_kinds"] == ["hl7v2", "hprim"]
    assert found["http.listing-imaging"]["imaging_files"] == t.EXPECTED_WEB_DICOM_FILES


def test_no_canary_and_no_file_name(scan: tuple[dict[str, Any], str]) -> None:
    output = scan[1]
    assert not [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in output]
    names = {
        PurePosixPath(f.path).name for f in (*t.NAS_IMAGING_FILES, *t.WEB_FILES) if f.health_data
    }
    assert not [n for n in names if n in output]
