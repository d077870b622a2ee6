"""In the lab: the real CLI, run from the practice workstation.

With no target it must find the lab LAN and every open port of its hosts;
hostile ports must cost a bounded time and land in ``errors``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from exposcan.catalogue import default_catalogue
from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import FullScan, run_exposcan
from tests.lab.lab_state import LAN_HOSTS, listening_ports

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lan_scan(full_scan: FullScan) -> dict[str, Any]:
    # When the practitioner runs exposcan with no target on the workstation,
    # at the most verbose level (the session's one full lab scan, conftest)
    return {
        "proc": full_scan.proc,
        "report": full_scan.report,
        "path": full_scan.outputs["json"],
        "elapsed": full_scan.run.elapsed,
    }


def test_it_says_what_it_will_scan_and_finds_the_lan(lan_scan: dict[str, Any]) -> None:
    proc: subprocess.CompletedProcess[str] = lan_scan["proc"]
    # Then it printed what it decided before scanning
    assert f"scanning {t.LAN_NET}" in proc.stderr
    assert f"default gateway {t.BOX_LAN_IP}" in proc.stderr
    report = lan_scan["report"]
    assert report["scan"]["targets"] == [str(t.LAN_NET)]
    assert report["scan"]["complete"] is True
    # And every LAN host of the lab is up in the report, found by ARP
    found = {h["address"]: h for h in report["hosts"]}
    for host in LAN_HOSTS:
        assert str(host.ip) in found, host.name
        assert found[str(host.ip)]["discovered_by"] == "arp"


def test_every_open_port_of_every_host_is_a_service(lab: Lab, lan_scan: dict[str, Any]) -> None:
    default_ports = set(default_catalogue().default_ports())
    found = {h["address"]: {s["port"] for s in h["services"]} for h in lan_scan["report"]["hosts"]}
    for host in LAN_HOSTS:
        # Given what the kernel of that host says is listening
        truth = listening_ports(lab, host.name) & default_ports
        # (the lab host does serve something over TCP, but the DNS: UDP only)
        assert bool(truth) == bool(host.tcp_ports), host.name
        # Then the scan found exactly those ports (of the default list)
        assert found[str(host.ip)] == truth, host.name


def test_no_patient_data_anywhere(lan_scan: dict[str, Any]) -> None:
    # Given every probe ran on every lab host, debug logging on
    proc: subprocess.CompletedProcess[str] = lan_scan["proc"]
    report_text = lan_scan["path"].read_text()
    assert "DEBUG" in proc.stderr and "probe dicom" in proc.stderr  # -vv did log
    # Then no canary patient string and no lab secret is in any output
    for text in (report_text, proc.stdout, proc.stderr):
        leaked = [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in text]
        assert leaked == []


def test_the_report_is_valid_and_private(lan_scan: dict[str, Any]) -> None:
    assert_valid_report(lan_scan["report"])
    path: Path = lan_scan["path"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_hostile_ports_are_bounded_errors(lan_scan: dict[str, Any]) -> None:
    report = lan_scan["report"]
    junk = str(t.JUNK.ip)
    errors = {(e["port"], e["reason"]) for e in report["errors"] if e["host"] == junk}
    ports_with_errors = {port for port, _ in errors}
    # Then the tarpit, the garbage spewer, the fake DICOM and the endless body
    # each became an error record ...
    assert {
        t.HOSTILE_TARPIT_PORT,
        t.HOSTILE_SPEW_PORT,
        t.HOSTILE_DICOM_PORT,
        t.HOSTILE_HTTP_PORT,
    } <= ports_with_errors, errors
    assert (t.HOSTILE_TARPIT_PORT, "timeout") in errors
    # ... and none of them became a finding
    assert not [f for f in report["findings"] if f["host"] == junk]
    # And the whole scan, tarpit included, stayed within its deadlines
    assert lan_scan["elapsed"] < 120


def test_full_port_range_matches_the_kernel(lab: Lab, tmp_path: Path) -> None:
    # Given every port of one host
    out = tmp_path / "full.json"
    proc = run_exposcan(
        lab, "ws", ["scan", str(t.PACS.ip), "-p", "-", "-q", "-o", str(out)], timeout=300
    )
    # Then it exits 1: the 2020 Orthanc answers queries (a high finding)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(out.read_text())
    (host,) = [h for h in report["hosts"] if h["address"] == str(t.PACS.ip)]
    # Then the open ports found are exactly those listening
    assert {s["port"] for s in host["services"]} == listening_ports(lab, t.PACS.name)
