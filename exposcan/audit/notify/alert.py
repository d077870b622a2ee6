"""What a notification says: the verdict of a run against its baseline.

Built from the report's findings only, and of those only rule, severity,
host, port, protocol, title and key: never evidence, never a service
detail. The webhook adds the verdict's first answer (can images be reached
from the internet, how that is known, and the public and LAN address:port
of each door); the mail, which carries the whole report anyway, says it in
the report's words. A webhook lands in a chat room or a ticketing system
the practice does not control; what it holds must be harmless there
(docs/imaging-exposure.md: "What a report must never hold").
"""

from __future__ import annotations

from dataclasses import dataclass

from exposcan.audit.diff import ReportDiff
from exposcan.models import Finding, Report, Severity, at_or_above
from exposcan.report.i18n import Texts
from exposcan.report.verdict_text import internet_answer
from exposcan.verdict import decide

NOTIFY_SCHEMA = "exposcan.audit.notify/1"


@dataclass(frozen=True)
class Alert:
    report: Report
    #: Findings the baseline did not hold (every finding without a baseline).
    new: list[Finding]
    resolved: int
    unchanged: int
    #: "run 12 (2026-05-01T06:17:03+00:00)", "last.json" or "none".
    baseline: str
    #: Lowest severity that makes a new finding alarming (--fail-on); None:
    #: --fail-on never, nothing is alarming.
    threshold: Severity | None

    @classmethod
    def build(cls, report: Report, diff: ReportDiff | None, baseline: str, fail_on: str) -> Alert:
        threshold = None if fail_on == "never" else Severity(fail_on)
        if diff is None:
            return cls(report, list(report.findings), 0, 0, baseline, threshold)
        return cls(report, list(diff.new), len(diff.gone), len(diff.kept), baseline, threshold)

    @property
    def alarming(self) -> list[Finding]:
        """New findings at or above the threshold: what sets exit code 1."""
        return at_or_above(self.new, self.threshold.value if self.threshold else "never")

    @property
    def verdict(self) -> str:
        """``new``: something new at or above --fail-on; else ``no-new``."""
        return "new" if self.alarming else "no-new"

    def summary(self) -> str:
        scan = self.report.scan
        where = ", ".join(scan.targets) or "(no target)"
        if self.alarming:
            head = (
                f"NEW EXPOSURE: {len(self.alarming)} new finding(s) at or above "
                f"{self.threshold.value if self.threshold else 'never'}"
            )
        else:
            head = "No new exposure"
        tail = "" if scan.complete else " - the scan was INCOMPLETE (interrupted)"
        return f"{head} on {where} ({scan.vantage.value}), against baseline {self.baseline}{tail}"

    def counts(self, findings: list[Finding]) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for f in findings:
            out[f.severity.value] += 1
        return out

    def payload(self) -> dict[str, object]:
        """The webhook body (JSON)."""
        scan = self.report.scan
        return {
            "schema": NOTIFY_SCHEMA,
            "verdict": self.verdict,
            "summary": self.summary(),
            "tool": {"name": "exposcan", "version": self.report.tool.version},
            "scan": {
                "started": scan.started.isoformat(),
                "finished": scan.finished.isoformat(),
                "vantage": scan.vantage.value,
                "targets": list(scan.targets),
                "complete": scan.complete,
                "hosts_scanned": scan.hosts_scanned,
            },
            "baseline": self.baseline,
            "fail_on": self.threshold.value if self.threshold else "never",
            "counts": self.counts(list(self.report.findings)),
            "new_counts": self.counts(self.new),
            "resolved": self.resolved,
            "unchanged": self.unchanged,
            "new_findings": [finding_brief(f) for f in self.new],
            "internet": self.internet(),
        }

    def internet(self) -> dict[str, object]:
        """The first question's answer: how it was known, and the public
        doors that lead to imaging (address:port and the LAN address:port
        behind it; no evidence)."""
        verdict = decide(self.report)
        return {
            "answer": verdict.internet.value,
            "outside_view": verdict.outside,
            "checked": verdict.checked,
            "ports_tried": verdict.ports_tried,
            "places": [
                {"public": p.via or p.where, "lan": p.where if p.via else None}
                for p in verdict.internet_places
            ],
        }

    def text(self) -> str:
        """The mail body: the verdict first, then what is new."""
        lines = [self.summary(), _internet_line(self.report), ""]
        if self.new:
            lines.append("New findings:")
            for f in self.new:
                where = f"{f.host}:{f.port}" if f.port is not None else f.host
                lines.append(f"  {f.severity.value:8} {where:22} {f.title} [{f.rule}]")
        else:
            lines.append("Nothing new against the baseline.")
        counts = self.counts(list(self.report.findings))
        total = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
        lines += [
            "",
            f"All findings of this run: {total}",
            f"Resolved since the baseline: {self.resolved}",
            "",
            "The full report is attached. It holds no patient data, but it says where "
            "the practice's images are open: keep it private.",
        ]
        return "\n".join(lines) + "\n"


def _internet_line(report: Report) -> str:
    """The report's first answer, as the terminal says it (English)."""
    answer = internet_answer(decide(report), Texts("en"))
    return f"{answer.question} {answer.word}. {answer.sentence}"


def finding_brief(f: Finding) -> dict[str, object]:
    """A finding as an alert's JSON carries it (no evidence: counts stay in the report)."""
    return {
        "key": f.key,
        "rule": f.rule,
        "severity": f.severity.value,
        "host": f.host,
        "port": f.port,
        "protocol": f.protocol,
        "title": f.title,
    }
