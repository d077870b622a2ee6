"""In the lab: the HTML report of a real scan, opened in Chromium.

From the workstation, the real CLI scans the practice (the hostile host
aside: test_scan_lab covers it) and writes ``-o report.html -o report.json``;
``exposcan report`` renders the JSON in the other language; from the lab
internet host a scan of the box's public address writes its own report.
Chromium (file:// only, no network at all) opens each one: no console error,
the verdict on the first screen, A4 pages; screenshots are kept in
tests/artifacts/ (or $EXPOSCAN_ARTIFACTS) for a person to look at.
"""

from __future__ import annotations

import os
import stat
import subprocess
from html import unescape
from pathlib import Path

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.browser import Browser, artifacts_dir, pdf_pages
from tests.html_checks import assert_self_contained
from tests.lab.conftest import REPO, run_exposcan
from tests.support.cli import run_cli

pytestmark = pytest.mark.lab

#: Every lab LAN host but the hostile one (.50) and the workstation.
LAN_RANGE = f"{t.BOX_LAN_IP}-{str(t.MODALITY.ip).rsplit('.', 1)[1]}"


@pytest.fixture(scope="module")
def reports(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    work = tmp_path_factory.mktemp("html")
    lan_html, lan_json = work / "report.html", work / "report.json"
    # When the practitioner scans the practice from the workstation, HTML and JSON
    lan = run_exposcan(
        lab,
        "ws",
        ["scan", LAN_RANGE, "--lang", "en", "-o", str(lan_html), "-o", str(lan_json)],
        timeout=300,
    )
    # Then it exits 1: the practice's open PACS and shares are findings at
    # or above the default --fail-on high
    assert lan.returncode == 1, lan.stderr
    # And renders the JSON again in French
    fr_html = work / "report.fr.html"
    again = run_cli("report", str(lan_json), "-o", str(fr_html), "--lang", "fr", cwd=REPO)
    assert again.returncode == 0, again.stderr
    # And a scan from the internet side writes its own report, in French
    inet_html = work / "internet.fr.html"
    ports = ",".join(str(f.wan_port) for f in t.FORWARDS)
    inet = run_exposcan(
        lab,
        "inet",
        [
            "scan",
            "--vantage",
            "internet",
            str(t.BOX_WAN_IP),
            "-p",
            ports,
            "--lang",
            "fr",
            "-o",
            str(inet_html),
        ],
        timeout=300,
    )
    # Then it exits 1 too: the box forwards a PACS to the internet
    assert inet.returncode == 1, inet.stderr
    return {"lan": lan, "inet": inet, "en": lan_html, "fr": fr_html, "internet": inet_html}


def _html(reports: dict[str, object], name: str) -> str:
    path = reports[name]
    assert isinstance(path, Path)
    return path.read_text()


@pytest.mark.parametrize("name", ["en", "fr", "internet"])
def test_reports_are_private_self_contained_and_hold_no_patient_data(
    reports: dict[str, object], name: str
) -> None:
    path = reports[name]
    assert isinstance(path, Path)
    # Then each file is readable by its owner only
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    html = path.read_text()
    # And it loads nothing from anywhere
    assert_self_contained(html)
    # And no canary patient string nor lab secret is in it
    text = unescape(html)
    leaked = [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in text]
    assert leaked == []


def test_the_terminal_summary_reads_like_the_first_screen(reports: dict[str, object]) -> None:
    lan = reports["lan"]
    assert isinstance(lan, subprocess.CompletedProcess)
    out: str = lan.stdout
    # Then the verdict comes first, then the findings, then where the report is
    q_internet = out.index("Can patient images be reached from the internet?")
    q_lan = out.index("Can anyone on the practice network reach patient images?")
    first = out.index("What to do first")
    table = out.index("Findings")
    where = out.index(f"Full report: {reports['en']}")
    assert q_internet < q_lan < first < table < where
    # And the box's forward to the PACS makes the internet answer a yes
    assert "Yes" in out[q_internet:q_lan] and f"{t.PACS.ip}:{t.PACS_DICOM_PORT}" in out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "en",
            [
                "Can patient images be reached from the internet?",
                "Yes",
                "The internet box forwards internet ports to 2 imaging service(s)",
                "Close the internet box's forwards",
            ],
        ),
        (
            "fr",
            [
                "Les images des patients sont-elles accessibles depuis internet ?",
                "Oui",
                "La box internet redirige des ports internet vers 2 service(s) d'imagerie",
                "Fermer dès aujourd'hui les redirections",
            ],
        ),
        (
            "internet",
            [
                "Les images des patients sont-elles accessibles depuis internet ?",
                "Oui",
                f"Depuis l'extérieur du cabinet, {len(t.FORWARDS)} service(s) servent des images "
                "médicales",
                "Non évalué",
            ],
        ),
    ],
)
def test_chromium_shows_the_verdict_first_with_no_console_error(
    reports: dict[str, object], browser: Browser, name: str, expected: list[str]
) -> None:
    path = reports[name]
    assert isinstance(path, Path)
    # When Chromium opens the report
    page, session = browser.open(path, width=1100, height=1000)
    # Then the console is empty: no error, nothing blocked, nothing loaded
    assert page.errors == [] and page.messages == [], page.messages
    # And the first screen (the viewport, before any scrolling) gives the answer
    first_screen = browser.text(
        session,
        """
        [...document.querySelectorAll('#verdict *')]
          .filter(e => e.getBoundingClientRect().bottom <= innerHeight)
          .map(e => e.innerText).join('\\n')""",
    )
    for words in expected:
        assert words in first_screen, words
    # And the network picture draws the exposure paths in red
    red_paths = browser.text(session, "document.querySelectorAll('path.edge.bad').length")
    assert red_paths >= 2
    # And it prints on A4
    out = artifacts_dir()
    pdf = browser.pdf(session, out / f"lab-report-{name}.pdf")
    pages = pdf_pages(pdf.read_bytes())
    assert pages and all(abs(w - 595) < 2 and abs(h - 842) < 2 for w, h in pages)
    # And the screenshots are kept for a person to check
    shot = browser.screenshot(session, out / f"lab-report-{name}.png")
    full = browser.screenshot(session, out / f"lab-report-{name}-full.png", full_page=True)
    assert shot.stat().st_size > 20_000 and full.stat().st_size > shot.stat().st_size
    print(f"\n{name}: {len(pages)} A4 page(s); screenshots {shot} {full}")
