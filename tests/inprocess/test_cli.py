"""The real CLI in a subprocess, against loopback servers only."""

import asyncio
import json
import signal
from pathlib import Path
from typing import ClassVar

from exposcan.cli import exit_code
from exposcan.models import Severity
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.state import ServiceState
from tests.helpers import assert_valid_report, scan_local
from tests.inprocess.servers import http_ok, tarpit, tcp_server
from tests.support.cli import run_cli_async, start_cli
from tests.unit.test_report_schema import sample_report


async def test_bad_arguments_exit_2() -> None:
    for args in (
        ["scan", "-p", "0", "127.0.0.1"],
        ["scan", "198.18.0.40-10"],
        ["scan", "--bogus"],
        ["scan", "127.0.0.1", "-o", "r.txt"],
    ):
        run = await run_cli_async(*args)
        assert run.returncode == 2, (args, run.stderr)
    run = await run_cli_async("scan", "127.0.0.1", "-o", "r.txt")
    assert "unknown report format" in run.stderr


async def test_everything_excluded_is_an_error() -> None:
    run = await run_cli_async("scan", "127.0.0.1", "--exclude", "127.0.0.0/30")
    assert run.returncode == 2 and "nothing to scan" in run.stderr


async def test_clean_scan_exit_0_and_valid_report(tmp_path: Path) -> None:
    # Given an HTTP server that serves nothing medical
    async with tcp_server(http_ok) as port:
        out_file = tmp_path / "r.json"
        # When the CLI scans it without a terminal
        run = await run_cli_async(
            "scan", "127.0.0.1", "-p", str(port), "--no-discovery", "-o", str(out_file)
        )
    # Then it exits 0, prints the summary (no progress noise) and writes a valid report
    assert run.returncode == 0, run.stderr
    assert "No finding." in run.stdout
    assert "\x1b[" not in run.stdout + run.stderr  # no live display or colour codes in cron
    data = assert_valid_report(out_file.read_text())
    assert data["scan"]["complete"] is True
    assert data["hosts"][0]["services"][0]["port"] == port


async def test_quiet_prints_nothing() -> None:
    async with tcp_server(http_ok) as port:
        run = await run_cli_async("scan", "127.0.0.1", "-p", str(port), "--no-discovery", "-q")
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


async def test_interrupt_writes_an_incomplete_report(tmp_path: Path) -> None:
    # Given a scan held up by a tarpit with a long deadline
    async with tcp_server(tarpit) as port:
        out_file = tmp_path / "r.json"
        proc = await start_cli(
            "scan",
            "127.0.0.1",
            "-p",
            str(port),
            "--no-discovery",
            "--timeout",
            "60",
            "-o",
            str(out_file),
        )
        await asyncio.sleep(2.5)
        # When the user presses Ctrl-C
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), 30)
    # Then what was gathered is written, marked incomplete, and the exit code is 2
    assert proc.returncode == 2
    data = json.loads(out_file.read_text())
    assert data["scan"]["complete"] is False
    assert any("interrupted" in note for note in data["scan"]["notes"])


def test_exit_code_follows_fail_on() -> None:
    report = sample_report()  # one high finding
    assert exit_code(report, "high") == 1
    assert exit_code(report, "critical") == 0
    assert exit_code(report, "info") == 1
    assert exit_code(report, "never") == 0
    assert Severity.HIGH.rank > Severity.MEDIUM.rank


class _CrashingProbe(ServiceProbe):
    name = "crash"
    protocols: ClassVar[frozenset[str]] = frozenset({"http", "unknown"})

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        raise RuntimeError("patient CANARY^ALICE in a message")


async def test_a_probe_bug_is_an_error_record_without_its_message() -> None:
    # Given a probe that crashes with a message quoting what a peer sent
    async with tcp_server(http_ok) as port:
        report = await scan_local([port], [_CrashingProbe])
    # Then the scan finishes and records the crash by type only
    (error,) = report.errors
    assert (error.probe, error.reason.value, error.detail) == ("crash", "internal", "RuntimeError")
    assert "CANARY" not in report.to_json()


async def test_baseline_counts_only_new_findings(tmp_path: Path) -> None:
    # Given a baseline report that already holds a finding, and a clean scan
    baseline = tmp_path / "last.json"
    baseline.write_text(sample_report().to_json())
    async with tcp_server(http_ok) as port:
        run = await run_cli_async(
            "scan", "127.0.0.1", "-p", str(port), "--no-discovery", "--baseline", str(baseline)
        )
    # Then the finding that went away is shown, and nothing new means exit 0
    assert run.returncode == 0
    assert "- high" in run.stdout


async def test_progress_is_shown_on_a_terminal() -> None:
    # Given stderr on a pseudo-terminal, as when a person runs the scan
    import os
    import pty

    primary, secondary = pty.openpty()
    async with tcp_server(tarpit) as port:
        proc = await start_cli(
            "scan",
            "127.0.0.1",
            "-p",
            str(port),
            "--no-discovery",
            "--timeout",
            "1",
            stdout=secondary,
            stderr=secondary,
            env={"TERM": "xterm"},
        )
        os.close(secondary)
        chunks: list[bytes] = []
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await loop.run_in_executor(None, os.read, primary, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        await asyncio.wait_for(proc.wait(), 30)
        os.close(primary)
    screen = b"".join(chunks).decode(errors="replace")
    # Then the live line (phase, ports, probes) was drawn, and the summary follows
    assert "ports " in screen and "probes " in screen
    assert "Services" in screen
