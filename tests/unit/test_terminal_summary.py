"""The end-of-scan summary reads like the report's first screen."""

from __future__ import annotations

from rich.console import Console

from exposcan.models import Severity, Vantage
from exposcan.report.terminal import render_summary
from tests.unit.test_html_report import lab_like_report


def printed(lang: str, outputs: list[str]) -> str:
    console = Console(width=200, record=True, color_system=None)
    with console.capture() as capture:
        console.print(render_summary(lab_like_report(), outputs, lang))
    return capture.get()


def test_verdict_then_findings_then_where_the_reports_are() -> None:
    out = printed("en", ["r.html", "r.json"])
    order = [
        out.index(s)
        for s in (
            "Can patient images be reached from the internet?",
            "Can anyone on the practice network reach patient images?",
            "What to do first",
            "1. Close the internet box's forwards to 198.18.0.1:104",
            "Findings by severity: 1 critical, 4 high, 0 medium, 1 low, 1 information",
            "Critical",  # the table, worst first
            "Services",
            "Full report: r.html",
            "Full report: r.json",
        )
    ]
    assert order == sorted(order)


def test_the_summary_speaks_french() -> None:
    out = printed("fr", ["r.html"])
    assert "Les images des patients sont-elles accessibles depuis internet ?" in out
    assert "Que faire d'abord" in out and "Rapport complet: r.html" in out
    # Rule titles come from the catalogue's French
    assert "Nœud DICOM qui répond aux requêtes d'un appelant quelconque" in out


def test_an_internet_side_summary_does_not_judge_the_lan() -> None:
    console = Console(width=200, record=True, color_system=None)
    with console.capture() as capture:
        console.print(render_summary(lab_like_report(Vantage.INTERNET), []))
    assert "Not known from here" in capture.get()


def test_information_findings_of_one_kind_and_host_are_one_row() -> None:
    # Given a report where one box lists 256 forwards (256 info findings of
    # one rule) besides the lab-like findings
    base = lab_like_report()
    info = next(f for f in base.findings if f.severity is Severity.INFO)
    many = [info.model_copy(update={"port": 1000 + i}) for i in range(256)]
    report = base.model_copy(update={"findings": [*base.findings, *many]})
    console = Console(width=200, record=True, color_system=None)
    with console.capture() as capture:
        console.print(render_summary(report, []))
    out = capture.get()
    # Then they are one row naming how many and a few ports, the others intact
    assert "257 findings of this kind on this host, ports" in out
    assert out.count(info.rule) == 1
    assert len(out.splitlines()) < 120
    # and a handful of findings of one kind are still listed one by one
    few = base.model_copy(update={"findings": [*base.findings, *many[:2]]})
    with console.capture() as capture:
        console.print(render_summary(few, []))
    assert capture.get().count(info.rule) == 3
