"""A broken catalogue stops the scan before its first packet.

Every catalogue kind is validated when the catalogue loads: a misspelt field
in a file of any kind, an unknown kind, or a fingerprint whose regular
expression does not compile gives one error line naming the file, and exit
2.  The real CLI in a subprocess, with EXPOSCAN_CATALOGUE pointing at a
broken copy of the shipped catalogue, scanning a loopback listener that
counts the connections it gets: none.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from exposcan.catalogue import catalogue_dir, registered_kinds
from tests.support.cli import CliRun, run_cli

#: kind -> (file, a field as written, the same field misspelt)
MISSPELT: dict[str, tuple[str, str, str]] = {
    "rule": ("rules/dicom.query-open.yaml", "  severity:", "  severty:"),
    "ports": ("ports.yaml", "protocol: ftp", "protocole: ftp"),
    "http-fingerprint": ("fingerprints/http/orthanc.yaml", "category:", "categroy:"),
    "http-listing": ("http/listings.yaml", "start_paths:", "start_path:"),
    "imaging-files": ("imaging-files.yaml", "extensions:", "extentions:"),
    "dicom-ae-titles": ("dicom/ae-titles.yaml", "titles:", "title:"),
    "dicom-implementation": (
        "fingerprints/dicom-implementations.yaml",
        "class_uid_prefix:",
        "class_uid_prefx:",
    ),
    "evidence-labels": ("evidence-labels.yaml", "labels:", "label:"),
    "health-data-files": (
        "health-data-files.yaml",
        "candidate_extensions:",
        "candidate_extension:",
    ),
    "ftp-banner": ("fingerprints/ftp-banners.yaml", "banners:", "baners:"),
    "remediation": ("remediation/horos.yaml", "applies:", "aplies:"),
    "folder-scores": ("folder-scores.yaml", "depth_cost:", "depth_cots:"),
    "notes": ("notes/engine.yaml", "notes:", "note:"),
    "proofs": ("proofs.yaml", "proofs:", "proof:"),
    "report-words": ("report/words.yaml", "words:", "word:"),
    "upnp-igd-locations": ("upnp/igd-locations.yaml", "igd_specific: true", "igd_specfic: true"),
    "products": ("products.yaml", "    toolkit: true", "    toolkt: true"),
    "advisory": (
        "advisories/dcmtk/ICSMA-26-181-01.yaml",
        "known_exploited: false",
        "known_exploitd: false",
    ),
    "decoy": ("decoys/dicompot.yaml", "threshold: 2", "threshhold: 2"),
}


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that would see the scan's first packet."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()


def _connections(sock: socket.socket) -> int:
    sock.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def _broken_copy(tmp_path: Path, name: str, old: str | None, new: str) -> Path:
    root = tmp_path / "probes"
    shutil.copytree(catalogue_dir(), root)
    path = root / name
    if old is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new)
    else:
        text = path.read_text()
        assert old in text, f"{name} no longer holds {old!r}: update this test"
        path.write_text(text.replace(old, new, 1))
    return root


def _scan(root: Path, sock: socket.socket) -> CliRun:
    port = str(sock.getsockname()[1])
    return run_cli(
        "scan", "127.0.0.1", "-p", port, "--timeout", "2", env={"EXPOSCAN_CATALOGUE": str(root)}
    )


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("exposcan: error: "), err
    return lines[0]


def test_every_registered_kind_has_a_misspelt_field_case() -> None:
    # Given the kinds the catalogue knows
    # Then each one is tested below (a new kind adds its case here)
    assert set(MISSPELT) == set(registered_kinds())


@pytest.mark.parametrize("kind", sorted(MISSPELT))
def test_a_misspelt_field_in_any_kind_stops_the_scan(
    tmp_path: Path, listener: socket.socket, kind: str
) -> None:
    # Given a copy of the catalogue with one field misspelt in a file of this kind
    name, old, new = MISSPELT[kind]
    root = _broken_copy(tmp_path, name, old, new)
    # When a scan of a loopback listener starts
    run = _scan(root, listener)
    # Then one line names the file and the misspelt field, exit 2, no packet sent
    line = _one_error_line(run.stderr)
    assert run.returncode == 2 and run.stdout == ""
    assert Path(name).name in line and new.strip().split(":")[0] in line, line
    assert _connections(listener) == 0


def test_an_unknown_kind_stops_the_scan(tmp_path: Path, listener: socket.socket) -> None:
    # Given a catalogue file of a kind nobody registered (a typo of a real one)
    root = _broken_copy(tmp_path, "fingerprints/http/new.yaml", None, "kind: http-fingerprnt\n")
    # When a scan starts
    run = _scan(root, listener)
    # Then one line names the file and the kind, exit 2, no packet sent
    line = _one_error_line(run.stderr)
    assert run.returncode == 2 and run.stdout == ""
    assert "new.yaml" in line and "unknown kind 'http-fingerprnt'" in line, line
    assert _connections(listener) == 0


def test_a_broken_fingerprint_regex_stops_the_scan(tmp_path: Path, listener: socket.socket) -> None:
    # Given a web fingerprint whose body pattern does not compile
    root = _broken_copy(
        tmp_path,
        "fingerprints/http/orthanc.yaml",
        r"body: '(?i)<title>\s*Orthanc Explorer'",
        "body: '(?i)<title>(Orthanc Explorer'",
    )
    # When a scan starts
    run = _scan(root, listener)
    # Then one line names the file, the field and the pattern, exit 2, no packet sent
    line = _one_error_line(run.stderr)
    assert run.returncode == 2 and run.stdout == ""
    assert "orthanc.yaml" in line and "body" in line and "not a regular expression" in line
    assert _connections(listener) == 0


def test_the_intact_copy_scans(tmp_path: Path, listener: socket.socket) -> None:
    # Given an unbroken copy (the negative case: the copy itself is sound)
    root = _broken_copy(tmp_path, "ports.yaml", "protocol: ftp", "protocol: ftp")
    # When a scan of the listener runs
    run = _scan(root, listener)
    # Then it scans (a bare listener makes no finding: exit 0) and reaches it
    assert run.returncode == 0, run.stderr
    assert _connections(listener) >= 1


def _check(*args: str) -> CliRun:
    return run_cli("catalogue", "check", *args)


def test_catalogue_check_passes_the_shipped_catalogue() -> None:
    # Given the catalogue shipped with exposcan
    # When it is checked without a scan
    proc = _check(str(catalogue_dir()))
    # Then it is sound: exit 0, no error line
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == f"catalogue {catalogue_dir()}: sound"


def test_catalogue_check_prints_one_line_per_error(tmp_path: Path) -> None:
    # Given a copy with three broken files: a misspelt field, an unknown kind
    # and a regular expression that does not compile
    root = _broken_copy(tmp_path, "rules/dicom.query-open.yaml", "  severity:", "  severty:")
    _broken_copy_into(root, "fingerprints/http/new.yaml", "kind: http-fingerprnt\n")
    orthanc = root / "fingerprints/http/orthanc.yaml"
    orthanc.write_text(
        orthanc.read_text().replace(
            r"body: '(?i)<title>\s*Orthanc Explorer'", "body: '(?i)<title>(Orthanc Explorer'"
        )
    )
    # When it is checked
    proc = _check(str(root))
    # Then each broken file is one line of its own (the first does not hide
    # the others), naming the file, and the exit code is 2
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 2
    assert len(lines) == 3, proc.stdout
    assert any("dicom.query-open.yaml" in line and "severty" in line for line in lines)
    assert any("new.yaml" in line and "unknown kind 'http-fingerprnt'" in line for line in lines)
    assert any("orthanc.yaml" in line and "not a regular expression" in line for line in lines)


def test_catalogue_check_of_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    # Given a folder that does not exist
    # When it is checked
    proc = _check(str(tmp_path / "nowhere"))
    # Then one line says so, exit 2
    assert proc.returncode == 2
    assert proc.stdout.strip() == f"{tmp_path / 'nowhere'}: not a folder"


def _broken_copy_into(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
