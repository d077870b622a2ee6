"""Shared settings of the property tests (hypothesis) and their count.

Every parser exposcan owns reads what a stranger sends or types: random
input may be refused only through the parser's typed error (PortSpecError,
TargetError, PduError, WireError, CatalogueError, ValueError where that is
the contract), never through another exception. Each property records how
many examples it ran; the session summary prints the totals
(tests/unit/conftest.py), so the figure is in every ``make test`` log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

F = TypeVar("F", bound=Callable[..., Any])

#: Examples actually run, per property (test function name).
EXAMPLES_RUN: Counter[str] = Counter()


def examples(n: int) -> Callable[[F], F]:
    """``n`` random examples, no example database (nothing written in the
    work tree), no per-example deadline (a loaded CI machine is slow)."""
    return settings(
        max_examples=n, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )


def ran(name: str) -> None:
    EXAMPLES_RUN[name] += 1
