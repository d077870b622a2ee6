"""The lab's hostile services (exposcan_lab/hostile.py) on loopback, against
the real engine: the cases that once changed a probe."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from exposcan.protocols.dicom.probe import DicomProbe
from exposcan_lab.hostile import (
    Handler,
    dicom_abort,
    dicom_drip,
    dicom_flood,
    dicom_tiny_pdu,
    smb_drip,
    smb_garbled,
    smb_stall,
    tls_hello,
)
from tests.helpers import scan_local
from tests.inprocess.servers import tcp_server
from tests.inprocess.test_smb_probe import scan_smb, smb_at, smb_server
from tests.support.cli import run_cli_async
from tests.support.local_ports import catalogue_dir_naming

REPO = Path(__file__).resolve().parents[2]


async def test_smb_that_negotiates_then_stalls_is_a_timeout_error() -> None:
    # Given the hostile host's SMB server: SMB2 NEGOTIATE answered, then silence
    async with smb_server(smb_stall) as port:
        started = time.monotonic()
        # When the SMB probe runs on it with 1 s reads and an 8 s total deadline
        report = await scan_smb(port, timeout=1.0, total=8.0)
        elapsed = time.monotonic() - started
    # Then the negotiation is recorded, the stalled session is one timeout
    # error (not a silent "no guest access"), no finding, within the deadline
    service = report.hosts[0].services[0]
    assert service.details["smb_dialect"] == "2.1"
    assert [(e.probe, e.reason) for e in report.errors] == [("smb", "timeout")]
    assert "no session setup answer" in report.errors[0].detail
    assert report.findings == []
    assert elapsed < 8.0 + 2.0


async def test_smb_frame_announcing_16_mib_then_dripped_is_refused_unread() -> None:
    # Given an SMB server answering SESSION_SETUP with a frame announcing
    # 16 MiB, then 64 bytes every 2 s (a per-read timeout never fires)
    async with smb_server(smb_drip) as port:
        started = time.monotonic()
        # When the SMB probe runs on it with 1 s reads and an 8 s total deadline
        report = await scan_smb(port, timeout=1.0, total=8.0)
        elapsed = time.monotonic() - started
    # Then the frame is refused by its announced length, as one too-large
    # error, long before the deadline, and no worker thread is left reading
    assert [(e.probe, e.reason) for e in report.errors] == [("smb", "too-large")]
    assert "announces 16777215 bytes" in report.errors[0].detail
    assert report.findings == []
    assert elapsed < 8.0
    assert not [t for t in threading.enumerate() if t.name.startswith("exposcan-blocking")]


async def test_smb_malformed_session_answer_is_not_called_no_answer() -> None:
    # Given an SMB server answering SESSION_SETUP at once with garbage
    async with smb_server(smb_garbled) as port:
        # When the SMB probe runs on it
        report = await scan_smb(port, timeout=1.0, total=8.0)
    # Then the error says an answer came and was malformed, not that none came
    assert [(e.probe, e.reason) for e in report.errors] == [("smb", "protocol")]
    assert "could not parse" in report.errors[0].detail
    assert "no session setup answer" not in report.errors[0].detail


async def test_quiet_mode_prints_no_library_warning(tmp_path: Path) -> None:
    # Given a TLS server whose certificate's CN is 64 KiB (cryptography warns
    # on any CN over 64 characters), the lab's hostile3 certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(str(REPO / "docker" / "hostile3" / "long-cn.pem"))
    server = await asyncio.start_server(tls_hello, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        # When the CLI scans it in quiet mode, and at the default verbosity
        report = tmp_path / "r.json"
        quiet = await run_cli_async(
            "scan", "-q", "127.0.0.1", "-p", str(port), "--no-discovery", "-o", str(report)
        )
        default = await run_cli_async("scan", "127.0.0.1", "-p", str(port), "--no-discovery")
    finally:
        server.close()
    # Then quiet prints nothing at all, the default no warning either, and the
    # certificate's CN is recorded, cut to its cap
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert "Warning" not in default.stderr
    [service] = json.loads(report.read_text())["hosts"][0]["services"]
    assert len(service["details"]["cert_subject_cn"]) == 200


async def test_process_exits_with_its_last_deadline(tmp_path: Path) -> None:
    # Given the SMB server that announces 16 MiB and drips (scapy's thread
    # once outlived the report by 240 s)
    report = tmp_path / "r.json"
    async with smb_server(smb_drip) as port:
        # When the real CLI scans it with 1 s reads
        run = await run_cli_async(
            "scan",
            "127.0.0.1",
            "-p",
            str(port),
            "--no-discovery",
            "--timeout",
            "1",
            "-o",
            str(report),
            env={"EXPOSCAN_CATALOGUE": str(catalogue_dir_naming(tmp_path, [smb_at(port)]))},
        )
        exited = time.time()
    # Then the process exits within 2 s of writing its report (the hang was
    # 240 s after it): no worker thread is left reading after the deadline
    assert run.returncode == 0, run.stdout  # error records, no finding
    after_report = exited - report.stat().st_mtime
    scan = json.loads(report.read_text())["scan"]
    took = (
        datetime.fromisoformat(scan["finished"]) - datetime.fromisoformat(scan["started"])
    ).total_seconds()
    print(
        f"\nsmb drip: process {run.seconds:.1f} s (start-up included), report's scan time "
        f"{took:.1f} s, exit {after_report:.2f} s after the report"
    )
    assert after_report < 2.0


@pytest.mark.parametrize(
    ("handler", "reason", "words"),
    [
        (dicom_abort, "protocol", "before any answer"),
        (dicom_flood, "protocol", "messages never sent"),
        (dicom_drip, "timeout", "started but did not follow at 8 KiB/s"),
    ],
    ids=["abort-at-once", "flood-of-strays", "drip"],
)
async def test_dicom_nodes_that_never_answer_prove_nothing(
    handler: Handler, reason: str, words: str
) -> None:
    # Given a node that accepts every context (storage included), then
    # aborts at once, floods responses to another message ID, or drips
    async with tcp_server(handler) as port:
        started = time.process_time()
        # When the DICOM probe runs on it
        report = await scan_local([port], [DicomProbe], timeout=1.0, total=8.0)
        cpu = time.process_time() - started
    # Then it is one error with its cause, and no finding: no storage open,
    # no "refused to answer a study query" for a C-FIND never sent
    assert [(e.probe, e.reason) for e in report.errors] == [("dicom", reason)]
    assert words in report.errors[0].detail
    assert report.findings == []
    print(f"\n{handler.__name__}: {cpu:.2f} s CPU")


async def test_a_16_byte_maximum_pdu_is_respected(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a node announcing a 16-byte maximum PDU that answers C-ECHO
    async with tcp_server(dicom_tiny_pdu) as port:
        report = await scan_local([port], [DicomProbe], timeout=1.0, total=8.0)
    # Then it got no P-DATA over 16 bytes, and its association lived: open to
    # any caller (echo answered), the study query refused at negotiation
    out = capsys.readouterr().out
    assert "PDU OVER MAX" not in out and "tiny PDU released, largest 16" in out
    assert report.errors == []
    assert {f.rule for f in report.findings} >= {"dicom.association-open"}
