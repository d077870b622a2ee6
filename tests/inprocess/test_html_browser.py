"""The HTML report in a real browser (headless Chromium, file:// only):
hostile strings stay text, nothing runs, nothing loads, A4 pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from exposcan.report.write import write_report
from tests.browser import Browser, artifacts_dir, pdf_pages
from tests.unit.test_html_report import HOSTILE, lab_like_report

A4 = (595.0, 842.0)  # points


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_hostile_strings_do_not_run_in_a_browser(
    browser: Browser, tmp_path: Path, lang: str
) -> None:
    # Given a report whose peer-controlled strings try to run script, load an
    # iframe, a style sheet, an image, or redirect the page
    path = tmp_path / f"hostile-{lang}.html"
    write_report(lab_like_report(hostile=True), str(path), lang)
    # When Chromium opens it
    page, session = browser.open(path)
    # Then nothing ran and nothing was even attempted: no console message at all
    # (each payload would console.error, and a blocked load logs a CSP error)
    assert page.messages == []
    # And the document holds only what the template made
    counts = browser.text(
        session,
        "JSON.stringify(['script','iframe','img','image','link',"
        "'object','embed','a[href^=\"http\"]'].map(s => "
        "document.querySelectorAll(s).length))",
    )
    assert counts == "[0,0,0,0,0,0,0,0]"
    assert browser.text(session, "location.href") == path.resolve().as_uri()
    # And the reader sees the hostile strings as text
    body = browser.text(session, "document.body.innerText")
    assert HOSTILE["product"] in body and HOSTILE["share"] in body
    # And it prints on A4
    pdf = browser.pdf(session, artifacts_dir() / f"hostile-{lang}.pdf")
    pages = pdf_pages(pdf.read_bytes())
    assert pages and all(abs(w - A4[0]) < 2 and abs(h - A4[1]) < 2 for w, h in pages), pages
