"""The scan history (SQLite) and the history/diff commands over it."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exposcan.audit.history import History, HistoryError, default_db_path
from exposcan.models import Finding, Report, Severity, Vantage, finding_key
from tests.support.cli import run_cli
from tests.unit.test_report_schema import sample_report

T0 = datetime(2026, 3, 2, 6, 17, tzinfo=UTC)


def _finding(host: str, port: int, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(
        rule="dicom.query-open",
        severity=severity,
        host=host,
        port=port,
        protocol="dicom",
        title="C-FIND open",
        key=finding_key("dicom.query-open", host, port),
    )


def _run(
    findings: list[Finding],
    day: int = 0,
    targets: list[str] | None = None,
    complete: bool = True,
    vantage: str = "lan",
) -> Report:
    base = sample_report()
    scan = base.scan.model_copy(
        update={
            "started": T0 + timedelta(days=day),
            "finished": T0 + timedelta(days=day, minutes=1),
            "targets": targets or ["198.18.0.0/24"],
            "complete": complete,
            "vantage": Vantage(vantage),
        }
    )
    return base.model_copy(update={"scan": scan, "findings": findings})


A, B, C = (_finding(f"198.18.0.{i}", 104) for i in (10, 11, 12))


def test_runs_pair_with_the_previous_complete_run_of_the_same_targets(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.sqlite3") as h:
        # Given a first run, an interrupted one, another target and a vantage
        first = h.record(_run([A, B], day=0))
        h.record(_run([A], day=1, complete=False))
        h.record(_run([C], day=1, targets=["198.18.1.0/24"]))
        h.record(_run([C], day=1, vantage="internet"))
        # When the next run of the same targets is recorded (in another order)
        latest = h.record(_run([B, C], day=2, targets=["198.18.0.0/24"]))
        # Then it pairs with the first (complete, same targets, same vantage)
        assert latest.previous_id == first.id
        assert latest.new == 1  # C
        assert latest.counts["high"] == 2
        assert first.new is None and first.previous_id is None
        # And "last" for these targets is now the latest run
        last = h.previous_run(["198.18.0.0/24"], "lan")
        assert last is not None and last.id == latest.id
        assert {f.key for f in h.report(last.id).findings} == {B.key, C.key}
        assert [r.id for r in h.runs(2)] == [latest.id, latest.id - 1]
        assert len(h.runs()) == 5


def test_db_and_folder_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the default location under XDG_DATA_HOME
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "exposcan" / "history.sqlite3"
    # When a run is recorded
    with History.open() as h:
        h.record(_run([A]))
        path = h.path
    # Then the file is 0600 and its folder 0700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    # And an existing world-readable one is made private again
    os.chmod(path, 0o644)
    os.chmod(path.parent, 0o755)
    History.open().close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_relative_or_empty_xdg_falls_back_to_home(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("", "relative/dir"):
        monkeypatch.setenv("XDG_DATA_HOME", value)
        assert default_db_path() == Path.home() / ".local/share/exposcan/history.sqlite3"


def test_unusable_files_are_errors(tmp_path: Path) -> None:
    # Given a file that is not SQLite, and one from a newer exposcan
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    # Then opening either is a HistoryError naming the file
    for path in (junk, newer):
        with pytest.raises(HistoryError, match=str(path)):
            History.open(path)
    with pytest.raises(HistoryError, match="no history yet"):
        History.open(tmp_path / "absent.sqlite3", create=False)


def test_history_and_diff_commands(tmp_path: Path) -> None:
    # Given three runs of the same targets: A; A B; A C (B resolved, C new)
    db = tmp_path / "h.sqlite3"
    with History.open(db) as h:
        for day, findings in enumerate(([A], [A, B], [A, C])):
            h.record(_run(findings, day=day))
    # When the history is listed
    listed = run_cli("history", "--db", str(db), "--json")
    runs = json.loads(listed.stdout)
    # Then newest first, with counts and what was new against the previous run
    assert [(r["id"], r["new"], r["previous"]) for r in runs] == [
        (3, 1, 2),
        (2, 1, 1),
        (1, None, None),
    ]
    table = run_cli("history", "--db", str(db))
    assert table.returncode == 0 and "198.18.0.0/24" in table.stdout and "1 (vs 2)" in table.stdout
    # When diff runs with no argument: the last two runs of the same targets
    default = run_cli("diff", "--db", str(db))
    # Then it names the new, the resolved and the unchanged finding, exit 1
    assert default.returncode == 1, default.stderr
    lines = default.stdout.splitlines()
    assert lines[0].startswith("old: run 2 ") and lines[1].startswith("new: run 3 ")
    assert any(line.startswith("+ high") and "198.18.0.12:104" in line for line in lines)
    assert any(line.startswith("- high") and "198.18.0.11:104" in line for line in lines)
    assert any(line.startswith("= high") and "198.18.0.10:104" in line for line in lines)
    # And as JSON, between run ids, or a run id and a report file
    as_json = json.loads(run_cli("diff", "--db", str(db), "--json", "1", "3").stdout)
    assert as_json["schema"] == "exposcan.audit.diff/1" and as_json["changed"] is True
    assert [f["host"] for f in as_json["new_findings"]] == ["198.18.0.12"]
    assert as_json["resolved"] == [] and len(as_json["unchanged"]) == 1
    report_file = tmp_path / "r.json"
    report_file.write_text(_run([A]).to_json())
    same = run_cli("diff", "--db", str(db), "1", str(report_file))
    assert same.returncode == 0 and "no change" in same.stdout


def test_diff_errors_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    with History.open(db) as h:
        h.record(_run([A]))
    for args, message in (
        (["diff", "--db", str(db)], "nothing to compare with"),
        (["diff", "--db", str(db), "1"], "give both OLD and NEW"),
        (["diff", "--db", str(db), "1", "7"], "no run 7"),
        (["diff", "--db", str(tmp_path / "none.sqlite3")], "no history yet"),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)


def test_history_without_a_database(tmp_path: Path) -> None:
    proc = run_cli("history", "--db", str(tmp_path / "none.sqlite3"))
    assert proc.returncode == 0 and "no scan recorded yet" in proc.stdout
    assert not (tmp_path / "none.sqlite3").exists()  # reading creates nothing
