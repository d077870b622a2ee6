"""Scan diffs for cron, after nmap's ndiff: pair findings by their stable key.

A cron audit must alert only when something *new* appears: a finding whose
key (rule, host, port) the previous report did not hold.  A finding that
went away is reported too (something was fixed, or a host was down).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exposcan.models import Finding, Report


@dataclass(frozen=True)
class ReportDiff:
    new: list[Finding]
    gone: list[Finding]
    kept: list[Finding]

    @property
    def changed(self) -> bool:
        return bool(self.new or self.gone)


def diff_reports(old: Report, new: Report) -> ReportDiff:
    old_keys = {f.key: f for f in old.findings}
    new_keys = {f.key: f for f in new.findings}
    return ReportDiff(
        new=[f for k, f in new_keys.items() if k not in old_keys],
        gone=[f for k, f in old_keys.items() if k not in new_keys],
        kept=[f for k, f in new_keys.items() if k in old_keys],
    )


def load_report(path: str | Path) -> Report:
    return Report.from_json(Path(path).read_text(encoding="utf-8"))


def render_diff(diff: ReportDiff, unchanged: bool = False) -> str:
    """``+`` new, ``-`` resolved (gone), and with ``unchanged`` ``=`` kept."""
    lines: list[str] = []
    groups = [("+", diff.new), ("-", diff.gone)] + ([("=", diff.kept)] if unchanged else [])
    for sign, findings in groups:
        for f in findings:
            where = f"{f.host}:{f.port}" if f.port is not None else f.host
            lines.append(f"{sign} {f.severity.value:8} {f.rule:28} {where:22} {f.title}")
    if not diff.changed:
        lines.insert(0, f"no change ({len(diff.kept)} finding(s) as before)")
    elif unchanged:
        lines.append(f"{len(diff.new)} new, {len(diff.gone)} resolved, {len(diff.kept)} unchanged")
    return "\n".join(lines) + "\n"


DIFF_SCHEMA = "exposcan.audit.diff/1"


def diff_json(diff: ReportDiff, old: str, new: str) -> dict[str, object]:
    """The diff for programs (``exposcan diff --json``): whole findings, as
    in the reports (which by design hold no patient data)."""

    def dump(findings: list[Finding]) -> list[dict[str, object]]:
        return [f.model_dump(mode="json") for f in findings]

    return {
        "schema": DIFF_SCHEMA,
        "old": old,
        "new": new,
        "changed": diff.changed,
        "new_findings": dump(diff.new),
        "resolved": dump(diff.gone),
        "unchanged": dump(diff.kept),
    }
