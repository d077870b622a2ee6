"""The lab's hostile services (exposcan_lab/hostile.py) on loopback, against
the real engine: the cases that changed a probe in issue 7."""

from __future__ import annotations

import time

from exposcan.protocols.smb.probe import SmbProbe
from exposcan_lab.hostile import smb_stall
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
