"""The best-first walk on shares as large as real ones, through the real CLI
run on the workstation: the archive server's 100,000 files in 2,000 folders
(198.18.0.90) and an imaging Mac's OsiriX Data (198.18.0.91).

Measured and printed (``pytest -s``): the scan's wall time and peak
resident memory (``/usr/bin/time -v``), the walk's requests and bytes."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import REPO
from tests.support.cli import cli_argv, cli_env

pytestmark = pytest.mark.lab


def scan_measured(lab: Lab, host: t.Host, out: Path) -> tuple[int, str, float, int]:
    """The CLI from the workstation under ``/usr/bin/time -v``: its exit
    code, its output, wall seconds and peak resident memory (KiB)."""
    argv = ["scan", str(host.ip), "-p", "445", "-o", str(out), "-vv"]
    start = time.monotonic()
    proc = lab.run(
        "ws", cli_argv(argv, prefix=["/usr/bin/time", "-v"]), timeout=180, env=cli_env(), cwd=REPO
    )
    seconds = time.monotonic() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    assert rss, proc.stderr[-2000:]
    assert_valid_report(out.read_text())
    return proc.returncode, proc.stdout + proc.stderr, seconds, int(rss.group(1))


def walk_lines(output: str) -> list[str]:
    """The walks' own figures, logged at -vv (counts only)."""
    return [line.strip() for line in output.splitlines() if "walk: " in line]


def share_finding(report: dict[str, Any], host: t.Host, rule: str) -> dict[str, Any] | None:
    for f in report["findings"]:
        if f["host"] == str(host.ip) and f["port"] == 445 and f["rule"] == rule:
            return f["evidence"]  # type: ignore[no-any-return]
    return None


@pytest.fixture(scope="module")
def archives_scan(
    lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, str, float, int, Path]:
    """One scan of the archive server (both its shares), for the tests below."""
    out = tmp_path_factory.mktemp("walk") / "archives.json"
    return (*scan_measured(lab, t.ARCHIVES, out), out)


def test_the_100000_file_share_is_reported_as_imaging(
    lab: Lab, archives_scan: tuple[int, str, float, int, Path]
) -> None:
    # Given the archive server's guest share: 1,998 folders of 50 reports
    # (folders named after patients), the DICOM files in one more folder
    share = lab.host_dir(t.ARCHIVES.name) / "shares" / t.ARCHIVES_SHARE
    assert sum(len(files) for _, _, files in os.walk(share)) == 100_000
    # When the workstation scans it (default --fail-on: high)
    code, output, seconds, rss_kib, out = archives_scan
    report = json.loads(out.read_text())
    ev = share_finding(report, t.ARCHIVES, "smb.guest-share-imaging")
    print(
        f"\n100,000-file share: scan {seconds:.1f} s, peak RSS {rss_kib / 1024:.0f} MiB; "
        f"evidence: {ev}; log: {walk_lines(output)}"
    )
    # Then the share is reported as imaging, not only as guest access: exit 1
    assert code == 1, output[-3000:]
    assert ev is not None, output[-3000:]
    assert ev["share"] == t.ARCHIVES_SHARE and ev["imaging_files"] >= 3
    assert ev["imaging_folders"] == 1
    # and the walk stayed within its bounds and says where it stopped
    assert ev["requests"] <= 2000 and ev["truncated"] is True
    assert set(ev["cut_by"]) & {"requests", "time", "bytes"}
    assert 0 < ev["folders_left"] < 2000
    # and no name of the share left the walk
    everything = output + out.read_text()
    assert not [s for s in t.CANARY_STRINGS if s in everything]
    for name in ("Comptes-rendus", "Imagerie", "CR-0", "IM0000"):
        assert name not in everything


def test_an_osirix_share_is_reported_as_imaging_from_its_database(lab: Lab, tmp_path: Path) -> None:
    # Given an imaging Mac's shared Documents: letters, then OsiriX Data with
    # 300 folders of reports before DATABASE.noindex
    out = tmp_path / "mac.json"
    # When the workstation scans it
    code, output, seconds, rss_kib = scan_measured(lab, t.MAC, out)
    report = json.loads(out.read_text())
    ev = share_finding(report, t.MAC, "smb.guest-share-imaging")
    print(
        f"\nOsiriX share: scan {seconds:.1f} s, peak RSS {rss_kib / 1024:.0f} MiB; "
        f"evidence: {ev}; log: {walk_lines(output)}"
    )
    # Then every image of the viewer's database is counted (by name, .dcm)
    assert code == 1, output[-3000:]
    assert ev is not None, output[-3000:]
    assert ev["share"] == t.MAC_SHARE
    expected = len(t.MAC_DATABASE_FOLDERS) * t.MAC_IMAGES_PER_FOLDER
    assert ev["imaging_files"] == expected
    assert ev["imaging_folders"] == len(t.MAC_DATABASE_FOLDERS)
    everything = output + out.read_text()
    assert not [s for s in t.CANARY_STRINGS if s in everything]
    for name in ("OsiriX", "DATABASE", "REPORTS", "Courriers", "noindex"):
        assert name not in everything


def test_a_share_of_templates_is_guest_access_only(
    archives_scan: tuple[int, str, float, int, Path],
) -> None:
    # Given the archive server's second guest share: letter templates only
    code, output, _, _, out = archives_scan
    report = json.loads(out.read_text())
    # Then it is guest access (medium), walked to its end, and not imaging
    [plain] = [
        f["evidence"]
        for f in report["findings"]
        if f["host"] == str(t.ARCHIVES.ip) and f["rule"] == "smb.guest-access"
    ]
    assert plain["share"] == t.ARCHIVES_PLAIN_SHARE, plain
    assert plain["truncated"] is False and plain["cut_by"] == []
    assert plain["files_seen"] == t.ARCHIVES_PLAIN_FILES
    assert code == 1, output[-3000:]  # the other share's images (high)
