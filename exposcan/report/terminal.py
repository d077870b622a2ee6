"""What a person reads at the end of a scan, and the live progress line."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from exposcan.models import Report, Severity
from exposcan.state import Progress

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def progress_text(progress: Progress) -> Text:
    return Text.assemble(
        ("exposcan ", "bold"),
        (f"[{progress.phase}] ", "cyan"),
        f"hosts {progress.hosts_found}  ",
        f"ports {progress.ports_checked}/{progress.ports_total}  ",
        f"probes {progress.probes_run}  ",
        (f"findings {progress.findings}", "bold red" if progress.findings else ""),
    )


class LiveProgress:
    """A live status line on a terminal; nothing at all without one (cron)."""

    def __init__(self, console: Console, progress: Progress) -> None:
        self.progress = progress
        self._live = Live(progress_text(progress), console=console, transient=True,
                          refresh_per_second=8, get_renderable=self._render)

    def _render(self) -> Text:
        return progress_text(self.progress)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)


def _evidence_value(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) if len(value) <= 3 else f"{len(value)} items"
    return str(value)


def _evidence_summary(evidence: Mapping[str, object], limit: int = 4) -> str:
    """The first few evidence items, compact: the JSON report has them all."""
    parts = [f"{k}={_evidence_value(v)}" for k, v in evidence.items() if v is not None]
    return ", ".join(parts[:limit])


def render_summary(report: Report) -> Group:
    scan = report.scan
    head = Text.assemble(
        ("exposcan ", "bold"),
        f"{report.tool.version}  vantage {scan.vantage.value}  ",
        f"{len(report.hosts)} host(s) up  {len(report.findings)} finding(s)  ",
        f"{len(report.errors)} error(s)",
        ("" if scan.complete else "  INCOMPLETE (interrupted)", "bold red"),
    )
    parts: list[object] = [head]
    services = Table(title="Services", show_lines=False, expand=False)
    for col in ("host", "port", "protocol", "product", "version", "tls"):
        services.add_column(col)
    for host in report.hosts:
        for svc in host.services:
            services.add_row(host.address, str(svc.port), svc.protocol, svc.product or "",
                             svc.version or "", "yes" if svc.tls else "")
    if services.row_count:
        parts.append(services)
    if report.findings:
        table = Table(title="Findings", show_lines=False)
        table.add_column("severity", no_wrap=True)
        table.add_column("where", no_wrap=True)
        table.add_column("finding", ratio=2)
        table.add_column("evidence", ratio=3)
        for f in report.findings:
            where = f"{f.host}:{f.port}" if f.port is not None else f.host
            what = Text.assemble(f.title, "\n", (f.rule, "dim"))
            table.add_row(Text(f.severity.value, SEVERITY_STYLE[f.severity]), where, what,
                          _evidence_summary(f.evidence))
        parts.append(table)
    else:
        parts.append(Text("No finding.", "green"))
    if report.errors:
        parts.append(Text(f"{len(report.errors)} probe error(s) (see the JSON report):", "dim"))
        for e in report.errors[:10]:
            where = f"{e.host}:{e.port}" if e.port is not None else e.host
            parts.append(Text(f"  {where} {e.probe}: {e.reason.value} {e.detail}", "dim"))
    for note in scan.notes:
        parts.append(Text(f"note: {note}", "italic"))
    return Group(*parts)  # type: ignore[arg-type]
