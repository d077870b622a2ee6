"""A tool a test needs and the machine lacks: a failure where the full
suite runs (``make test`` sets ``EXPOSCAN_REQUIRE_LAB``), a skip that says
what is missing on a developer's machine."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(what: str) -> NoReturn:
    """Stop the test because ``what`` (a tool, a privilege) is absent."""
    if os.environ.get("EXPOSCAN_REQUIRE_LAB"):
        pytest.fail(f"{what} required here (scripts/install-deps.sh, run as root)")
    pytest.skip(f"{what} unavailable")
