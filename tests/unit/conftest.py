"""Unit ring: print how many examples the property tests ran."""

from __future__ import annotations

import pytest

from tests.unit.properties import EXAMPLES_RUN


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not EXAMPLES_RUN:
        return
    total = sum(EXAMPLES_RUN.values())
    terminalreporter.write_sep(
        "-", f"property tests: {total} examples in {len(EXAMPLES_RUN)} properties"
    )
    for name, count in sorted(EXAMPLES_RUN.items()):
        terminalreporter.write_line(f"  {count:6d}  {name}")
