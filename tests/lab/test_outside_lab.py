"""The outside view from inside: a no-target LAN scan from the
workstation with --outside asks the lab's reflector (exposcan reflector
serve on the internet host, self-signed CA) to scan the practice back, and
answers the first question from what the internet saw.

Run as root: EXPOSCAN_LAB_NAME=<name> EXPOSCAN_REQUIRE_LAB=1 pytest -s tests/lab/test_outside_lab.py
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from exposcan_lab.lab import LabReflector
from tests.lab.conftest import run_exposcan

pytestmark = pytest.mark.lab

PUBLIC = str(t.BOX_WAN_IP)
TOKEN_FILE_ENV = "EXPOSCAN_OUTSIDE_TOKEN_FILE"


@pytest.fixture(scope="module")
def reflector(lab: Lab) -> LabReflector:
    # Given the reflector on the lab internet, trusted through its own CA
    return lab.start_reflector()


def _outside_scan(
    lab: Lab, reflector: LabReflector, work: Path, name: str
) -> tuple[int, str, dict[str, Any], str]:
    out, html = work / f"{name}.json", work / f"{name}.html"
    # The token from a file named by the environment, never on the command line.
    # The practice's own public address as its user knows it: the NAT loopback
    # check goes only to an address two witnesses agree on, and the lab box's
    # miniupnpd will not disclose a documentation-range WAN address
    # (GetExternalIPAddress answers nothing), so this is the second witness.
    args = [
        "scan",
        "--outside",
        reflector.url,
        "--outside-ca",
        str(reflector.ca_file),
        "--outside-public",
        PUBLIC,
        "--db",
        str(work / f"{name}.sqlite3"),
        "-o",
        str(out),
        "-o",
        str(html),
    ]
    proc = _run_with_token(lab, reflector, args)
    report = json.loads(out.read_text()) if out.exists() else {}
    # One space between words: the terminal wraps long sentences.
    text = " ".join((proc.stdout + proc.stderr).split())
    everything = text + (out.read_text() if out.exists() else "")
    everything += html.read_text() if html.exists() else ""
    return proc.returncode, text, report, everything


def _run_with_token(lab: Lab, reflector: LabReflector, args: list[str]) -> Any:
    # run_exposcan passes this process's environment on to the CLI.
    before = os.environ.get(TOKEN_FILE_ENV)
    os.environ[TOKEN_FILE_ENV] = str(reflector.token_file)
    try:
        return run_exposcan(lab, t.WS.name, args, timeout=300)
    finally:
        if before is None:
            del os.environ[TOKEN_FILE_ENV]
        else:
            os.environ[TOKEN_FILE_ENV] = before


@pytest.fixture(scope="module")
def outside_scan(
    lab: Lab, reflector: LabReflector, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, str, dict[str, Any], str]:
    work = tmp_path_factory.mktemp("outside")
    started = time.monotonic()
    result = _outside_scan(lab, reflector, work, "with-forwards")
    print(f"\nno-target LAN scan with --outside: {time.monotonic() - started:.1f} s")
    return result


def test_the_lan_scan_answers_yes_seen_from_the_internet(
    outside_scan: tuple[int, str, dict[str, Any], str],
) -> None:
    code, text, report, _ = outside_scan
    # Then it exits 1 (critical findings) and says Yes, seen from the internet
    assert code == 1, text[-3000:]
    assert "Can patient images be reached from the internet? Yes" in text, text[-3000:]
    assert "Seen from the internet on " in text
    outside = report["outside"]
    assert outside["status"] == "done", outside
    assert outside["ports_tried"] == 65535
    assert outside["public"]["address"] == PUBLIC
    assert outside["public"]["reflector_source"] == PUBLIC
    # and the reflector's source agreed with the practice's own setting:
    # no note says the NAT loopback check was left out
    codes = [n["code"] for n in report["scan"]["notices"]]
    assert not [c for c in codes if c.startswith("note.outside.loopback-")], codes
    assert report["scan"]["vantage"] == "lan"


def test_every_forward_is_seen_from_the_internet_and_joined_to_its_lan_service(
    outside_scan: tuple[int, str, dict[str, Any], str],
) -> None:
    _, text, report, _ = outside_scan
    seen = {
        int(p["public"].rsplit(":", 1)[1]): p
        for p in report["outside"]["paths"]
        if p["seen"] == "internet"
    }
    # Then every forward of the box (UPnP-listed and hand-set) answered the
    # reflector with imaging, and is joined to the LAN service behind it by
    # what both answered, not by port number; nothing else serves imaging
    imaging = {port for port, p in seen.items() if p["imaging"]}
    assert imaging == {f.wan_port for f in t.FORWARDS}
    # (an FTP passive port may be listening at that moment: nothing else)
    low, high = t.FTP_PASSIVE_PORTS
    assert all(low <= port <= high for port in set(seen) - imaging), sorted(seen)
    # (the storescp of the twins answers as the modality's does: see
    # test_two_servers_of_one_toolkit_are_joined_by_proof_only)
    for f in t.FORWARDS:
        path = seen[f.wan_port]
        assert path["imaging"] is not None, path
        if f.wan_port == t.TWIN_SCP_PUBLIC_PORT:
            continue
        assert path["lan"] == f"{f.lan_ip}:{f.lan_port}", path
        assert path["joined_by"] and path["joined_by"] != ["upnp-mapping"], path
        assert path["via_upnp"] is f.via_igd, path
    # and the hand-set DICOM forward reads as in the issue
    manual = seen[t.MANUAL_PACS_PORT]
    assert {"ae_title", "implementation_class_uid"} <= set(manual["joined_by"])
    assert (manual["product"], manual["version"]) == ("Orthanc", "1.10.1")
    door = f"{PUBLIC}:{t.MANUAL_PACS_PORT}"
    assert f"{door} \u2192 {t.PACS.ip}:{t.PACS_DICOM_PORT} (dicom Orthanc 1.10.1" in text
    # and the reflector's proof joined the LAN report as findings of their own
    proven = [f for f in report["findings"] if f["evidence"].get("seen_from") == "internet"]
    assert {f["port"] for f in proven} == {f.wan_port for f in t.FORWARDS}
    assert all(f["host"] == PUBLIC for f in proven)


def test_two_servers_of_one_toolkit_are_joined_by_proof_only(
    outside_scan: tuple[int, str, dict[str, Any], str],
) -> None:
    _, text, report, _ = outside_scan
    seen = {
        int(p["public"].rsplit(":", 1)[1]): p
        for p in report["outside"]["paths"]
        if p["seen"] == "internet"
    }
    orthanc, scp = seen[t.TWIN_ORTHANC_PUBLIC_PORT], seen[t.TWIN_SCP_PUBLIC_PORT]
    behind_scp = f"{t.TWIN_SCP.ip}:{t.TWIN_DICOM_PORT}"
    # Given a Debian Orthanc and a dcmtk storescp (one implementation UID and
    # version name) behind two hand-set forwards, the storescp accepting any
    # called AE, the PACS's title (from the PACS's web API on the same
    # public address) too
    # Then the Orthanc's door is joined to it by the AE title it alone accepts
    assert orthanc["lan"] == f"{t.TWIN_ORTHANC.ip}:{t.TWIN_DICOM_PORT}", orthanc
    assert "ae_title" in orthanc["joined_by"], orthanc
    # and the storescp's door is never joined to another server: to its own
    # storescp, or not joined with every storescp that answers alike
    assert scp["lan"] in (behind_scp, None), scp
    assert "ae_title" not in scp["joined_by"], scp
    if scp["lan"] is None:
        assert behind_scp in scp["candidates"] and len(scp["candidates"]) >= 2, scp
        door = f"{PUBLIC}:{t.TWIN_SCP_PUBLIC_PORT}"
        count = len(scp["candidates"])
        assert f"{door} \u2192 not joined ({count} candidates: " in text, text[-3000:]
    # and neither is named after the PACS's web API
    assert scp["product"] != "Orthanc", scp


def test_nat_loopback_is_labelled_indicative_on_the_looped_back_ports_only(
    outside_scan: tuple[int, str, dict[str, Any], str],
) -> None:
    _, text, report, _ = outside_scan
    looped = {
        int(p["public"].rsplit(":", 1)[1]): p
        for p in report["outside"]["paths"]
        if p["seen"] == "loopback"
    }
    # Then what answered from inside on the public address is the box's NAT
    # loopback, exactly on the forwards the box loops back, joined as well
    assert set(looped) == {f.wan_port for f in t.LOOPBACK_FORWARDS}
    for f in t.LOOPBACK_FORWARDS:
        assert looped[f.wan_port]["lan"] == f"{f.lan_ip}:{f.lan_port}"
    assert "through the box's NAT loopback (indicative)" in text
    assert report["outside"]["loopback_ports_tried"] > 0


def test_no_patient_data_nor_token_in_any_output(
    lab: Lab,
    reflector: LabReflector,
    outside_scan: tuple[int, str, dict[str, Any], str],
) -> None:
    _, _, _, everything = outside_scan
    token = reflector.token_file.read_text().strip()
    log = (lab.host_dir(t.INET.name) / f"{lab.REFLECTOR}.log").read_text()
    # Then no canary patient string, no lab password and not the token, in the
    # scan's outputs and the reflector's log
    for secret in (*t.CANARY_STRINGS, *t.SECRET_STRINGS, token):
        assert secret not in everything
        assert secret not in log


def _prerouting(lab: Lab) -> list[list[str]]:
    """The box's nat PREROUTING rules, as ``iptables -S`` prints them."""
    p = lab.run(t.BOX.name, ["iptables-legacy", "-t", "nat", "-S", "PREROUTING"])
    assert p.returncode == 0, p.stderr
    return [line.split() for line in p.stdout.splitlines() if line.startswith("-A ")]


def _a_forward(spec: list[str]) -> bool:
    # The lab's DNAT rules, and the jump to the chain where miniupnpd keeps its own
    return "DNAT" in spec or spec[-2:] == ["-j", "MINIUPNPD"]


def _nat(lab: Lab, *argv: str) -> None:
    p = lab.run(t.BOX.name, ["iptables-legacy", "-t", "nat", *argv])
    assert p.returncode == 0, p.stderr


@pytest.fixture
def no_forwards(lab: Lab) -> Iterator[None]:
    # Given the box with every forward removed: the lab's DNAT rules (hand-set,
    # UPnP and loopback alike) and the jump to miniupnpd's chain (kept whole:
    # miniupnpd lists its mappings from it), put back afterwards where they were
    saved = _prerouting(lab)
    removed = [(i, spec) for i, spec in enumerate(saved, 1) if _a_forward(spec)]
    assert len(removed) > len(t.FORWARDS) + len(t.LOOPBACK_FORWARDS)
    for _, spec in removed:
        _nat(lab, "-D", *spec[1:])
    try:
        assert not any(_a_forward(spec) for spec in _prerouting(lab))
        yield
    finally:
        for position, spec in removed:
            _nat(lab, "-I", "PREROUTING", str(position), *spec[2:])
        assert _prerouting(lab) == saved


def test_without_forwards_the_answer_is_no_with_the_ports_tried(
    lab: Lab,
    reflector: LabReflector,
    outside_scan: tuple[int, str, dict[str, Any], str],
    no_forwards: None,
    tmp_path: Path,
) -> None:
    # When the same scan runs again
    code, text, report, _ = _outside_scan(lab, reflector, tmp_path, "no-forwards")
    # Then the first answer is No, with the number of ports the reflector tried
    assert code == 1, text[-3000:]  # the LAN's own findings (open PACS, shares...)
    assert "Can patient images be reached from the internet? No" in text, text[-3000:]
    assert "nothing answered on the 65535 ports tried" in text
    outside = report["outside"]
    assert outside["status"] == "done" and outside["ports_tried"] == 65535
    # and nothing was seen from outside, through the reflector or the NAT loopback
    assert outside["paths"] == []
    assert not [f for f in report["findings"] if f["evidence"].get("seen_from") == "internet"]


def test_a_refused_token_is_said_and_the_lan_scan_still_reports(
    lab: Lab, reflector: LabReflector, tmp_path: Path
) -> None:
    # Given a token the reflector does not know
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-lab-token-" + "x" * 20 + "\n")
    wrong.chmod(0o600)
    bad = LabReflector(reflector.url, reflector.ca_file, wrong)
    # When the same scan runs with it
    code, text, report, everything = _outside_scan(lab, bad, tmp_path, "bad-token")
    # Then the LAN scan completes (its own findings: exit 1), the outside view is
    # reported failed with the reflector's reason, and the first answer falls
    # back on what the box lists (UPnP) without claiming an outside view
    assert code == 1, text[-3000:]
    assert "the outside view failed: the token was refused" in text
    outside = report["outside"]
    assert outside["status"] == "failed" and "token was refused" in outside["error"]
    assert outside["paths"] == [] or all(p["seen"] == "loopback" for p in outside["paths"])
    assert "Seen from the internet on" not in text
    assert "not-the-lab-token" not in everything


def test_over_ipv6_the_request_names_the_lans_global_addresses_and_they_are_joined(
    lab: Lab, reflector: LabReflector, tmp_path: Path
) -> None:
    # Given the reflector reached over IPv6 (its certificate pinned), and a
    # LAN whose PACS and NAS have global IPv6 addresses (no inbound filter)
    out = tmp_path / "v6.json"
    args = ["scan", "--outside", reflector.url6, "--outside-pin", reflector.pin_sha256]
    args += ["--db", str(tmp_path / "v6.sqlite3"), "-o", str(out)]
    # When the no-target scan runs
    proc = _run_with_token(lab, reflector, args)
    text = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1, text[-3000:]
    outside = json.loads(out.read_text())["outside"]
    # Then the request named the LAN's global IPv6 addresses it found
    pacs6, nas6 = (str(t.global_ipv6(h)) for h in (t.PACS, t.NAS))
    assert outside["status"] == "done" and {pacs6, nas6} <= set(outside["ipv6_named"])
    # and each IPv6 door with imaging is joined to its device's IPv4 address (one
    # device, not two), the NAS by its SMB server GUID; none is a UPnP forward
    doors = {p["public"]: p for p in outside["paths"] if p["imaging"]}
    web = doors[f"[{pacs6}]:{t.PACS_HTTP_PORT}"]
    assert web["lan"] == f"{t.PACS.ip}:{t.PACS_HTTP_PORT}" and "DicomAet" in web["joined_by"]
    # (the DICOM door joins on what the LAN's own DICOM probe learned: under the
    # reflector's load at the same moment, that probe has been seen to miss the AE)
    hosts = json.loads(out.read_text())["hosts"]
    lan_dicom = next(
        s
        for h in hosts
        if h["address"] == str(t.PACS.ip)
        for s in h["services"]
        if s["port"] == t.PACS_DICOM_PORT
    )
    if lan_dicom["details"].get("ae_title"):
        dicom = doors[f"[{pacs6}]:{t.PACS_DICOM_PORT}"]
        assert dicom["lan"] == f"{t.PACS.ip}:{t.PACS_DICOM_PORT}", dicom
    share = doors[f"[{nas6}]:445"]
    assert share["lan"] == f"{t.NAS.ip}:445" and "smb_server_guid" in share["joined_by"]
    assert not any(p["via_upnp"] for p in outside["paths"])
    assert "Seen from the internet on " in text
    # and, the reflector having seen an IPv6 source only, the report says the
    # box's public IPv4 address went unchecked, and the view is not complete
    # (no "No" can come of it)
    assert outside["complete"] is False
    assert "The reflector was reached over IPv6 only" in text


#: The reflector's name in the workstation's /etc/hosts, with an A and an
#: AAAA record (".test" is reserved, RFC 6761: no DNS query leaves the lab).
REFLECTOR_NAME = "reflector.exposcan-lab.test"


@contextlib.contextmanager
def _ws_hosts_file(lab: Lab, text: str) -> Iterator[None]:
    """`ip netns exec` bind-mounts /etc/netns/NS/hosts over /etc/hosts."""
    etc = Path("/etc/netns") / lab.netns(t.WS.name)
    hosts = etc / "hosts"
    created = not etc.exists()
    before = hosts.read_text() if hosts.exists() else None
    etc.mkdir(parents=True, exist_ok=True)
    hosts.write_text(text)
    try:
        yield
    finally:
        if before is not None:
            hosts.write_text(before)
        else:
            hosts.unlink()
        if created:
            etc.rmdir()


def test_a_reflector_named_with_a_and_aaaa_records_checks_ipv4_and_ipv6(
    lab: Lab, reflector: LabReflector, tmp_path: Path
) -> None:
    # Given the reflector named by a host name with an A and an AAAA record
    # (its certificate pinned), and a practice with IPv4 forwards and PACS
    # answering on their global IPv6 addresses
    port = reflector.url.rstrip("/").rsplit(":", 1)[1]
    hosts = f"127.0.0.1 localhost\n{t.INET_IP} {REFLECTOR_NAME}\n{t.INET_IP6} {REFLECTOR_NAME}\n"
    out = tmp_path / "named.json"
    args = ["scan", "--outside", f"https://{REFLECTOR_NAME}:{port}/"]
    args += ["--outside-pin", reflector.pin_sha256, "--db", str(tmp_path / "n.sqlite3")]
    args += ["-o", str(out)]
    # When the no-target scan runs
    with _ws_hosts_file(lab, hosts):
        proc = _run_with_token(lab, reflector, args)
    text = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1, text[-3000:]
    outside = json.loads(out.read_text())["outside"]
    # Then the reflector saw both addresses: the box's public IPv4 address
    # with its hand-set forward, and the PACS's global IPv6 address (with a
    # request over the preferred family alone, one of them went unchecked)
    assert outside["status"] == "done", outside
    assert outside["public"]["reflector_source"] == PUBLIC
    doors = {p["public"] for p in outside["paths"] if p["seen"] == "internet" and p["imaging"]}
    pacs6 = str(t.global_ipv6(t.PACS))
    assert f"{PUBLIC}:{t.MANUAL_PACS_PORT}" in doors, doors
    assert f"[{pacs6}]:{t.PACS_HTTP_PORT}" in doors, doors
    assert pacs6 in outside["ipv6_named"]
    assert outside["complete"] is True and "over IPv6 only" not in text
