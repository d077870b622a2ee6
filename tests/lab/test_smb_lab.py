"""The SMB probe against the lab's real Samba 4.17 (nas, 198.18.0.20),
through the real CLI run on the workstation at -vv."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path, PurePosixPath

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import run_exposcan
from tests.support.lab_scan import LabScan

pytestmark = pytest.mark.lab

NAS = str(t.NAS.ip)


def snapshot(root: Path) -> list[tuple[str, int, int]]:
    """Every file and folder under ``root`` with its mtime and size."""
    out = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            stat = path.stat()
            out.append((str(path.relative_to(root)), stat.st_mtime_ns, stat.st_size))
    return sorted(out)


def names_under(root: Path) -> set[str]:
    return {name for _, dirs, files in os.walk(root) for name in dirs + files}


@pytest.fixture(scope="module")
def nas_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> LabScan:
    out = tmp_path_factory.mktemp("smb") / "report.json"
    shares_root = lab.nas_share_dir.parent
    before = snapshot(shares_root)
    start = time.monotonic()
    proc = run_exposcan(
        lab,
        "ws",
        ["scan", NAS, "-p", "445,139", "-o", str(out), "-vv", "--fail-on", "never"],
        timeout=180,
    )
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert_valid_report(report)
    print(f"\nSMB lab scan of {NAS}:445,139 took {seconds:.1f} s")
    return LabScan(
        report, proc.stdout, proc.stderr, seconds, proc.returncode, before, snapshot(shares_root)
    )


def test_guest_share_with_dicom_is_high_with_the_lab_counts(nas_scan: LabScan) -> None:
    # Given the guest share `imagerie` holding the lab's canary DICOM files
    # When the workstation scans the NAS
    evidence = nas_scan.findings(NAS, 445)["smb.guest-share-imaging"]
    # Then the high finding names the share and counts exactly what the lab holds
    imaging = [f for f in t.NAS_IMAGING_FILES if f.imaging]
    folders = {str(PurePosixPath(f.path).parent) for f in imaging}
    all_folders = {
        str(p) for f in t.NAS_IMAGING_FILES for p in PurePosixPath(f.path).parents if str(p) != "."
    }
    assert evidence["share"] == t.NAS_GUEST_SHARE
    assert evidence["imaging_files"] == t.EXPECTED_NAS_DICOM_FILES == len(imaging)
    assert evidence["imaging_folders"] == len(folders)
    assert evidence["files_seen"] == t.EXPECTED_NAS_FILES
    assert evidence["folders_seen"] == len(all_folders)
    assert evidence["truncated"] is False
    assert evidence["imaging_shares"] == [t.NAS_GUEST_SHARE]
    severity = next(
        f["severity"] for f in nas_scan.report["findings"] if f["rule"] == "smb.guest-share-imaging"
    )
    assert severity == "high"


def test_named_user_share_is_not_reported_readable(nas_scan: LabScan) -> None:
    # Given `compta`, for the named user labdoc only
    # Then no finding names it, and one share only counts as readable
    text = json.dumps(nas_scan.report["findings"])
    assert t.NAS_PRIVATE_SHARE not in text
    assert "smb.guest-access" not in nas_scan.findings(NAS, 445)
    details = nas_scan.service(NAS, 445)["details"]
    assert details["smb_shares_readable"] == 1
    assert details["smb_shares_listed"] >= 3  # imagerie, compta, IPC$


def test_negotiation_facts_and_no_smb1_on_samba_defaults(nas_scan: LabScan) -> None:
    # Given Samba 4.17's defaults (server min protocol SMB2_02)
    for port in (445, 139):
        service = nas_scan.service(NAS, port)
        # Then no smb.v1, and the details say dialect and signing
        assert "smb.v1" not in nas_scan.findings(NAS, port)
        assert service["protocol"] == "smb"
        assert service["details"]["smb1"] is False
        assert service["details"]["smb_dialect"] == "3.1.1"
        assert service["details"]["smb_signing"] == "enabled"
    assert nas_scan.service(NAS, 445)["product"] == "Samba"
    # 139 defers the walk to 445: one walk per server
    assert nas_scan.service(NAS, 139)["details"]["smb_shares"] == "see port 445"
    assert not nas_scan.findings(NAS, 139)
    assert [e for e in nas_scan.report["errors"] if e["host"] == NAS] == []


def test_no_canary_and_no_share_name_in_any_output(lab: Lab, nas_scan: LabScan) -> None:
    # Given every file and folder name in the lab's shares, and the canaries
    names = names_under(lab.nas_share_dir.parent) - {t.NAS_GUEST_SHARE, t.NAS_PRIVATE_SHARE}
    assert len(names) >= t.EXPECTED_NAS_FILES  # the test reads real names
    report = nas_scan.report
    outputs = {
        "json": json.dumps(report),
        "stdout": nas_scan.stdout,
        "stderr": nas_scan.stderr,
    }
    # What the SMB probe writes to the report: the NAS's services, evidence,
    # errors and notes (other probes' rule texts cite years such as 2020).
    probe_part = json.dumps(
        [
            [h for h in report["hosts"] if h["address"] == NAS],
            [f["evidence"] for f in report["findings"] if f["host"] == NAS],
            report["errors"],
            report["scan"]["notes"],
        ]
    )
    # Then none of them appears in the report, stdout or the -vv log
    for where, text in outputs.items():
        for needle in (*t.CANARY_STRINGS, *t.SECRET_STRINGS, *names):
            if needle.isdigit() and len(needle) <= 4:
                # A year-named folder ("2020") cannot be told from a year in
                # prose: look for it as a lone token, in what this probe wrote.
                scope = probe_part if where == "json" else text
                pattern = rf"(?<![\w.-]){needle}(?![\w.-])"
                assert not re.search(pattern, scope), f"{needle!r} leaked in {where}"
            else:
                assert needle not in text, f"{needle!r} leaked in {where}"


def test_share_contents_unchanged(nas_scan: LabScan) -> None:
    # Given the shares' files and folders with mtimes and sizes before the scan
    # Then the scan created, changed or removed nothing
    assert nas_scan.after == nas_scan.before
    assert len(nas_scan.before) > t.EXPECTED_NAS_FILES


def test_a_large_share_shows_all_its_images(lab: Lab, tmp_path: Path) -> None:
    # Given the file server's guest share: 5,600 office files, DICOM files
    # five levels down
    out = tmp_path / "files.json"
    proc = run_exposcan(
        lab,
        "ws",
        ["scan", str(t.FILES.ip), "-p", "445", "-o", str(out), "-vv", "--fail-on", "never"],
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    found = {f["rule"]: f["evidence"] for f in report["findings"] if f["port"] == 445}
    # Then the images are found, not only guest access
    ev = found["smb.guest-share-imaging"]
    assert ev["share"] == t.FILES_SHARE and ev["imaging_files"] == t.FILES_DEEP_IMAGES
    # and the walk, bounded in requests and not in entries listed, read the
    # whole share (the larger shares' cuts: tests/lab/test_walk_lab.py)
    assert ev["truncated"] is False and ev["cut_by"] == [] and ev["folders_left"] == 0
    assert ev["depth_reached"] == t.FILES_DEEP_FOLDER.count("/") + 1
    # and no file or folder name is printed
    everything = proc.stdout + proc.stderr + out.read_text()
    assert not [s for s in t.CANARY_STRINGS if s in everything]
    for name in ("Secretariat", "courrier", "Archives", "serie1"):
        assert name not in everything


def test_an_smb1_only_guest_share_of_dicom_is_a_finding(lab: Lab, tmp_path: Path) -> None:
    # Given an old NAS speaking SMB1 only (Samba, server min/max protocol =
    # NT1): a guest share of canary DICOM files (.dcm and extension-less), a
    # guest share of 600 office files and no image
    out = tmp_path / "oldnas.json"
    shares_root = lab.host_dir(t.OLDNAS.name) / "shares"
    before = snapshot(shares_root)
    # When the workstation scans it through the real CLI (--fail-on high)
    proc = run_exposcan(
        lab,
        "ws",
        ["scan", str(t.OLDNAS.ip), "-p", "445", "-o", str(out), "-vv", "--fail-on", "high"],
        timeout=120,
    )
    # Then the high finding makes the exit code 1
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    found = {
        (f["rule"], f["evidence"].get("share")): f
        for f in report["findings"]
        if f["host"] == str(t.OLDNAS.ip)
    }
    # and the DICOM share is a smb.guest-share-imaging finding with the lab's
    # counts, read over SMB1 (the extension-less files by their magic)
    imaging = found[("smb.guest-share-imaging", t.OLDNAS_IMAGING_SHARE)]
    assert imaging["severity"] == "high"
    ev = imaging["evidence"]
    assert ev["imaging_files"] == t.EXPECTED_OLDNAS_DICOM_FILES == 4
    assert ev["dialect"] == "NT LM 0.12"
    assert ev["files_seen"] == len(t.OLDNAS_IMAGING_FILES)
    assert ev["truncated"] is False
    assert ev["imaging_shares"] == [t.OLDNAS_IMAGING_SHARE]
    # and the office share is readable, no image in it: no imaging finding,
    # every entry of its folder seen (more than one SMB1 FIND request)
    assert ("smb.guest-share-imaging", t.OLDNAS_OFFICE_SHARE) not in found
    office = found[("smb.guest-access", t.OLDNAS_OFFICE_SHARE)]["evidence"]
    assert office["files_seen"] == t.OLDNAS_OFFICE_FILES and office["truncated"] is False
    # and SMB1 itself is a finding, the negotiation facts say the dialect
    assert found[("smb.v1", None)]["evidence"]["dialect"] == "NT LM 0.12"
    service = next(
        s for h in report["hosts"] if h["address"] == str(t.OLDNAS.ip) for s in h["services"]
    )
    assert service["details"]["smb1"] is True
    assert service["details"]["smb_dialect"] == "NT LM 0.12"
    assert service["details"]["smb_shares_readable"] == 2
    # and no "not checked" note, no error record
    notes = [n for n in report["scan"]["notes"] if n.startswith(f"{t.OLDNAS.ip}:445")]
    assert not [n for n in notes if "SMB1 only" in n]
    assert not [e for e in report["errors"] if e["host"] == str(t.OLDNAS.ip)]
    # and no patient data, no file or folder name, in any output
    everything = proc.stdout + proc.stderr + out.read_text()
    assert not [s for s in t.CANARY_STRINGS if s in everything]
    for name in ("Examens", "Export_CD", "LISEZMOI", t.OLDNAS_OFFICE_FOLDER, "lettre_"):
        assert name not in everything
    # and nothing on the server changed
    assert snapshot(shares_root) == before


def test_an_smb1_only_server_refusing_guests_shows_no_share(lab: Lab, tmp_path: Path) -> None:
    # Given an XP-era modality workstation speaking SMB1 only whose DICOM
    # share is for a named user (map to guest = Never, restrict anonymous = 2)
    out = tmp_path / "oldpc.json"
    shares_root = lab.host_dir(t.OLDPC.name) / "shares"
    before = snapshot(shares_root)
    # When the workstation scans it through the real CLI (--fail-on high)
    proc = run_exposcan(
        lab,
        "ws",
        ["scan", str(t.OLDPC.ip), "-p", "445,139", "-o", str(out), "-vv", "--fail-on", "high"],
        timeout=120,
    )
    # Then no high finding: exit 0
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    # and SMB1 is the only finding, on both ports; no share is readable
    rules = sorted((f["rule"], f["port"]) for f in report["findings"])
    assert rules == [("smb.v1", 139), ("smb.v1", 445)]
    service = next(
        s
        for h in report["hosts"]
        if h["address"] == str(t.OLDPC.ip)
        for s in h["services"]
        if s["port"] == 445
    )
    assert service["details"]["smb_guest"] is False
    assert service["details"]["smb_shares_readable"] == 0
    # and the refused guest login is a clean "no", not an error record
    assert report["errors"] == []
    everything = proc.stdout + proc.stderr + out.read_text()
    assert not [s for s in t.CANARY_STRINGS if s in everything]
    assert snapshot(shares_root) == before


def test_smb_on_a_port_no_catalogue_names_is_told_by_a_negotiate(lab: Lab, tmp_path: Path) -> None:
    # Given Samba also listening on 4445 (as a box forwarding WAN 4445 to a
    # NAS), a port with no greeting that drops an HTTP request
    out = tmp_path / "odd.json"
    port = t.FILES_ODD_SMB_PORT
    proc = run_exposcan(
        lab,
        "ws",
        ["scan", str(t.FILES.ip), "-p", str(port), "-o", str(out), "--fail-on", "never"],
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    # Then it is SMB, and its guest share's images are found there
    [service] = [s for h in report["hosts"] for s in h["services"] if s["port"] == port]
    assert service["protocol"] == "smb" and service["product"] == "Samba"
    rules = {f["rule"] for f in report["findings"] if f["port"] == port}
    assert "smb.guest-share-imaging" in rules


def test_a_hidden_share_is_found_by_its_usual_name(lab: Lab, tmp_path: Path) -> None:
    # Given the file server's [dicom] share, left out of the share list
    # (browseable = no) but open to guest
    out = tmp_path / "hidden.json"
    proc = run_exposcan(
        lab,
        "ws",
        ["scan", str(t.FILES.ip), "-p", "445", "-o", str(out), "--fail-on", "never"],
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    # Then it is walked by name, its images counted, and said to be unlisted
    [ev] = [
        f["evidence"]
        for f in report["findings"]
        if f["rule"] == "smb.guest-share-imaging" and f["port"] == 445
    ]
    assert t.FILES_HIDDEN_SHARE.upper() in [s.upper() for s in ev["imaging_shares"]]
    # and the target is unchanged: it was only read
    hidden = lab.host_dir(t.FILES.name) / "shares" / t.FILES_HIDDEN_SHARE
    assert sorted(p.name for p in hidden.iterdir()) == [
        f"IM{n:06d}" for n in range(1, t.FILES_HIDDEN_IMAGES + 1)
    ]


def test_the_servers_name_is_learned_for_the_dicom_probe(nas_scan: LabScan) -> None:
    # Given Samba's NTLM challenge, which names its computer (netbios name)
    conf = (Path(__file__).resolve().parents[2] / "docker" / "nas" / "smb.conf").read_text()
    netbios = re.search(r"netbios name = (\S+)", conf)
    assert netbios
    # Then the service records it: an AE title candidate (Horos uses its
    # host's name), not patient data
    assert nas_scan.service(NAS, 445)["details"]["smb_server_name"] == netbios.group(1)
