"""IPv6, the exposure path that needs no forward.

The lab's box routes 2001:db8:ca:1::/64 to the LAN with router
advertisements and no inbound IPv6 filter, while IPv4 stays NATed; the 2020
PACS (behind an nginx stream relay: Orthanc 1.10.1 is IPv4 only) and the NAS
get global addresses. Every address here is in 2001:db8::/32 or the lab's
IPv4 ranges, inside the lab's namespaces.

Run as root: EXPOSCAN_LAB_NAME=<name> EXPOSCAN_REQUIRE_LAB=1 pytest -s tests/lab/test_ipv6_lab.py
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import REPO, FullScan, run_exposcan

pytestmark = pytest.mark.lab

PACS6 = str(t.global_ipv6(t.PACS))
NAS6 = str(t.global_ipv6(t.NAS))
IMAGING_PORTS = "104,8042,445,139,4242,11112"


def _hosts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["address"]: h for h in report["hosts"]}


def _findings(report: dict[str, Any], rule: str) -> dict[tuple[str, int | None], dict[str, Any]]:
    return {(f["host"], f["port"]): f for f in report["findings"] if f["rule"] == rule}


# --- the LAN scan: neighbour discovery, the join, the IPv6 path -------------------


def test_lan_scan_finds_global_ipv6_addresses_and_joins_them(full_scan: FullScan) -> None:
    # Given the no-target scan from the workstation (the session's full scan)
    report = full_scan.report
    hosts = _hosts(report)
    discovery = re.search(
        r"IPv6 neighbour discovery \((\w+)\): (\d+) neighbours, (\d+) prefixes in ([\d.]+) s",
        full_scan.run.stderr,
    )
    assert discovery is not None, full_scan.run.stderr[-2000:]
    # A figure, not a timed test (STYLE.md): visible with pytest -s.
    print(f"\nIPv6 neighbour discovery from ws ({discovery[1]}): {discovery[4]} s")
    assert discovery[1] == "raw"  # root: echo, solicitation and MACs from frames
    for host in (t.PACS, t.NAS):
        v6 = str(t.global_ipv6(host))
        # Then the device's global IPv6 address is scanned as a host of its
        # own, found by neighbour discovery, with the device's MAC ...
        assert hosts[v6]["discovered_by"] == "ndp", host.name
        assert hosts[v6]["mac"] == t.host_mac(host), host.name
        # ... and joined to its IPv4 host by that MAC (link-local too)
        ipv4 = hosts[str(host.ip)]
        assert ipv4["mac"] == t.host_mac(host)
        assert v6 in ipv4["ipv6"], host.name
        assert any(a.startswith("fe80::") for a in ipv4["ipv6"]), host.name
    # A host without a global address (no SLAAC) is joined by its link-local
    # address only, and no IPv6 address of it is scanned
    web = hosts[str(t.WEB.ip)]
    assert web["ipv6"] and all(a.startswith("fe80::") for a in web["ipv6"])
    assert not [a for a in hosts if ":" in a and hosts[a]["mac"] == t.host_mac(t.WEB)]
    # And the announced prefix is named in the report's notes
    assert any(str(t.LAN6_NET) in note for note in report["scan"]["notes"])


def test_lan_scan_reports_the_ipv6_path_to_imaging(full_scan: FullScan) -> None:
    report = full_scan.report
    paths = _findings(report, "exposure.ipv6-imaging")
    # Then each imaging service on a global address is a high finding, joined
    # to the same device's IPv4 address, with what the box said of its IPv6
    # firewall through UPnP IGD v2 (miniupnpd claims one: not a proof)
    assert set(paths) == {(PACS6, t.PACS_DICOM_PORT), (PACS6, t.PACS_HTTP_PORT), (NAS6, 445)}
    for (host, _port), finding in paths.items():
        assert finding["severity"] == "high"
        owner = t.PACS if host == PACS6 else t.NAS
        assert finding["evidence"]["ipv4_host"] == str(owner.ip)
        assert finding["evidence"]["box_firewall"].startswith(("on", "off", "unknown"))
    assert paths[(PACS6, t.PACS_DICOM_PORT)]["evidence"]["service"] == "dicom"
    assert paths[(PACS6, t.PACS_HTTP_PORT)]["evidence"]["product"] == "Orthanc"
    # and no IPv4 address, nor a host without a global address, has one
    assert all(":" in host for host, _ in paths)
    # and the LAN findings hold over IPv6 as over IPv4
    assert (PACS6, t.PACS_DICOM_PORT) in _findings(report, "dicom.query-open")
    assert (PACS6, t.PACS_HTTP_PORT) in _findings(report, "http.pacs-unauthenticated")
    # and the box's IPv6 firewall was read (GetFirewallStatus), the pinholes not
    notes = " ".join(report["scan"]["notes"])
    assert "WANIPv6FirewallControl" in notes and "cannot be listed" in notes


# --- the view from the internet ------------------------------------------------------


@pytest.fixture(scope="module")
def inet_pacs6(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Given the PACS's global IPv6 address, from the lab's internet host
    out = tmp_path_factory.mktemp("ipv6-inet") / "pacs6.json"
    # When the internet view runs on it (every TCP port, SYN over IPv6)
    proc = run_exposcan(
        lab, t.INET.name, ["scan", "--vantage", "internet", "-o", str(out), PACS6], timeout=115
    )
    # Then it exits 1: critical findings
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = assert_valid_report(out.read_text())
    text = proc.stdout + proc.stderr + out.read_text()
    leaked = [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in text]
    assert leaked == []
    return report


def test_internet_view_on_the_pacs_ipv6_address_is_critical(inet_pacs6: dict[str, Any]) -> None:
    exposed = _findings(inet_pacs6, "exposure.internet-imaging")
    # Then both imaging ports of the PACS are reachable from the internet
    # with no forward at all, and the report's host is the IPv6 address
    assert set(exposed) == {(PACS6, t.PACS_DICOM_PORT), (PACS6, t.PACS_HTTP_PORT)}
    assert all(f["severity"] == "critical" for f in exposed.values())
    assert [h["address"] for h in inet_pacs6["hosts"]] == [PACS6]
    # and the proofs hold over IPv6 from outside too
    assert (PACS6, t.PACS_DICOM_PORT) in _findings(inet_pacs6, "dicom.query-open")
    assert (PACS6, t.PACS_HTTP_PORT) in _findings(inet_pacs6, "http.pacs-unauthenticated")


@pytest.fixture
def ipv6_filter(lab: Lab) -> Iterator[None]:
    lab.set_ipv6_filter(True)
    try:
        yield
    finally:
        lab.set_ipv6_filter(False)


@pytest.mark.parametrize("filtered", [False, True], ids=["open-box", "filtering-box"])
def test_outside_view_proves_the_ipv6_path_open_or_closed(
    lab: Lab, tmp_path: Path, request: pytest.FixtureRequest, filtered: bool
) -> None:
    # Given the box with its IPv6 firewall off (the default), or on
    # (ip6tables in the box: inbound dropped, replies and ICMPv6 let in)
    if filtered:
        request.getfixturevalue("ipv6_filter")
    out = tmp_path / "inet6.json"
    # When the internet host scans the PACS's and the NAS's IPv6 addresses
    # on the imaging ports
    proc = run_exposcan(
        lab,
        t.INET.name,
        ["scan", "--vantage", "internet", "-p", IMAGING_PORTS, "-o", str(out), PACS6, NAS6],
        timeout=115,
    )
    report = assert_valid_report(out.read_text())
    exposed = _findings(report, "exposure.internet-imaging")
    if filtered:
        # Then nothing answers: the outside view proves the path closed (exit 0)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert exposed == {} and report["findings"] == []
        assert all(not h["services"] for h in report["hosts"])
    else:
        # Then the PACS and the NAS share are reached from the internet (exit 1)
        assert proc.returncode == 1, proc.stderr[-3000:]
        assert {(PACS6, t.PACS_DICOM_PORT), (PACS6, t.PACS_HTTP_PORT), (NAS6, 445)} <= set(exposed)
    # And IPv4 stays NATed either way: the box's public IPv4 address forwards
    # only what its forwards say (the IPv6 filter touches IPv4 in no way)
    assert all(":" in h["address"] for h in report["hosts"])


def test_a_lan_ipv6_prefix_is_refused_as_a_target(lab: Lab) -> None:
    # Given the LAN's /64 typed as a target
    proc = run_exposcan(lab, t.WS.name, ["scan", str(t.LAN6_NET)], timeout=30)
    # Then exposcan refuses it in one line and scans nothing (exit 2)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot be swept" in lines[0], proc.stderr


def test_without_raw_sockets_discovery_says_what_it_could_not_do(lab: Lab) -> None:
    # Given neighbour discovery on the workstation without raw sockets (the
    # unprivileged path: ping sockets, else the kernel's neighbour cache)
    code = (
        "import json; from exposcan.net import ndp; r = ndp.discover(privileged=False); "
        "print(json.dumps({'method': r.method, 'notes': r.notes, 'seconds': r.seconds, "
        "'prefixes': [(p.network, p.source) for p in r.prefixes], "
        "'found': [n.address for n in r.neighbours]}))"
    )
    proc = lab.run(t.WS.name, [sys.executable, "-c", code], env=_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    # Then it names what it could not do, still within its bound ...
    assert result["method"] in ("ping", "cache", "none")
    assert any("without root no router solicitation" in n for n in result["notes"])
    print(f"\nIPv6 discovery without raw sockets ({result['method']}): {result['seconds']:.2f} s")
    # ... and still knows the LAN's prefix, from the workstation's own address
    assert [str(t.LAN6_NET), "own-address"] in result["prefixes"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_a_name_with_a_and_aaaa_records_is_scanned_on_both(lab: Lab, tmp_path: Path) -> None:
    # Given the practice's public name: A = the box, AAAA = the PACS itself
    out = tmp_path / "name.json"
    # When the internet host scans the name on the PACS's two ports
    proc = run_exposcan(
        lab,
        t.INET.name,
        ["scan", "--vantage", "internet", "-p", "104,8042", "-o", str(out), t.PUBLIC_NAME],
        timeout=115,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = assert_valid_report(out.read_text())
    # Then both addresses were scanned, and imaging is reached through each:
    # the box's forwards over IPv4, the PACS itself over IPv6
    exposed = set(_findings(report, "exposure.internet-imaging"))
    for address in (str(t.BOX_WAN_IP), PACS6):
        assert {(address, t.PACS_DICOM_PORT), (address, t.PACS_HTTP_PORT)} <= exposed
    assert report["scan"]["targets"] == [t.PUBLIC_NAME]
