"""The lab's hostile services (exposcan_lab/hostile.py) on loopback, against
the real engine: the cases that changed a probe in issue 7."""

from __future__ import annotations

import threading
import time

from exposcan.protocols.smb.probe import SmbProbe
from exposcan_lab.hostile import smb_drip, smb_garbled, smb_stall
from tests.helpers import scan_local
from tests.inprocess.test_smb_probe import SMB_PORT, server_445


async def test_smb_that_negotiates_then_stalls_is_a_timeout_error() -> None:
    # Given the hostile host's SMB server: SMB2 NEGOTIATE answered, then silence
    async with server_445(smb_stall) as host:
        started = time.monotonic()
        # When the SMB probe runs on it with 1 s reads and an 8 s total deadline
        report = await scan_local([SMB_PORT], [SmbProbe], host=host, timeout=1.0, total=8.0)
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
    async with server_445(smb_drip) as host:
        started = time.monotonic()
        # When the SMB probe runs on it with 1 s reads and an 8 s total deadline
        report = await scan_local([SMB_PORT], [SmbProbe], host=host, timeout=1.0, total=8.0)
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
    async with server_445(smb_garbled) as host:
        # When the SMB probe runs on it
        report = await scan_local([SMB_PORT], [SmbProbe], host=host, timeout=1.0, total=8.0)
    # Then the error says an answer came and was malformed, not that none came
    assert [(e.probe, e.reason) for e in report.errors] == [("smb", "protocol")]
    assert "could not parse" in report.errors[0].detail
    assert "no session setup answer" not in report.errors[0].detail
