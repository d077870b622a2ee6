"""The view from the internet: the real CLI in ``inet`` scans the box's
public address on every TCP port and finds every forwarded imaging service,
including the one set by hand that UPnP cannot list.

Run as root: EXPOSCAN_TEST_LAB=<name> pytest -s tests/lab/test_internet_lab.py
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import run_exposcan

pytestmark = pytest.mark.lab

PUBLIC = str(t.BOX_WAN_IP)


@pytest.fixture(scope="module")
def internet_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    # Given the practice's public address, from a host on the internet
    out = tmp_path_factory.mktemp("internet") / "inet.json"
    # When the full internet view runs (every TCP port, no discovery)
    started = time.monotonic()
    proc = run_exposcan(
        lab, t.INET.name, ["scan", "--vantage", "internet", "-o", str(out), PUBLIC], timeout=115
    )
    elapsed = time.monotonic() - started
    # A figure, not a timed test (STYLE.md): visible with pytest -s.
    print(f"\ninternet view of {PUBLIC}, 65,535 TCP ports + probes: {elapsed:.1f} s")
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = assert_valid_report(out.read_text())
    return report, proc.stdout + proc.stderr + out.read_text()


def test_every_forwarded_imaging_port_is_critical(
    internet_scan: tuple[dict[str, Any], str],
) -> None:
    report, _ = internet_scan
    exposed = {f["port"]: f for f in report["findings"] if f["rule"] == "exposure.internet-imaging"}
    # Then every forward of the box (IGD ones and the hand-set 47000, 50104
    # and 21, the anonymous FTP zone) is an internet exposure of imaging,
    # with the kind of service behind it
    assert set(exposed) == {f.wan_port for f in t.FORWARDS}
    assert set(exposed) == {21, 104, 8042, 47000, 50104, 50200, 50201}
    assert all(f["host"] == PUBLIC and f["severity"] == "critical" for f in exposed.values())
    assert exposed[104]["evidence"]["service"] == "dicom"
    assert exposed[8042]["evidence"]["service"] == "pacs-web"
    assert exposed[8042]["evidence"]["product"] == "Orthanc"
    assert exposed[47000]["evidence"]["product"] == "nginx"
    assert exposed[t.MANUAL_PACS_PORT]["evidence"]["service"] == "dicom"
    assert exposed[t.FTP_PORT]["evidence"]["service"] == "ftp"


def test_the_scan_covered_every_port(internet_scan: tuple[dict[str, Any], str]) -> None:
    report, _ = internet_scan
    # Then the whole TCP range was scanned, the address assumed up (no ping),
    # and exactly the forwarded ports are open
    assert report["scan"]["vantage"] == "internet"
    assert report["scan"]["ports"] == "1-65535"
    assert report["scan"]["complete"] is True
    [host] = report["hosts"]
    assert host["address"] == PUBLIC and host["discovered_by"] == "assumed"
    services = {s["port"]: s for s in host["services"]}
    assert set(services) == {f.wan_port for f in t.FORWARDS}
    # and the unusual port 47000 is identified as the web server it is
    assert services[47000]["protocol"] == "http"
    assert services[104]["protocol"] == "dicom"
    # and the DICOM node was reached with the AE title learned from the PACS web API
    query = [f for f in report["findings"] if f["rule"] == "dicom.query-open"]
    assert [f["evidence"]["called_ae"] for f in query] == [t.PACS_AET, t.PACS_AET]


def test_no_lan_only_findings_and_no_patient_data(
    internet_scan: tuple[dict[str, Any], str],
) -> None:
    report, output = internet_scan
    # Then no UPnP finding (there is no IGD to ask from outside)
    assert not [f for f in report["findings"] if f["rule"].startswith("upnp.")]
    # and no canary patient string or lab credential anywhere
    assert not [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in output]


def test_a_dicom_door_is_named_by_what_it_answered_itself(
    internet_scan: tuple[dict[str, Any], str],
) -> None:
    report, _ = internet_scan
    [host] = report["hosts"]
    services = {s["port"]: s for s in host["services"]}
    # Given two forwards to DICOM servers of one toolkit (an Orthanc, a
    # storescp that accepts any called AE, the PACS's title too), on the
    # public address whose port 8042 is the PACS's web API naming "Orthanc"
    scp = services[t.TWIN_SCP_PUBLIC_PORT]
    orthanc = services[t.TWIN_ORTHANC_PUBLIC_PORT]
    # Then the storescp is not named after the PACS's web API: that hint
    # is another port's word, not what this port answered
    assert scp["protocol"] == "dicom" and scp["product"] != "Orthanc", scp
    assert scp["details"]["called_ae_checked"] is False, scp
    # and the Orthanc, which refuses a random called AE, is told apart by
    # the title it accepted
    assert orthanc["details"]["ae_title"] == t.TWIN_ORTHANC_AET, orthanc
    assert orthanc["details"]["called_ae_checked"] is True, orthanc
    # while the PACS's own door (its web API names its DICOM port) is Orthanc
    assert services[t.PACS_DICOM_PORT]["product"] == "Orthanc"
