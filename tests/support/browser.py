"""The ``browser`` fixture: one headless Chromium per test module (see
:mod:`tests.browser`). Registered for the whole suite by tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import Browser, chromium_path
from tests.support.requirements import missing


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if chromium_path() is None:
        missing("chromium")
    with Browser() as b:
        yield b
