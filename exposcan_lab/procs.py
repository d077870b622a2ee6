"""Starting and stopping the lab's server processes, by pid.

Every server runs as ``ip netns exec NS CMD`` (which exec()s CMD, so the pid
we get is the server's) in a new session, hence its own process group: smbd
and nginx fork workers, and one killpg() reaches them all. A pid is only
signalled if its start time still matches the one recorded, so a stale
state.json can never make ``down`` kill an unrelated process that reused
the pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcRecord:
    host: str
    service: str
    pid: int
    start_ticks: int  # /proc/PID/stat field 22: tells a reused pid apart
    log: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split
    # after the last ")". Field 3 (state) is then index 0, field 22 index 19.
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_alive(pid: int, ticks: int | None = None) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its parent's wait() is left
        return False
    return ticks is None or int(fields[19]) == ticks


def spawn(ns: str, argv: Sequence[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        os.kill(pid, sig)


def terminate(
    records: Iterable[ProcRecord],
    extra_pids: Iterable[int],
    # Short grace: everything a lab server writes is thrown away with the
    # runtime dir, and Orthanc 1.10 alone takes ~3 s to honour SIGTERM.
    grace_s: float = 1.0,
    kill_s: float = 3.0,
) -> list[int]:
    """SIGTERM, wait up to ``grace_s``, SIGKILL, wait up to ``kill_s``.

    ``records`` are our own servers (their process groups are signalled);
    ``extra_pids`` are whatever else still runs in the lab's namespaces.
    Returns the pids still alive at the end (should be none)."""
    targets: dict[int, tuple[int | None, bool]] = {}
    for r in records:
        if is_alive(r.pid, r.start_ticks):
            targets[r.pid] = (r.start_ticks, True)
    for pid in extra_pids:
        targets.setdefault(pid, (start_ticks(pid), False))

    def alive() -> list[int]:
        return [p for p, (ticks, _) in targets.items() if is_alive(p, ticks)]

    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, kill_s)):
        for pid in alive():
            _signal(pid, sig, group=targets[pid][1])
        end = time.monotonic() + wait_s
        while alive() and time.monotonic() < end:
            time.sleep(0.05)
        if not alive():
            return []
    return alive()


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
