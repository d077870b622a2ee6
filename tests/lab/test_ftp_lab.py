"""Anonymous FTP zones in the lab: vsftpd from Debian with an
anonymous zone of DICOM exports and laboratory results (ftp), and vsftpd
with named users only and TLS required (ftp-private, the negative case).
The real CLI, from the workstation and from the internet through the box's
hand-set forward of port 21 (the Dedalus Biologie case, CNIL SAN-2022-009).

Run as root: EXPOSCAN_LAB_NAME=<name> EXPOSCAN_REQUIRE_LAB=1 pytest tests/lab/test_ftp_lab.py
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report, findings_at
from tests.lab.conftest import run_exposcan
from tests.lab.lab_state import tree

pytestmark = pytest.mark.lab

PORTS = f"{t.FTP_PORT},{t.FTPS_IMPLICIT_PORT}"


def _zone_names() -> set[str]:
    """Every file and folder name of both zones: none may be printed."""
    out: set[str] = set()
    for f in (*t.FTP_FILES, *t.FTP_PRIVATE_FILES):
        path = PurePosixPath(f.path)
        out.add(path.name)
        out.update(p.name for p in path.parents if p.name)
    return out


def _scan(lab: Lab, host: str, out: Path, *args: str) -> tuple[dict[str, Any], str]:
    proc = run_exposcan(lab, host, ["scan", "-p", PORTS, "-o", str(out), *args], timeout=110)
    # Findings: exit 1 (README, exit codes).
    assert proc.returncode == 1, proc.stderr[-3000:]
    return assert_valid_report(out.read_text()), proc.stdout + proc.stderr + out.read_text()


@pytest.fixture(scope="module")
def lan_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Given both FTP servers, their zones read before the scan
    before = {h.name: tree(lab.ftp_zone(h.name)) for h in (t.FTP, t.FTP_PRIVATE)}
    out = tmp_path_factory.mktemp("ftp") / "lan.json"
    # When the workstation scans them
    report, output = _scan(lab, t.WS.name, out, str(t.FTP.ip), str(t.FTP_PRIVATE.ip))
    after = {h.name: tree(lab.ftp_zone(h.name)) for h in (t.FTP, t.FTP_PRIVATE)}
    log = (lab.host_dir(t.FTP.name) / "vsftpd-transfers.log").read_text()
    private_log = (lab.host_dir(t.FTP_PRIVATE.name) / "vsftpd-transfers.log").read_text()
    return {
        "report": report,
        "output": output,
        "before": before,
        "after": after,
        "log": log,
        "private_log": private_log,
    }


def test_the_anonymous_zone_gives_imaging_and_health_data_findings(
    lan_scan: dict[str, Any],
) -> None:
    found = findings_at(lan_scan["report"], t.FTP.ip, t.FTP_PORT)
    # Then imaging and health data (high), with the zone's true counts, and
    # the cleartext login; no mere "anonymous access" beside them
    assert found["ftp.anonymous-imaging"]["imaging_files"] == t.EXPECTED_FTP_IMAGING_FILES
    health = found["ftp.anonymous-health-data"]
    assert health["health_data_files"] == t.EXPECTED_FTP_HEALTH_FILES
    assert health["health_data_kinds"] == ["hl7v2", "hprim"]
    assert health["truncated"] is False
    assert set(found) == {"ftp.anonymous-imaging", "ftp.anonymous-health-data", "ftp.cleartext"}
    severities = {f["rule"]: f["severity"] for f in lan_scan["report"]["findings"]}
    assert severities["ftp.anonymous-imaging"] == severities["ftp.anonymous-health-data"] == "high"


def test_the_named_user_zone_gives_none(lan_scan: dict[str, Any]) -> None:
    # Then the server with named users only and TLS required has no finding,
    # explicit TLS on 21 as implicit TLS on 990 (a real handshake there)
    services = {
        s["port"]: s
        for h in lan_scan["report"]["hosts"]
        if h["address"] == str(t.FTP_PRIVATE.ip)
        for s in h["services"]
    }
    assert set(services) == {t.FTP_PORT, t.FTPS_IMPLICIT_PORT}
    for port, service in services.items():
        assert findings_at(lan_scan["report"], t.FTP_PRIVATE.ip, port) == {}, port
        assert service["product"] == "vsftpd" and service["details"]["ftp_anonymous"] is False
        assert service["details"]["ftp_auth_tls"] is True
    assert services[t.FTPS_IMPLICIT_PORT]["tls"] is True
    assert services[t.FTP_PORT]["tls"] is False
    assert not [e for e in lan_scan["report"]["errors"] if e["host"] == str(t.FTP_PRIVATE.ip)]


def test_no_canary_and_no_file_name_in_any_output(lan_scan: dict[str, Any]) -> None:
    output = lan_scan["output"]
    assert not [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in output]
    assert not [n for n in _zone_names() if n in output]


def test_the_zones_are_unchanged_and_nothing_was_written(lan_scan: dict[str, Any]) -> None:
    # Then every file and folder keeps its size, mode and mtime
    assert lan_scan["after"] == lan_scan["before"]
    # and the server saw only read-only commands (its own protocol log)
    verbs = {
        line.split('", "', 1)[1].split()[0].strip('"')
        for line in lan_scan["log"].splitlines()
        if "FTP command" in line
    }
    assert verbs, "the vsftpd protocol log is empty"
    assert verbs <= {
        "USER",
        "PASS",
        "FEAT",
        "SYST",
        "CWD",
        "TYPE",
        "EPSV",
        "PASV",
        "LIST",
        "RETR",
        "QUIT",
    }


def test_the_box_forward_makes_it_critical_from_the_internet(lab: Lab, tmp_path: Path) -> None:
    # Given the box's hand-set forward of 21 (and the passive ports) to ftp
    # When the internet host scans the public address
    report, output = _scan(
        lab, t.INET.name, tmp_path / "inet.json", "--vantage", "internet", str(t.BOX_WAN_IP)
    )
    found = findings_at(report, t.BOX_WAN_IP, t.FTP_PORT)
    # Then imaging and health data are critical internet exposures there
    assert found["exposure.internet-health-data"]["service"] == "ftp"
    assert found["exposure.internet-imaging"]["service"] == "ftp"
    critical = {f["rule"] for f in report["findings"] if f["severity"] == "critical"}
    assert {"exposure.internet-health-data", "exposure.internet-imaging"} <= critical
    assert not [s for s in t.CANARY_STRINGS if s in output]
    assert not [n for n in _zone_names() if n in output]


def test_only_the_conventional_anonymous_login_was_tried(lan_scan: dict[str, Any]) -> None:
    # Then each server saw one user name, "anonymous" (RFC 1635): no guessing
    for log in (lan_scan["log"], lan_scan["private_log"]):
        users = [
            line.split('"USER ', 1)[1].rstrip('"')
            for line in log.splitlines()
            if 'FTP command: Client "' in line and '"USER ' in line
        ]
        assert users and set(users) == {"anonymous"}, users
