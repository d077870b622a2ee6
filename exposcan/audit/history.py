"""The scan history: every run recorded in an embedded SQLite database.

A cron audit needs to know what the *previous* run of the same targets saw
(after nmap's ndiff, which pairs two scans by a stable key). The database
keeps each run's report as written to ``-o FILE.json`` (which by design
holds no patient data: counts, ports, products, versions, share names) plus
one row per finding key, so that ``exposcan history`` can count and
``exposcan diff`` can pair without re-reading every report.

The file lives in the user's data directory (XDG Base Directory spec:
``$XDG_DATA_HOME/exposcan``, else ``~/.local/share/exposcan``). It says where
a practice's images are open, so it is private like a report: the file is
created 0600 and the directory 0700 (docs/imaging-exposure.md: "write them readable by
their owner only").
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from exposcan.vocabulary import Severity

if TYPE_CHECKING:
    from exposcan.models import Report

DB_FILE = "history.sqlite3"
#: PRAGMA user_version of the layout below; a newer file is refused.
SCHEMA_VERSION = 1
#: How long a writer waits for another exposcan holding the file (two cron
#: jobs at the same minute) before giving up with an error.
LOCK_TIMEOUT_S = 15.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started     TEXT NOT NULL,
    finished    TEXT NOT NULL,
    vantage     TEXT NOT NULL,
    targets     TEXT NOT NULL,   -- JSON list, as the report says
    target_key  TEXT NOT NULL,   -- sorted JSON list: what "same targets" means
    ports       TEXT NOT NULL,
    complete    INTEGER NOT NULL,
    version     TEXT NOT NULL,
    previous_id INTEGER REFERENCES runs(id),
    new_count   INTEGER,         -- keys previous_id lacked (NULL: no previous run)
    report      TEXT NOT NULL    -- the JSON report (exposcan.report/1)
);
CREATE INDEX IF NOT EXISTS runs_by_target ON runs (target_key, vantage, complete, id);
CREATE TABLE IF NOT EXISTS findings (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    rule     TEXT NOT NULL,
    severity TEXT NOT NULL,
    host     TEXT NOT NULL,
    port     INTEGER,
    PRIMARY KEY (run_id, key)
);
"""


class HistoryError(RuntimeError):
    """The history database cannot be opened, read or written."""


def default_db_path() -> Path:
    # XDG Base Directory spec: an unset, empty or relative XDG_DATA_HOME is
    # ignored in favour of ~/.local/share.
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "exposcan" / DB_FILE


def target_key(targets: list[str]) -> str:
    """Two runs are of "the same targets" when they name the same set."""
    return json.dumps(sorted(set(targets)))


@dataclass(frozen=True)
class RunSummary:
    id: int
    started: str
    finished: str
    vantage: str
    targets: list[str]
    ports: str
    complete: bool
    version: str
    previous_id: int | None
    #: Findings whose key the previous complete run of the same targets and
    #: vantage did not hold; None when there was no such run.
    new: int | None
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "started": self.started,
            "finished": self.finished,
            "vantage": self.vantage,
            "targets": self.targets,
            "ports": self.ports,
            "complete": self.complete,
            "version": self.version,
            "previous": self.previous_id,
            "new": self.new,
            "counts": self.counts,
        }


def _private_parent(path: Path, own_dir: bool) -> None:
    """Create the folder 0700. ``own_dir``: it is exposcan's own data folder,
    so an existing one is made private too; a folder the user named with
    --db that already exists (their home, /var/lib/...) is left as it is."""
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
        os.chmod(parent, 0o700)  # mkdir's mode is filtered by the umask
    elif own_dir:
        os.chmod(parent, 0o700)


def _private_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    # Also an existing file made by hand or by an older release: SQLite gives
    # its journal the database file's mode, so this covers both.
    os.chmod(path, 0o600)


class History:
    """One open history database. ``with History.open(path) as h: ...``"""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    @classmethod
    def open(cls, path: str | Path | None = None, create: bool = True) -> History:
        own = path is None
        db = default_db_path() if path is None else Path(path).expanduser()
        try:
            if create:
                _private_parent(db, own_dir=own)
                _private_file(db)
            elif not db.exists():
                raise HistoryError(f"{db}: no history yet (no scan recorded there)")
            conn = sqlite3.connect(db, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"{db}: cannot open the history: {exc}") from exc
        history = cls(db, conn)
        try:
            history._migrate()
        except sqlite3.Error as exc:
            conn.close()
            raise HistoryError(f"{db}: not a usable exposcan history: {exc}") from exc
        return history

    def _migrate(self) -> None:
        self._conn.execute("PRAGMA foreign_keys = ON")
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"{self.path}: written by a newer exposcan (layout {version}); upgrade exposcan"
            )
        if version < SCHEMA_VERSION:
            with self._tx():
                # One statement at a time: executescript() would COMMIT the
                # transaction that holds the write lock.
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front: two audits started
        # by the same cron minute serialise instead of failing half-way.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writing -----------------------------------------------------------

    def record(self, report: Report) -> RunSummary:
        """Add a run (complete or not); returns its summary."""
        return self.record_document(report.model_dump(mode="json", by_alias=True))

    def record_document(self, report: dict[str, Any]) -> RunSummary:
        """:meth:`record` of a report as its JSON document (a port scan's,
        written without the report model: :mod:`exposcan.port_scan`)."""
        scan = report["scan"]
        key = target_key(scan["targets"])
        findings = report["findings"]
        try:
            with self._tx() as db:
                previous = self._previous_id(key, scan["vantage"], before=None)
                new_count = None
                if previous is not None:
                    old = {
                        r[0]
                        for r in db.execute(
                            "SELECT key FROM findings WHERE run_id = ?", (previous,)
                        )
                    }
                    new_count = len({f["key"] for f in findings} - old)
                cur = db.execute(
                    "INSERT INTO runs (started, finished, vantage, targets, target_key, ports,"
                    " complete, version, previous_id, new_count, report)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        _iso(scan["started"]),
                        _iso(scan["finished"]),
                        scan["vantage"],
                        json.dumps(scan["targets"]),
                        key,
                        scan["ports"],
                        int(scan["complete"]),
                        report["tool"]["version"],
                        previous,
                        new_count,
                        # Compact: a 254-host report is ~40 % smaller than indented.
                        json.dumps(report, ensure_ascii=False, separators=(",", ":")),
                    ),
                )
                run_id = cur.lastrowid
                assert run_id is not None
                db.executemany(
                    "INSERT OR IGNORE INTO findings (run_id, key, rule, severity, host, port)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (run_id, f["key"], f["rule"], f["severity"], f["host"], f["port"])
                        for f in findings
                    ],
                )
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot record the run: {exc}") from exc
        summary = self.run(run_id)
        assert summary is not None
        return summary

    # --- reading -----------------------------------------------------------

    def _previous_id(self, key: str, vantage: str, before: int | None) -> int | None:
        """The latest *complete* run of these targets from this vantage: an
        interrupted run saw less, and would make every finding look new."""
        row = self._conn.execute(
            "SELECT id FROM runs WHERE target_key = ? AND vantage = ? AND complete = 1"
            " AND id < ? ORDER BY id DESC LIMIT 1",
            (key, vantage, before if before is not None else 2**62),
        ).fetchone()
        return int(row[0]) if row else None

    def previous_run(
        self, targets: list[str], vantage: str, before: int | None = None
    ) -> RunSummary | None:
        try:
            run_id = self._previous_id(target_key(targets), vantage, before)
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot read the history: {exc}") from exc
        return None if run_id is None else self.run(run_id)

    def runs(self, limit: int | None = None) -> list[RunSummary]:
        """Most recent first."""
        try:
            # SQLite: a negative LIMIT means no limit.
            ids = [
                int(r[0])
                for r in self._conn.execute(
                    "SELECT id FROM runs ORDER BY id DESC LIMIT ?",
                    (limit if limit is not None else -1,),
                )
            ]
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot read the history: {exc}") from exc
        return [s for s in (self.run(i) for i in ids) if s is not None]

    def run(self, run_id: int) -> RunSummary | None:
        try:
            row = self._conn.execute(
                "SELECT id, started, finished, vantage, targets, ports, complete, version,"
                " previous_id, new_count FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                return None
            counts = {s.value: 0 for s in Severity}
            for severity, n in self._conn.execute(
                "SELECT severity, COUNT(*) FROM findings WHERE run_id = ? GROUP BY severity",
                (run_id,),
            ):
                counts[str(severity)] = int(n)
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot read the history: {exc}") from exc
        return RunSummary(
            id=int(row[0]),
            started=row[1],
            finished=row[2],
            vantage=row[3],
            targets=list(json.loads(row[4])),
            ports=row[5],
            complete=bool(row[6]),
            version=row[7],
            previous_id=row[8],
            new=row[9],
            counts=counts,
        )

    def report(self, run_id: int) -> Report:
        try:
            row = self._conn.execute("SELECT report FROM runs WHERE id = ?", (run_id,)).fetchone()
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot read the history: {exc}") from exc
        if row is None:
            raise HistoryError(f"{self.path}: no run {run_id}")
        from exposcan.models import Report

        return Report.from_json(row[0])


def _iso(when: str) -> str:
    """A report's time as the history has always stored it (Python's
    ``isoformat``: ``+00:00``, where the JSON document says ``Z``)."""
    return when[:-1] + "+00:00" if when.endswith("Z") else when
