"""The real CLI in a subprocess: ``python -m exposcan ARGS``.

One runner for every ring. :func:`run_cli` blocks (a test with no server of
its own in the event loop); :func:`run_cli_async` awaits, so that asyncio
servers in the test's loop keep answering while the CLI scans them;
:func:`start_cli` hands back the process for a test that signals it or
reads it on a terminal. Every JSON report a run writes is checked against
the schema. :func:`cli_argv`, :func:`cli_env` and :func:`validate_reports`
are what a runner in another place (a lab namespace) builds on.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import assert_valid_report

REPO = Path(__file__).resolve().parents[2]


def cli_argv(args: Iterable[str], prefix: Sequence[str] = ()) -> list[str]:
    """The command line that runs exposcan from this work tree, after
    ``prefix`` (a wrapper such as ``setpriv ...`` or ``/usr/bin/time -v``)."""
    return [*prefix, sys.executable, "-m", "exposcan", *args]


def cli_env(extra: Mapping[str, str] | None = None, drop: Iterable[str] = ()) -> dict[str, str]:
    """The test's environment, ``extra`` added and ``drop`` removed, with the
    work tree importable even when exposcan is not installed."""
    env = {**os.environ, **(extra or {})}
    for name in drop:
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def validate_reports(args: Sequence[str], cwd: Path | None = None) -> None:
    """Hold every JSON report the run wrote (``-o x.json``, relative to
    ``cwd``) to the checked-in schema: no test reads a report it refuses."""
    for flag, value in itertools.pairwise(args):
        path = (cwd or Path.cwd()) / value
        if flag in ("-o", "--output") and value.endswith(".json") and path.exists():
            assert_valid_report(path.read_text())


@dataclass(frozen=True)
class CliRun:
    """What one CLI run left: exit code, output as text, wall time."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    drop_env: Iterable[str] = (),
    timeout: float = 60.0,
    cwd: Path | None = None,
    prefix: Sequence[str] = (),
) -> CliRun:
    """Run ``exposcan ARGS`` to its end (``timeout`` seconds at most)."""
    started = time.monotonic()
    proc = subprocess.run(
        cli_argv(args, prefix),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(env, drop_env),
        cwd=cwd,
        check=False,
    )
    seconds = time.monotonic() - started
    validate_reports(args, cwd)
    return CliRun(proc.returncode, proc.stdout, proc.stderr, seconds)


async def start_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    drop_env: Iterable[str] = (),
    stdout: int = subprocess.PIPE,
    stderr: int = subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """Start ``exposcan ARGS``; the caller waits for it (or signals it)."""
    return await asyncio.create_subprocess_exec(
        *cli_argv(args), env=cli_env(env, drop_env), stdout=stdout, stderr=stderr
    )


async def run_cli_async(
    *args: str,
    env: Mapping[str, str] | None = None,
    drop_env: Iterable[str] = (),
    timeout: float = 60.0,
) -> CliRun:
    """:func:`run_cli` from a coroutine: the event loop runs meanwhile."""
    started = time.monotonic()
    proc = await start_cli(*args, env=env, drop_env=drop_env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    seconds = time.monotonic() - started
    validate_reports(args)
    return CliRun(proc.returncode, out.decode(), err.decode(), seconds)
