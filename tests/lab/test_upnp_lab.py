"""The internet box from the practice's workstation: the real CLI in ``ws``
finds miniupnpd, lists its forwards and joins them to the real Orthanc.

Run as root: EXPOSCAN_TEST_LAB=<name> pytest tests/lab/test_upnp_lab.py
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from exposcan_lab import Lab, netns
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import FullScan, run_exposcan

pytestmark = pytest.mark.lab

BOX = str(t.BOX_LAN_IP)
PACS = str(t.PACS.ip)


def _scan(lab: Lab, out: Path, *args: str) -> tuple[dict[str, Any], str]:
    proc = run_exposcan(lab, t.WS.name, ["scan", "-o", str(out), *args], timeout=110)
    # Exit 1: findings at or above the default --fail-on (high).
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = assert_valid_report(out.read_text())
    return report, proc.stdout + proc.stderr + out.read_text()


def _upnp(report: dict[str, Any], rule: str) -> dict[int, dict[str, Any]]:
    return {f["port"]: f for f in report["findings"] if f["rule"] == rule and f["host"] == BOX}


@pytest.fixture(scope="module")
def lan_scan(full_scan: FullScan) -> tuple[dict[str, Any], str]:
    # Given the lab practice, scanned from the workstation with no target
    # (the networks ws is on, inside the ws namespace only): the session's
    # one full lab scan (conftest)
    assert full_scan.run.returncode == 1  # findings at or above --fail-on high
    run = full_scan.run
    return full_scan.report, run.stdout + run.stderr + full_scan.outputs["json"].read_text()


def test_forwards_to_the_pacs_are_critical(lan_scan: tuple[dict[str, Any], str]) -> None:
    report, _ = lan_scan
    # When the report's UPnP findings are read
    critical = _upnp(report, "upnp.mapping-imaging")
    # Then exactly the two IGD forwards to the PACS are critical, each with
    # the internal target and the kind of imaging service behind it
    expected = {f.wan_port: f for f in t.IGD_FORWARDS}
    assert set(critical) == set(expected) == {104, 8042}
    for port, finding in critical.items():
        ev = finding["evidence"]
        assert finding["severity"] == "critical"
        assert ev["internal_host"] == str(expected[port].lan_ip) == PACS
        assert ev["internal_port"] == expected[port].lan_port
        assert ev["transport"] == "TCP"
        assert ev["description"] == expected[port].description
    assert critical[104]["evidence"]["imaging_service"] == "dicom"
    assert critical[8042]["evidence"]["imaging_service"] == "pacs-web"
    # and the hand-set forward (47000 -> web) is invisible to UPnP
    assert not any(f["host"] == BOX and f["port"] == 47000 for f in report["findings"])
    assert not _upnp(report, "upnp.mapping")


def test_box_service_describes_the_igd(lan_scan: tuple[dict[str, Any], str]) -> None:
    report, _ = lan_scan
    # When the box's host entry is read
    box = next(h for h in report["hosts"] if h["address"] == BOX)
    igd = next(s for s in box["services"] if s["port"] == t.IGD_HTTP_PORT)
    # Then its IGD port is named upnp, with miniupnpd.conf's device strings,
    # found by SSDP, and no public address (miniupnpd withholds a test-range one)
    assert igd["protocol"] == "upnp"
    assert igd["product"] == "Debian ExposcanLabBox"
    assert igd["details"]["friendly_name"] == "Box Internet du cabinet"
    assert igd["details"]["found_by"] == "ssdp"
    assert igd["details"]["port_mappings"] == len(t.IGD_FORWARDS)
    assert "MiniUPnPd" in igd["details"]["ssdp_server"]
    assert "external_ip" not in igd["details"]
    assert set(_upnp(report, "upnp.igd-enabled")) == {t.IGD_HTTP_PORT}


def test_notes_say_what_upnp_cannot_see(lan_scan: tuple[dict[str, Any], str]) -> None:
    report, output = lan_scan
    notes = report["scan"]["notes"]
    # Then the report warns about hand-set forwards, and gives the outside
    # command with a placeholder, since the box did not disclose its address
    assert any("set by hand" in n and "Only a scan from outside" in n for n in notes)
    assert any(
        f"{BOX} did not disclose its public address" in n
        and "exposcan scan --vantage internet <the box's public address>" in n
        for n in notes
    )
    # and the terminal summary shows them too
    assert "set by hand" in output


def test_no_patient_data_or_secret(lan_scan: tuple[dict[str, Any], str]) -> None:
    _, output = lan_scan
    # Then no canary patient string and no lab credential is anywhere in the
    # output or the report
    leaked = [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in output]
    assert not leaked


@pytest.fixture
def ssdp_blocked(lab: Lab) -> Iterator[None]:
    """The workstation's M-SEARCH dropped (multicast filtered, as on some
    Wi-Fi), restored afterwards whatever happens."""
    rule = ["OUTPUT", "-p", "udp", "--dport", "1900", "-j", "DROP"]
    subprocess.run(lab.exec_argv(t.WS.name, ["iptables-legacy", "-I", *rule]), check=True)
    try:
        yield
    finally:
        subprocess.run(lab.exec_argv(t.WS.name, ["iptables-legacy", "-D", *rule]), check=True)


def test_gateway_fallback_and_forward_target_scan(
    lab: Lab, tmp_path: Path, ssdp_blocked: None
) -> None:
    # Given SSDP blocked, and a scan of the box alone (the PACS not a target)
    # When the workstation scans 198.18.0.1, logging at the most verbose
    # level, asked to follow the box's forwards
    report, output = _scan(lab, tmp_path / "box.json", "-vv", "--follow-box", BOX)
    # Then the IGD is found at the gateway's usual address, and the forwards'
    # internal target is scanned and probed because of them
    box = next(h for h in report["hosts"] if h["address"] == BOX)
    igd = next(s for s in box["services"] if s["port"] == t.IGD_HTTP_PORT)
    assert igd["details"]["found_by"] == "gateway"
    pacs = next(h for h in report["hosts"] if h["address"] == PACS)
    assert pacs["discovered_by"] == "upnp"
    assert {s["port"] for s in pacs["services"]} == {104, 8042}
    assert set(_upnp(report, "upnp.mapping-imaging")) == {104, 8042}
    assert not [e for e in report["errors"] if e["probe"] == "upnp"]
    # and even debug logs hold no canary patient string or credential
    assert "DEBUG" in output
    assert not [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in output]


def _scan_any(lab: Lab, out: Path, *args: str) -> dict[str, Any]:
    proc = run_exposcan(
        lab, t.WS.name, ["scan", "-o", str(out), "--fail-on", "never", *args], timeout=110
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return assert_valid_report(out.read_text())


def test_a_one_host_scan_stays_in_scope(lab: Lab, tmp_path: Path) -> None:
    # Given a scan of one named host and port (the modality's DICOM port)
    report = _scan_any(lab, tmp_path / "one.json", str(t.MODALITY.ip), "-p", str(t.MODALITY_PORT))
    # Then no other address is in the report: not the box, not the hosts
    # its forwards lead to
    assert {h["address"] for h in report["hosts"]} <= {str(t.MODALITY.ip)}
    assert {f["host"] for f in report["findings"]} <= {str(t.MODALITY.ip)}
    # and the report says the box was left alone
    assert any("not among the named targets" in n for n in report["scan"]["notes"])


@contextmanager
def _ssdp_searches_from_ws(lab: Lab) -> Iterator[Callable[[], int]]:
    """Count the M-SEARCH datagrams ws sends (to the SSDP group, port 1900)
    with an accounting rule of its own in ws's OUTPUT chain."""
    ns = lab.netns(t.WS.name)
    rule = ["OUTPUT", "-d", "239.255.255.250", "-p", "udp", "--dport", "1900"]
    rule += ["-m", "comment", "--comment", "exposcan-test-ssdp"]
    netns.run_in(ns, ["iptables-legacy", "-I", *rule])

    def count() -> int:
        listing = netns.run_in(ns, ["iptables-legacy", "-L", "OUTPUT", "-v", "-x", "-n"])
        [line] = [x for x in listing.splitlines() if "exposcan-test-ssdp" in x]
        return int(line.split()[0])

    try:
        yield count
    finally:
        netns.run_in(ns, ["iptables-legacy", "-D", *rule])


def test_a_named_host_scan_sends_no_ssdp_search_unless_the_box_is_in_scope(
    lab: Lab, tmp_path: Path
) -> None:
    # Given a scan of one named host (the PACS), without --follow-box
    with _ssdp_searches_from_ws(lab) as searches:
        report = _scan_any(lab, tmp_path / "one.json", PACS, "-p", str(t.PACS_DICOM_PORT))
        sent_named = searches()
        # and the same scan with --follow-box
        followed = _scan_any(
            lab, tmp_path / "follow.json", PACS, "-p", str(t.PACS_DICOM_PORT), "--follow-box"
        )
        sent_follow = searches() - sent_named
    # Then the named scan sent no M-SEARCH (every device on the LAN answers
    # one: the box is out of its scope), and says the gateway was left alone
    assert sent_named == 0
    notes = report["scan"]["notes"]
    assert any(n.startswith(f"{BOX}, the default gateway") for n in notes), notes
    # while with --follow-box the search went out and the box was read
    assert sent_follow > 0
    assert BOX in {f["host"] for f in followed["findings"]}


def test_a_scan_of_the_box_without_follow_box_reads_it_but_scans_no_forward(
    lab: Lab, tmp_path: Path
) -> None:
    # Given a scan of the box alone, without --follow-box
    report = _scan_any(lab, tmp_path / "box-only.json", BOX)
    # Then its forwards are read (it is a target) but the PACS they lead to
    # is not scanned, and the report says so
    assert _upnp(report, "upnp.mapping")
    assert PACS not in {h["address"] for h in report["hosts"] if h["services"]}
    assert any(n.startswith(f"{PACS}: a box forward") for n in report["scan"]["notes"])


def test_nat_pmp_on_the_box_is_a_finding(lan_scan: tuple[dict[str, Any], str]) -> None:
    # Given the box's miniupnpd with enable_natpmp=yes, and the no-target scan
    report, _ = lan_scan
    # Then NAT-PMP is found on the gateway, by the public-address request
    # alone (miniupnpd answers "network failure": its WAN is a test range)
    [natpmp] = [f for f in report["findings"] if f["rule"] == "upnp.natpmp-enabled"]
    assert natpmp["host"] == BOX and natpmp["port"] == 5351
    assert natpmp["evidence"]["transport"] == "UDP" and natpmp["evidence"]["version"] == 0
    assert natpmp["evidence"]["result"] in ("success", "network failure")
    # and nothing was mapped by it: the IGD lists the lab's forwards only
    assert set(_upnp(report, "upnp.mapping-imaging")) == {f.wan_port for f in t.IGD_FORWARDS}
