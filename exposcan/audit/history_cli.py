"""``exposcan history`` and ``exposcan diff``: reading the scan history."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from exposcan.audit.history import History, HistoryError, RunSummary
from exposcan.vocabulary import Severity

if TYPE_CHECKING:
    from rich.console import Console

    from exposcan.models import Report

EXIT_CLEAN, EXIT_CHANGED, EXIT_ERROR = 0, 1, 2


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="the scan history database [$XDG_DATA_HOME/exposcan/"
        "history.sqlite3, else ~/.local/share/exposcan/history.sqlite3]",
    )


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = sub.add_parser("history", help="list the recorded scans (newest first)")
    add_db_option(history)
    history.add_argument(
        "-n", "--limit", type=int, default=20, metavar="N", help="how many runs, 0 for all [20]"
    )
    history.add_argument("--json", action="store_true", help="print JSON")


def _console() -> Console:
    # rich and the report model when a history is shown: the scan command's
    # parser is built from this module, and a port scan does without them.
    from rich.console import Console

    # Without a terminal (cron mail, a pipe) rich would wrap at 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=140)


def _fail(message: str) -> int:
    print(f"exposcan: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return iso


def run_history(args: argparse.Namespace) -> int:
    try:
        with History.open(args.db, create=False) as history:
            runs = history.runs(args.limit or None)
    except HistoryError as exc:
        if "no history yet" in str(exc):
            runs = []
        else:
            return _fail(str(exc))
    if args.json:
        sys.stdout.write(json.dumps([r.to_json() for r in runs], indent=2) + "\n")
        return EXIT_CLEAN
    if not runs:
        print("no scan recorded yet")
        return EXIT_CLEAN
    from rich.table import Table

    table = Table(title="Scan history (newest first)")
    for col in (
        "id",
        "started",
        "vantage",
        "targets",
        "complete",
        *(s.value for s in Severity),
        "new",
    ):
        table.add_column(col, no_wrap=col != "targets")
    for r in runs:
        new = "-" if r.new is None else f"{r.new} (vs {r.previous_id})"
        table.add_row(
            str(r.id),
            _when(r.started),
            r.vantage,
            " ".join(r.targets),
            "yes" if r.complete else "NO",
            *(str(r.counts[s.value]) for s in Severity),
            new,
        )
    _console().print(table)
    return EXIT_CLEAN


def _load(spec: str, history: History | None) -> tuple[Report, str]:
    from exposcan.audit.diff import load_report

    """A report file, else a run id of the history."""
    path = Path(spec)
    if path.is_file() or not spec.isdigit():
        return load_report(path), spec
    if history is None:
        raise HistoryError(f"{spec}: no such report file, and no history to find run {spec}")
    run = history.run(int(spec))
    if run is None:
        raise HistoryError(f"{history.path}: no run {spec}")
    return history.report(run.id), _label(run)


def _label(run: RunSummary) -> str:
    return f"run {run.id} ({run.started})"


def _last_two(history: History) -> tuple[RunSummary, RunSummary]:
    runs = history.runs(1)
    if not runs:
        raise HistoryError(f"{history.path}: no scan recorded yet")
    new = runs[0]
    old = history.previous_run(new.targets, new.vantage, before=new.id)
    if old is None:
        raise HistoryError(
            f"{history.path}: run {new.id} is the first complete run of "
            f"{' '.join(new.targets)} ({new.vantage}): nothing to compare with"
        )
    return old, new


def run_diff(args: argparse.Namespace) -> int:
    from exposcan.audit.diff import diff_json, diff_reports, render_diff

    if (args.old is None) != (args.new is None):
        return _fail("give both OLD and NEW, or neither (the last two runs of the same targets)")
    history: History | None = None
    try:
        needs_history = args.old is None or any(
            s.isdigit() and not Path(s).is_file() for s in (args.old, args.new)
        )
        if needs_history:
            history = History.open(args.db, create=False)
        if args.old is None:
            assert history is not None
            old_run, new_run = _last_two(history)
            old, old_label = history.report(old_run.id), _label(old_run)
            new, new_label = history.report(new_run.id), _label(new_run)
        else:
            old, old_label = _load(args.old, history)
            new, new_label = _load(args.new, history)
    except (OSError, ValueError, HistoryError) as exc:
        return _fail(str(exc))
    finally:
        if history is not None:
            history.close()
    diff = diff_reports(old, new)
    if args.json:
        sys.stdout.write(json.dumps(diff_json(diff, old_label, new_label), indent=2) + "\n")
    else:
        sys.stdout.write(f"old: {old_label}\nnew: {new_label}\n")
        sys.stdout.write(render_diff(diff, unchanged=True))
    return EXIT_CHANGED if diff.changed else EXIT_CLEAN
