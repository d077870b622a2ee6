"""In the lab: the SYN scan (root) and the connect scan (any user)
find the same open ports, and those are what the kernel says listens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exposcan.catalogue import default_catalogue
from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.lab.conftest import run_exposcan
from tests.lab.lab_state import LAN_HOSTS, listening_ports

pytestmark = pytest.mark.lab


def scan(lab: Lab, where: str, out: Path, *args: str) -> dict[str, Any]:
    proc = run_exposcan(
        lab, where, ["scan", "-q", "--no-probes", "-o", str(out), *args], timeout=120
    )
    assert proc.returncode == 0, proc.stderr  # a port scan makes no finding
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def open_ports(report: dict[str, Any]) -> dict[str, set[int]]:
    return {h["address"]: {s["port"] for s in h["services"]} for h in report["hosts"]}


@pytest.mark.parametrize("scan_type", ["syn", "connect"])
def test_the_lan_scan_finds_what_listens(lab: Lab, tmp_path: Path, scan_type: str) -> None:
    # Given the practice ports of every LAN host, scanned with one technique
    report = scan(lab, "ws", tmp_path / "lan.json", "--scan-type", scan_type, str(t.LAN_NET))
    found = open_ports(report)
    default = set(default_catalogue().default_ports())
    for host in LAN_HOSTS:
        # Then each host was found by ARP and its open ports are the kernel's
        entry = next(h for h in report["hosts"] if h["address"] == str(host.ip))
        assert entry["discovered_by"] == "arp", host.name
        assert found[str(host.ip)] == listening_ports(lab, host.name) & default, host.name


def test_syn_and_connect_agree_on_every_port_of_the_pacs(lab: Lab, tmp_path: Path) -> None:
    # Given all 65,535 ports of the PACS, once with each technique
    syn = scan(
        lab,
        "ws",
        tmp_path / "syn.json",
        "--scan-type",
        "syn",
        "--no-discovery",
        "-p",
        "-",
        str(t.PACS.ip),
    )
    connect = scan(
        lab,
        "ws",
        tmp_path / "connect.json",
        "--scan-type",
        "connect",
        "--no-discovery",
        "-p",
        "-",
        str(t.PACS.ip),
    )
    # Then both found exactly what listens there
    truth = listening_ports(lab, t.PACS.name)
    assert open_ports(syn)[str(t.PACS.ip)] == truth
    assert open_ports(connect)[str(t.PACS.ip)] == truth


def test_syn_through_the_box_sees_the_forwards(lab: Lab, tmp_path: Path) -> None:
    # Given every port of the box's public address, from the internet side
    args = ("--vantage", "internet", "-p", "-", str(t.BOX_WAN_IP))
    syn = scan(lab, "inet", tmp_path / "syn.json", "--scan-type", "syn", *args)
    connect = scan(lab, "inet", tmp_path / "connect.json", "--scan-type", "connect", *args)
    # Then the SYN scan (answers rewritten by the box's NAT) finds the same
    # forwarded ports as the connect scan, and some there are
    assert open_ports(syn) == open_ports(connect)
    assert open_ports(syn)[str(t.BOX_WAN_IP)]


def _without_times(report: dict[str, Any]) -> dict[str, Any]:
    scan = {k: v for k, v in report["scan"].items() if k not in ("started", "finished")}
    return {**report, "scan": scan}


def test_the_port_scan_alone_writes_what_the_engine_writes(lab: Lab, tmp_path: Path) -> None:
    # Given the LAN's practice ports, scanned by the port scan alone (-q)
    # and by the engine (-v: its log is the engine's), ARP discovery on
    alone = scan(lab, "ws", tmp_path / "alone.json", "-q", str(t.LAN_NET))
    engine = scan(lab, "ws", tmp_path / "engine.json", "-v", str(t.LAN_NET))
    # Then both reports hold the same hosts, MACs, discovery and ports
    assert _without_times(alone) == _without_times(engine)
    by_arp = [h for h in alone["hosts"] if h["discovered_by"] == "arp"]
    assert len(by_arp) >= len(LAN_HOSTS) and all(h["mac"] for h in by_arp)
    assert sum(len(h["services"]) for h in alone["hosts"]) >= len(LAN_HOSTS)
