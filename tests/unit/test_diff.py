import json
from pathlib import Path

from exposcan.audit.diff import diff_reports
from exposcan.models import Finding, Severity, finding_key
from tests.support.cli import CliRun, run_cli
from tests.unit.test_report_schema import sample_report


def _with(findings: list[Finding]):  # type: ignore[no-untyped-def]
    return sample_report().model_copy(update={"findings": findings})


def _finding(host: str, port: int) -> Finding:
    return Finding(
        rule="dicom.query-open",
        severity=Severity.HIGH,
        host=host,
        port=port,
        protocol="dicom",
        title="t",
        key=finding_key("dicom.query-open", host, port),
    )


def test_pairs_by_key() -> None:
    # Given yesterday's report with A and B, and today's with B and C
    a, b, c = (_finding(f"198.18.0.{i}", 104) for i in (10, 11, 12))
    diff = diff_reports(_with([a, b]), _with([b, c]))
    # Then C is new, A is gone, B is kept
    assert (diff.new, diff.gone, diff.kept) == ([c], [a], [b])
    assert diff.changed


def test_same_findings_is_no_change() -> None:
    a = _finding("198.18.0.10", 104)
    assert not diff_reports(_with([a]), _with([a])).changed


def test_cli_diff_exit_codes(tmp_path: Path) -> None:
    a, c = _finding("198.18.0.10", 104), _finding("198.18.0.12", 104)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(_with([a]).to_json())
    new.write_text(_with([a, c]).to_json())

    def run(*paths: Path) -> CliRun:
        return run_cli("diff", *map(str, paths))

    same = run(old, old)
    changed = run(old, new)
    (tmp_path / "bad.json").write_text(json.dumps({"schema": "nope"}))
    broken = run(old, tmp_path / "bad.json")
    assert same.returncode == 0 and "no change" in same.stdout
    assert changed.returncode == 1
    assert "+ high" in changed.stdout and "198.18.0.12:104" in changed.stdout
    assert broken.returncode == 2
