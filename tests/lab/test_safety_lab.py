"""In the lab: the scanner's own safety.

- No writes: after the session's full scan (conftest ``full_scan``), every
  store of the practice holds exactly what it held before, and what the lab
  put there.
- No leaks: the canary patients live in every store the scan can read (both
  Orthanc, the guest share, the web listing); not one of their names, IDs,
  birth dates, UIDs or file names, nor a lab password, is in any output
  exposcan made: JSON, HTML, terminal, -vv logs, the SQLite history, the
  notifications (webhook and mail, attachments decoded).
- Scope: with no target it stays on the directly connected LAN; --exclude
  holds for the box's follow-up scan of a forward's internal target.
- Reports and the history are readable by their owner only.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import os
import sqlite3
import stat
import zlib
from pathlib import Path
from typing import Any

import pytest

from exposcan.catalogue import default_catalogue
from exposcan.protocols.http.fingerprints import load_fingerprints
from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import FullScan, run_exposcan
from tests.lab.lab_state import PacketCounter

pytestmark = pytest.mark.lab


def _sent_authorizations() -> tuple[str, ...]:
    """The Basic Authorization values --intrusive sends (the catalogue's
    default accounts): no log or output may echo a request's credentials.
    (The accounts themselves are public documentation: the remediation text
    may name Orthanc's default to say it must go.)"""
    return tuple(
        base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
        for fp in default_catalogue().derived(load_fingerprints)
        for cred in fp.default_credentials
    )


NEEDLES = (*t.CANARY_STRINGS, *t.SECRET_STRINGS, *_sent_authorizations())


# --- no writes -----------------------------------------------------------------------


def test_a_full_scan_writes_nothing(full_scan: FullScan) -> None:
    before, after = full_scan.before, full_scan.after
    # Given what every store held before the scan: what the lab put there
    pacs, secure = before["orthanc"][t.PACS.name], before["orthanc"][t.PACS_SECURE.name]
    assert (pacs["CountPatients"], pacs["CountStudies"], pacs["CountInstances"]) == (
        t.EXPECTED_PACS_PATIENTS,
        t.EXPECTED_PACS_STUDIES,
        t.EXPECTED_PACS_INSTANCES,
    )
    assert (secure["CountStudies"], secure["CountInstances"]) == (
        t.EXPECTED_SECURE_STUDIES,
        t.EXPECTED_SECURE_INSTANCES,
    )
    assert set(before["storescp"]) == {"."}  # the modality's folder: empty
    files = {p for p, (kind, *_rest) in before["shares"].items() if kind == "file"}
    assert files == {f"{t.NAS_GUEST_SHARE}/{f.path}" for f in t.NAS_IMAGING_FILES} | {
        f"{t.NAS_PRIVATE_SHARE}/{f.path}" for f in t.NAS_PRIVATE_FILES
    }
    assert before["igd_mappings"] == sorted(
        (f.proto, f.wan_port, str(f.lan_ip), f.lan_port, f.description) for f in t.IGD_FORWARDS
    )
    # Then after a full scan (--intrusive included) each holds exactly that:
    # Orthanc's counts and sizes, the storescp folder, the shares' and the
    # web root's trees (sizes, mtimes, modes), the box's mappings and NAT
    for store in before:
        assert after[store] == before[store], store
    # and the scan did reach those stores (else "nothing written" proves little)
    rules = {(f["rule"], f["host"]) for f in full_scan.report["findings"]}
    assert {
        ("dicom.store-open", str(t.MODALITY.ip)),
        ("dicom.query-open", str(t.PACS.ip)),
        ("smb.guest-share-imaging", str(t.NAS.ip)),
        ("http.listing-imaging", str(t.WEB.ip)),
    } <= rules


# --- no leaks -------------------------------------------------------------------------


def _sqlite_texts(path: Path) -> list[str]:
    """Every cell of every table, as text; blobs also inflated (zlib/gzip) in
    case a report is stored compressed, so that compression cannot hide a leak."""
    out: list[str] = []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, bytes):
                        out.append(cell.decode("utf-8", "replace"))
                        for wbits in (15, 31):
                            with contextlib.suppress(zlib.error):
                                out.append(zlib.decompress(cell, wbits).decode("utf-8", "replace"))
                    elif cell is not None:
                        out.append(str(cell))
    finally:
        con.close()
    return out


def _mail_texts(raw: bytes) -> list[str]:
    """Every header of the mail as sent, and every part decoded (base64
    attachments too). Not the encoded bodies themselves: base64 of a text
    that names Orthanc's default account in its remediation would hold the
    base64 of that account by alignment alone, and what they encode is
    searched, decoded."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = ["\n".join(f"{k}: {v}" for part in msg.walk() for k, v in part.items())]
    for part in msg.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append(payload.decode("utf-8", "replace"))
    return out


def _texts(kind: str, path: Path) -> list[str]:
    if kind == "db":
        # The file's bytes too: a freed page may still hold old cells.
        return [*_sqlite_texts(path), path.read_bytes().decode("utf-8", "replace")]
    if path.suffix == ".eml":
        return _mail_texts(path.read_bytes())
    return [path.read_bytes().decode("utf-8", "replace")]


def test_no_canary_or_secret_in_any_output(full_scan: FullScan) -> None:
    run = full_scan.run
    # Given every output of the full scan, at the most verbose level
    outputs: dict[str, list[str]] = {"stdout": [run.stdout], "stderr (-vv)": [run.stderr]}
    for kind, path in full_scan.outputs.items():
        assert path.exists(), kind
        outputs[kind] = _texts(kind, path)
    print(f"\nno-leak check over: {', '.join(outputs)}")
    assert "DEBUG" in run.stderr and outputs["stdout"][0].strip()
    # When they are searched for the canary patients and the lab's passwords
    leaks = {
        kind: sorted({s for s in NEEDLES for text in texts if s in text})
        for kind, texts in outputs.items()
    }
    # Then none is anywhere
    assert {k: v for k, v in leaks.items() if v} == {}
    # (and the needles would be found: the JSON report does hold the counts
    # that prove the canary stores were read)
    assert any(
        f["rule"] == "dicom.query-open"
        and f["evidence"].get("study_count") == t.EXPECTED_PACS_STUDIES
        for f in full_scan.report["findings"]
    )


def test_outputs_are_readable_by_their_owner_only(full_scan: FullScan) -> None:
    # Given the files exposcan wrote (not those the notification sink wrote)
    written = {k: p for k, p in full_scan.outputs.items() if k in ("json", "html", "db")}
    assert "json" in written
    for kind, path in written.items():
        # Then each is 0600: a report is personal-data-adjacent (docs/imaging-exposure.md)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, kind
    for side in written["db"].parent.glob(written["db"].name + "-*") if "db" in written else []:
        assert stat.S_IMODE(os.stat(side).st_mode) & 0o077 == 0, side.name


# --- scope ----------------------------------------------------------------------------


def test_auto_detection_stays_on_the_connected_lan(full_scan: FullScan) -> None:
    report = full_scan.report
    # Given the workstation's one network (198.18.0.0/24, gateway .1)
    assert report["scan"]["targets"] == [str(t.LAN_NET)]
    # Then every host and every error of the report is on it, or on the
    # IPv6 /64 the box announces on it (neighbour discovery, no sweep) ...
    from ipaddress import ip_address

    def on_lan(address: str) -> bool:
        ip = ip_address(address)
        return ip in (t.LAN_NET if ip.version == 4 else t.LAN6_NET)

    for host in report["hosts"]:
        assert on_lan(host["address"]), host["address"]
    for error in report["errors"]:
        assert error["host"] == "*" or on_lan(error["host"]), error
    # ... and the internet side of the box saw nothing from the scan
    assert full_scan.inet_packets == 0


def test_exclude_holds_for_the_box_follow_up(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "box.json"
    hostile_log = lab.host_dir(t.HOSTILE.name) / "hostile.log"
    fetched_before = hostile_log.read_text().count("description requested")
    # Given the box alone as target, the PACS excluded, although the box's
    # IGD lists two forwards to it, and the hostile host excluded, although
    # it answers the scan's SSDP search; TCP from the workstation to the PACS
    # counted
    with PacketCounter(lab, t.PACS.name, ["-p", "tcp", "-s", str(t.WS.ip)]) as to_pacs:
        proc = run_exposcan(
            lab,
            t.WS.name,
            [
                "scan",
                str(t.BOX_LAN_IP),
                "--exclude",
                str(t.PACS.ip),
                "--exclude",
                str(t.HOSTILE.ip),
                "-o",
                str(out),
            ],
            timeout=120,
        )
        during_scan = to_pacs.packets()
        # (the counter counts: one connection from the workstation shows)
        lab.run(
            t.WS.name,
            [
                "python3",
                "-c",
                "import socket; socket.create_connection("
                f"('{t.PACS.ip}', {t.PACS_HTTP_PORT}), 3).close()",
            ],
            timeout=10,
        )
        assert to_pacs.packets() > during_scan
    # (exit 0: the PACS excluded, its forwards are plain upnp.mapping (info)
    # and the IGD low; nothing reaches the default --fail-on high)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report: dict[str, Any] = assert_valid_report(out.read_text())
    # Then the forwards are listed, the PACS is neither scanned nor probed,
    # and the report says why
    mappings = [f for f in report["findings"] if f["rule"].startswith("upnp.mapping")]
    assert {f["evidence"]["internal_host"] for f in mappings} == {str(t.PACS.ip)}
    assert str(t.PACS.ip) not in {h["address"] for h in report["hosts"]}
    assert not [e for e in report["errors"] if e["host"] == str(t.PACS.ip)]
    assert any(f"{t.PACS.ip} is excluded" in n for n in report["scan"]["notes"])
    assert during_scan == 0
    # and the excluded SSDP responder's description was not even fetched
    assert not [e for e in report["errors"] if e["host"] == str(t.HOSTILE.ip)]
    assert hostile_log.read_text().count("description requested") == fetched_before
