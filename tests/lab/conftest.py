"""Fixtures of the lab ring: one practice lab per test session.

The lab is real servers in network namespaces (exposcan_lab), so it needs
root and the Debian packages; without them the lab tests skip with the
reason. Whatever happens (failure, ^C, a crash of the fixture), the lab is
torn down: the fixture's finally, an atexit hook, and at worst the next
session's ``Lab.up``, which first removes a stale lab of the same name.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import time
from argparse import _SubParsersAction
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from exposcan_lab import Lab, missing_requirements
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.lab_state import MeasuredRun, PacketCounter, run_measured, target_state
from tests.support.cli import REPO as REPO  # re-exported: the lab tests import it here
from tests.support.cli import cli_argv, cli_env, validate_reports
from tests.support.lab_scan import LabScan

#: Its own name, so that a session never tears down a lab a developer
#: brought up by hand (default name "lab").
LAB_NAME = os.environ.get("EXPOSCAN_LAB_NAME") or os.environ.get("EXPOSCAN_TEST_LAB", "pytest")


def run_exposcan(
    lab: Lab, host: str, args: Sequence[str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``python -m exposcan ARGS`` inside ``host``'s namespace (the real CLI,
    as a user would run it from that machine). Output captured as text;
    every JSON report it writes is held to the checked-in schema."""
    proc = lab.run(host, cli_argv(args), timeout=timeout, env=cli_env(), cwd=REPO)
    validate_reports(args, REPO)  # a relative -o is relative to the CLI's cwd
    return proc


def _down_quietly(lab: Lab) -> None:
    try:
        lab.down()
    except Exception as e:  # at exit there is nobody left to raise to
        print(f"lab teardown at exit: {e}", file=sys.stderr)


#: ``EXPOSCAN_LAB_BUSY=N``: N CPU-bound processes for the whole lab session,
#: so that the lab's verdicts are checked on a busy machine too (a verdict
#: that changes with the load is a defect).  Each spins for at most this
#: long, should the session die without its teardown.
BUSY_LIFETIME_S = 3600


def _busy_count() -> int:
    text = os.environ.get("EXPOSCAN_LAB_BUSY", "").strip()
    if not text:
        return 0
    count = int(text)
    if not 0 <= count <= 16:
        raise pytest.UsageError(f"EXPOSCAN_LAB_BUSY={text}: 0 to 16 processes")
    return count


@pytest.fixture(scope="session", autouse=True)
def busy_cpus() -> Iterator[int]:
    """Start ``EXPOSCAN_LAB_BUSY`` spinning processes, end them (by pid) at
    teardown; yield how many run."""
    count = _busy_count()
    spin = (
        f"import time\nend = time.monotonic() + {BUSY_LIFETIME_S}\n"
        "while time.monotonic() < end: pass"
    )
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(count)]
    if spinners:
        print(f"\nlab session with {count} busy process(es)", file=sys.stderr)
    try:
        yield count
    finally:
        for p in spinners:
            p.kill()
            p.wait(timeout=10)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    missing = missing_requirements()
    if missing and os.environ.get("EXPOSCAN_REQUIRE_LAB"):
        # make test sets this: there, a lab that cannot start is a failure,
        # not a silent skip of the ring that tests the real servers.
        pytest.fail("practice lab required but unavailable, missing: " + ", ".join(missing))
    if missing:
        pytest.skip("practice lab unavailable, missing: " + ", ".join(missing))
    the_lab = Lab(LAB_NAME)
    # Registered before up: a process killed mid-up still cleans at exit.
    atexit.register(_down_quietly, the_lab)
    try:
        the_lab = Lab.up(LAB_NAME)  # tears a stale lab of this name down first
        atexit.unregister(_down_quietly)
        atexit.register(_down_quietly, the_lab)
        yield the_lab
    finally:
        the_lab.down()
        atexit.unregister(_down_quietly)


@pytest.fixture(name="run_exposcan")
def run_exposcan_fixture() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The :func:`run_exposcan` helper, for tests that prefer a fixture."""
    return run_exposcan


# --- The full scan of the lab -------------------------------------------

#: Ports of the notification receivers in the workstation's namespace.
HOOK_PORT, SMTP_PORT = 18080, 18025


@dataclass(kw_only=True)
class FullScan(LabScan):
    """One no-target scan of the whole lab from the workstation, at -vv,
    with --intrusive and every output exposcan can write, measured, with
    the lab's stores read before and after and the internet host's packets
    counted. Shared by the tests that need "a full lab scan". Beyond a
    :class:`LabScan`: the measured run, every file written, the packets."""

    run: MeasuredRun
    #: Every file the scan wrote, by kind: json, html, db, notification-N.
    outputs: dict[str, Path]
    #: IP packets that reached the lab internet host during the scan.
    inet_packets: int
    args: list[str] = field(default_factory=list)
    #: When the scanner process had exited (time.time(), to compare with the
    #: report file's mtime).
    exited_at: float = 0.0

    @property
    def proc(self) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            self.args, self.run.returncode, self.run.stdout, self.run.stderr
        )


def _html_supported(probe_path: Path) -> bool:
    from exposcan.report.write import ReportFormatError, check_output

    try:
        check_output(str(probe_path))
    except ReportFormatError:
        return False
    return True


def _scan_help() -> str:
    from exposcan.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, _SubParsersAction))
    return sub.choices["scan"].format_help()


@pytest.fixture(scope="session")
def full_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullScan]:
    work = tmp_path_factory.mktemp("full-scan")
    outputs = {"json": work / "report.json"}
    args = ["scan", "-vv", "--intrusive", "-o", str(outputs["json"])]
    if _html_supported(work / "probe.html"):
        outputs["html"] = work / "report.html"
        args += ["-o", str(outputs["html"])]
    help_text = _scan_help()
    if "--db" in help_text:
        outputs["db"] = work / "history.sqlite3"
        args += ["--db", str(outputs["db"])]
    sink: subprocess.Popen[bytes] | None = None
    notifications = work / "notifications"
    if "--notify" in help_text:
        # The notification receivers of the history/notify tests, on the
        # workstation's own loopback: a webhook and an SMTP server.
        notifications.mkdir()
        sink = subprocess.Popen(
            lab.exec_argv(
                t.WS.name,
                [
                    sys.executable,
                    "-m",
                    "tests.lab.notify_sink",
                    str(notifications),
                    str(SMTP_PORT),
                    str(HOOK_PORT),
                ],
            ),
            cwd=REPO,
        )
        for _ in range(100):
            if (notifications / "ready").exists() or sink.poll() is not None:
                break
            time.sleep(0.1)
        assert (notifications / "ready").exists(), "notification sink did not start"
        args += [
            "--notify",
            f"http://127.0.0.1:{HOOK_PORT}/hook",
            "--notify",
            f"smtp://127.0.0.1:{SMTP_PORT}?to=audit@cabinet.test&from=exposcan@cabinet.test",
        ]
        if "--notify-always" in help_text:
            args.append("--notify-always")
    try:
        before = target_state(lab)
        # Every IP packet that reaches the lab's internet host counts.
        with PacketCounter(lab, t.INET.name, []) as inet:
            run = run_measured(lab, t.WS.name, args, work, timeout=300)
            exited_at = time.time()
            inet_packets = inet.packets()
        after = target_state(lab)
    finally:
        if sink is not None:
            time.sleep(0.5)  # the sink writes what it received every 0.1 s
            sink.terminate()
            sink.wait(timeout=10)
    # The lab holds findings at or above high (the open PACS among them).
    assert run.returncode == 1, run.stderr[-3000:]
    for path in sorted(notifications.glob("*")) if sink is not None else []:
        if path.name != "ready":
            outputs[path.name] = path
    report = json.loads(outputs["json"].read_text())
    assert_valid_report(report)
    print(
        f"\nfull lab scan (hostile hosts included): {run.elapsed:.1f} s, "
        f"peak RSS {run.max_rss_mib:.0f} MiB; outputs: {', '.join(outputs)}"
    )
    yield FullScan(
        report=report,
        stdout=run.stdout,
        stderr=run.stderr,
        seconds=run.elapsed,
        returncode=run.returncode,
        before=before,
        after=after,
        run=run,
        outputs=outputs,
        inet_packets=inet_packets,
        args=args,
        exited_at=exited_at,
    )
