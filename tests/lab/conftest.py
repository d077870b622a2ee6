"""Fixtures of the lab ring: one practice lab per test session.

The lab is real servers in network namespaces (exposcan.lab), so it needs
root and the Debian packages; without them the lab tests skip with the
reason. Whatever happens (failure, ^C, a crash of the fixture), the lab is
torn down: the fixture's finally, an atexit hook, and at worst the next
session's ``Lab.up``, which first removes a stale lab of the same name.
"""

from __future__ import annotations

import atexit
import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from exposcan.lab import Lab, missing_requirements
from tests.helpers import assert_valid_report

REPO = Path(__file__).resolve().parents[2]
#: Its own name, so that a session never tears down a lab a developer
#: brought up by hand (default name "lab").
LAB_NAME = os.environ.get("EXPOSCAN_LAB_NAME") or os.environ.get("EXPOSCAN_TEST_LAB", "pytest")


def run_exposcan(
    lab: Lab, host: str, args: Sequence[str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``python -m exposcan ARGS`` inside ``host``'s namespace (the real CLI,
    as a user would run it from that machine). Output captured as text."""
    env = dict(os.environ)
    # Importable from the work tree even when exposcan is not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = lab.run(
        host, [sys.executable, "-m", "exposcan", *args], timeout=timeout, env=env, cwd=REPO
    )
    # Every report a lab test makes is held to the checked-in schema.
    for flag, value in itertools.pairwise(args):
        if flag in ("-o", "--output") and value.endswith(".json") and Path(value).exists():
            assert_valid_report(Path(value).read_text())
    return proc


def _down_quietly(lab: Lab) -> None:
    try:
        lab.down()
    except Exception as e:  # at exit there is nobody left to raise to
        print(f"lab teardown at exit: {e}", file=sys.stderr)


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
