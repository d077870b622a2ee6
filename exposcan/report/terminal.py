"""What a person reads at the end of a scan, and the live progress line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from exposcan.catalogue import Catalogue, default_catalogue
from exposcan.models import Finding, Report, Service, Severity
from exposcan.net.targets import url_host
from exposcan.report.decoy_text import decoy_text
from exposcan.report.i18n import Texts
from exposcan.report.outside_text import door_rows, outside_facts
from exposcan.report.verdict_text import action_text, internet_answer, lan_answer
from exposcan.state import Progress
from exposcan.verdict import decide, severity_order

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
        self._live = Live(
            progress_text(progress),
            console=console,
            transient=True,
            refresh_per_second=8,
            get_renderable=self._render,
        )

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


_TONE_STYLE = {"bad": "bold white on red", "good": "bold green", "unknown": "bold yellow"}


def _rule_name(rule: str, fallback: str, lang: str, catalogue: Catalogue) -> str:
    found = catalogue.rules.get(rule)
    return found.info.text(lang).name if found else fallback


def tls_cell(svc: Service) -> str:
    """The services table's TLS cell: the version and the certificate's key
    when the handshake was read (the rest is in the JSON and the HTML)."""
    if not svc.tls:
        return ""
    d = svc.details
    key = " ".join(str(d[k]) for k in ("cert_key_type", "cert_key_bits") if d.get(k) is not None)
    parts = [str(d["tls_version"]) if d.get("tls_version") else "yes", key]
    return " ".join(p for p in parts if p)


def render_verdict(report: Report, lang: str = "en", catalogue: Catalogue | None = None) -> Group:
    """The answer in plain words, as on the HTML report's first screen."""
    texts = Texts(lang)
    verdict = decide(report, catalogue)
    parts: list[object] = []
    for answer in (internet_answer(verdict, texts), lan_answer(verdict, texts)):
        parts.append(
            Text.assemble(
                (answer.question, "bold"), " ", (f" {answer.word} ", _TONE_STYLE[answer.tone])
            )
        )
        parts.append(Text("  " + answer.sentence))
    parts.append(Text(texts("q.actions"), "bold"))
    for i, action in enumerate(verdict.first_actions, 1):
        parts.append(Text(f"  {i}. {action_text(action, texts)}"))
    counts = ", ".join(
        f"{verdict.counts.get(s, 0)} {texts('severity.' + s.value).lower()}"
        for s in severity_order()
    )
    parts.append(Text.assemble((texts("terminal.findings") + ": ", "bold"), counts))
    return Group(*parts)  # type: ignore[arg-type]


def _outside_parts(report: Report, texts: Texts) -> list[object]:
    """The doors seen from outside and the LAN service behind each."""
    if report.outside is None:
        return []
    parts: list[object] = [Text(line) for line in outside_facts(report, texts)]
    rows = door_rows(report.outside, texts)
    if rows:
        parts.append(Text(texts("outside.title"), "bold"))
    for row in rows:
        # "public 203.0.113.1:50104 -> 198.18.0.10:104 (dicom Orthanc 1.10.1, ...)"
        parts.append(
            Text.assemble(
                "  ",
                (row.public, "bold red" if row.proof else "yellow"),
                f" \u2192 {row.lan} ({row.what}): {row.seen}; {row.upnp}",
            )
        )
    if not rows and report.outside.status == "done":
        parts.append(Text(texts("outside.none"), "green"))
    return parts


#: Information findings of one rule on one host past this many are one row
#: in the terminal (one lying box made 256 of them, 900 lines).
AGGREGATE_OVER = 3
_PORTS_SHOWN = 5


def _rows(findings: Sequence[Finding]) -> list[tuple[Finding, int, list[int]]]:
    """(finding, how many it stands for, their ports), worst first; info
    findings of one rule and host over AGGREGATE_OVER folded into the first."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.severity is Severity.INFO:
            groups.setdefault((f.rule, f.host), []).append(f)
    rows: list[tuple[Finding, int, list[int]]] = []
    folded: set[tuple[str, str]] = set()
    for f in sorted(findings, key=lambda f: -f.severity.rank):
        group = groups.get((f.rule, f.host), [])
        if len(group) <= AGGREGATE_OVER:
            rows.append((f, 1, []))
        elif (f.rule, f.host) not in folded:
            folded.add((f.rule, f.host))
            ports = sorted({g.port for g in group if g.port is not None})
            rows.append((f, len(group), ports))
    return rows


def render_summary(
    report: Report,
    outputs: Sequence[str] = (),
    lang: str = "en",
    catalogue: Catalogue | None = None,
) -> Group:
    """The end-of-scan summary: the verdict, the findings by severity, then
    where the full report is (the -o paths)."""
    texts = Texts(lang)
    scan = report.scan
    head = Text.assemble(
        ("exposcan ", "bold"),
        f"{report.tool.version}  vantage {scan.vantage.value}  ",
        f"{len(report.hosts)} host(s) up  {len(report.findings)} finding(s)  ",
        f"{len(report.errors)} error(s)",
        ("" if scan.complete else "  INCOMPLETE (interrupted)", "bold red"),
    )
    # The words of the catalogue the scan used (default: the shipped one).
    catalogue = catalogue or default_catalogue()
    parts: list[object] = [head, render_verdict(report, lang, catalogue)]
    parts += _outside_parts(report, texts)
    if report.findings:
        table = Table(title=texts("findings.title"), show_lines=False)
        table.add_column(texts("terminal.severity"), no_wrap=True)
        table.add_column(texts("finding.where"), no_wrap=True)
        table.add_column(texts("terminal.finding"), ratio=2)
        table.add_column(texts("terminal.evidence"), ratio=3)
        for f, count, ports in _rows(report.findings):
            where = f"{url_host(f.host)}:{f.port}" if f.port is not None else f.host
            evidence = _evidence_summary(f.evidence)
            if count > 1:
                where = url_host(f.host)
                shown = ",".join(map(str, ports[:_PORTS_SHOWN]))
                shown += ",..." if len(ports) > _PORTS_SHOWN else ""
                evidence = texts("terminal.aggregated", count=count, ports=shown or "-")
            what = Text.assemble(
                _rule_name(f.rule, f.title, lang, catalogue), "\n", (f.rule, "dim")
            )
            # Every cell a Text, never a markup string: a host, a product or
            # an evidence value is whatever the network said ("[link=...]").
            if f.decoy is not None:
                # Labelled, never hidden: a CERT filters on the label.
                what.append("\n" + decoy_text(f.decoy, texts, catalogue), "bold yellow")
            table.add_row(
                Text(texts("severity." + f.severity.value), SEVERITY_STYLE[f.severity]),
                Text(where),
                what,
                Text(evidence),
            )
        parts.append(table)
    else:
        parts.append(Text("No finding.", "green"))
    services = Table(title="Services", show_lines=False, expand=False)
    for col in ("host", "port", "protocol", "product", "version", "tls"):
        services.add_column(col)
    for host in report.hosts:
        for svc in host.services:
            product = svc.product or ""
            if svc.toolkit and svc.toolkit.split(" ")[0] != product:
                product += f" ({texts('hosts.toolkit')}: {svc.toolkit})"
            services.add_row(
                *(
                    Text(cell)
                    for cell in (
                        host.address,
                        str(svc.port),
                        svc.protocol,
                        product + (f" [{texts('decoy.short')}]" if svc.decoy else ""),
                        svc.version or "",
                        tls_cell(svc),
                    )
                )
            )
    if services.row_count:
        parts.append(services)
    if report.errors:
        parts.append(Text(f"{len(report.errors)} probe error(s) (see the JSON report):", "dim"))
        for e in report.errors[:10]:
            where = f"{url_host(e.host)}:{e.port}" if e.port is not None else e.host
            parts.append(Text(f"  {where} {e.probe}: {e.reason.value} {e.detail}", "dim"))
    for note in texts.notes(scan):
        parts.append(Text(f"note: {note}", "italic"))
    for path in outputs:
        parts.append(Text.assemble((texts("terminal.report") + ": ", "bold"), path))
    return Group(*parts)  # type: ignore[arg-type]
