"""A scan as a cron audit: its baseline, its record in the history, its alert.

``scan --baseline last`` compares with the previous complete run of the same
targets from the same vantage in the history; every scan is recorded there;
``--notify`` sends the verdict when something at or above ``--fail-on`` is
new against the baseline (every run with ``--notify-always``). Without a
baseline every finding counts as new, as the exit code already does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console

from exposcan.audit.diff import diff_reports
from exposcan.audit.history import History, HistoryError, RunSummary
from exposcan.models import Report

if TYPE_CHECKING:
    from exposcan.audit.notify.deliver import Delivery, Target

BASELINE_LAST = "last"


class AuditError(RuntimeError):
    """The audit cannot run as asked (exit code 2, before any scan)."""


@dataclass
class Audit:
    history: History | None
    history_problem: str | None
    targets: list[Target]
    notify_always: bool
    fail_on: str
    use_last: bool
    #: Language of the HTML report mailed (None: the locale's).
    lang: str | None = None
    baseline_label: str = "none"
    recorded: RunSummary | None = None
    deliveries: list[Delivery] = field(default_factory=list)

    @classmethod
    def prepare(
        cls,
        db: str | None,
        baseline: str | None,
        notify: list[str],
        notify_always: bool,
        fail_on: str,
        lang: str | None = None,
    ) -> Audit:
        """Check everything the audit needs before the scan starts: a bad
        --notify URL or an unreadable history must not cost a whole scan."""
        # Imported when notifications are asked for: a plain scan's start-up
        # does not pay for the mail and webhook code.
        from exposcan.audit.notify.deliver import parse_targets

        targets = parse_targets(notify)  # NotifyConfigError (a ValueError)
        use_last = baseline == BASELINE_LAST
        try:
            history, problem = History.open(db), None
        except HistoryError as exc:
            if use_last:
                raise AuditError(f"--baseline last needs the history: {exc}") from exc
            history, problem = None, str(exc)
        return cls(
            history,
            problem,
            targets,
            notify_always,
            fail_on,
            use_last,
            lang,
            baseline_label=baseline or "none",
        )

    def conclude(
        self, report: Report, baseline: Report | None, err: Console, quiet: bool
    ) -> Report | None:
        """After the scan: find the "last" baseline, record the run, send the
        alert. Returns the baseline the exit code is to be computed against."""
        if self.use_last:
            baseline = self._last(report, err, quiet)
        self._record(report, err)
        diff = diff_reports(baseline, report) if baseline is not None else None
        from exposcan.audit.notify.deliver import Alert, deliver

        alert = Alert.build(report, diff, self.baseline_label, self.fail_on)
        if self.targets and (alert.alarming or self.notify_always):
            self.deliveries = asyncio.run(deliver(self.targets, alert, self.lang))
            for d in self.deliveries:
                if not d.ok:  # even with -q: cron mails stderr to the admin
                    err.print(
                        f"exposcan: notify {d.label} failed: {d.error}",
                        markup=False,
                        soft_wrap=True,
                    )
                elif not quiet:
                    err.print(
                        f"exposcan: notified {d.label} ({alert.verdict})",
                        markup=False,
                        soft_wrap=True,
                    )
        if self.history is not None:
            self.history.close()
        return baseline

    def _last(self, report: Report, err: Console, quiet: bool) -> Report | None:
        assert self.history is not None  # prepare() refused to go on without it
        scan = report.scan
        try:
            previous = self.history.previous_run(scan.targets, scan.vantage.value)
            if previous is not None:
                self.baseline_label = f"run {previous.id} ({previous.started})"
                return self.history.report(previous.id)
        except (HistoryError, ValueError) as exc:
            err.print(
                f"exposcan: warning: cannot read the last run: {exc}", markup=False, soft_wrap=True
            )
        self.baseline_label = "none (first run of these targets)"
        if not quiet:
            err.print(
                "exposcan: no previous complete run of these targets in the history: "
                "every finding counts as new",
                markup=False,
                soft_wrap=True,
            )
        return None

    def _record(self, report: Report, err: Console) -> None:
        if self.history is None:
            err.print(
                f"exposcan: warning: this run is not recorded: {self.history_problem}",
                markup=False,
                soft_wrap=True,
            )
            return
        try:
            self.recorded = self.history.record(report)
        except HistoryError as exc:
            err.print(
                f"exposcan: warning: this run is not recorded: {exc}", markup=False, soft_wrap=True
            )
