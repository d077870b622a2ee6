"""The HTML report: self-contained, both languages complete, hostile strings
stay text, written for its owner only; and ``exposcan report``."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest

from exposcan.catalogue import LANGUAGES, default_catalogue
from exposcan.cli import main
from exposcan.models import (
    ErrorReason,
    ErrorRecord,
    Host,
    Notice,
    Report,
    ScanInfo,
    Service,
    Severity,
    Tool,
    Vantage,
)
from exposcan.report.guides import guides_for, load_guides
from exposcan.report.html import render_html
from exposcan.report.i18n import Texts, default_lang, report_words
from exposcan.report.labels import evidence_labels
from exposcan.report.write import write_report
from tests.html_checks import assert_self_contained, parse
from tests.unit.test_verdict import finding

NOW = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)

#: What a hostile server could put in a banner, a product, a UPnP forward
#: description or a share name: it must reach the page as text, never markup.
HOSTILE = {
    "product": "<script>console.error('pwned-product')</script>",
    "version": "1\"><img src=x onerror=console.error('pwned-version')>",
    "description": '</text></svg><iframe src="http://evil.invalid/"></iframe>',
    "share": "'><svg onload=console.error('pwned-share')>",
    "server": "nginx<style>@import url(http://evil.invalid/x.css);</style>",
    "detail": '<a href="https://evil.invalid/">click</a>',
    "note": '<meta http-equiv=refresh content="0;url=http://evil.invalid/">',
}


def lab_like_report(vantage: Vantage = Vantage.LAN, hostile: bool = False) -> Report:
    """The lab's situation in small: a box forwarding to an open Orthanc, a
    guest share with images, a listing; with ``hostile``, every string a
    peer controls is an injection attempt."""
    h = HOSTILE if hostile else {k: "" for k in HOSTILE}
    product = h["product"] or "Orthanc"
    findings = [
        finding(
            "upnp.mapping-imaging",
            "198.18.0.1",
            104,
            Severity.CRITICAL,
            external_port=104,
            internal_host="198.18.0.10",
            internal_port=104,
            transport="TCP",
            description=h["description"] or "PACS DICOM",
            imaging_service="dicom",
            internal_product=product,
        ),
        finding(
            "dicom.query-open",
            "198.18.0.10",
            104,
            study_count=4,
            capped=False,
            called_ae="CABINETRADIO",
            ae_source="learned from another service of this host",
        ),
        finding(
            "http.pacs-unauthenticated",
            "198.18.0.10",
            8042,
            product=product,
            version=h["version"] or "1.10.1",
            patients=3,
            studies=4,
        ),
        finding(
            "smb.guest-share-imaging",
            "198.18.0.20",
            445,
            share=h["share"] or "imagerie",
            imaging_files=8,
            session="anonymous",
        ),
        finding(
            "http.listing-imaging",
            "198.18.0.30",
            80,
            server=h["server"] or "nginx",
            imaging_files=4,
            extensions=["dcm"],
        ),
        finding("upnp.igd-enabled", "198.18.0.1", 49152, Severity.LOW, mappings=1),
        finding("http.pacs-login", "198.18.0.11", 8042, Severity.INFO, product="Orthanc"),
    ]
    hosts = [
        Host(
            address="198.18.0.1",
            services=[Service(port=49152, protocol="upnp", product="ExposcanLabBox")],
        ),
        Host(
            address="198.18.0.10",
            services=[
                Service(port=104, protocol="dicom", product=product, version=h["version"] or None),
                Service(port=8042, protocol="http", product=product),
            ],
        ),
        Host(address="198.18.0.11", services=[Service(port=8042, protocol="http")]),
        Host(address="198.18.0.20", services=[Service(port=445, protocol="smb", product="Samba")]),
        Host(
            address="198.18.0.30",
            services=[Service(port=80, protocol="http", product=h["server"] or "nginx")],
        ),
        Host(address="198.18.0.100"),
    ]
    return Report(
        tool=Tool(version="0.1.0"),
        scan=ScanInfo(
            started=NOW,
            finished=NOW,
            vantage=vantage,
            targets=["198.18.0.0/24"],
            complete=True,
            ports="80,104,445,8042,49152",
            notes=[h["note"] or "scan interrupted: this report holds what was gathered until then"],
            # The note as the engine records it: a code (worded per language)
            notices=[] if h["note"] else [Notice(code="note.scan.interrupted")],
        ),
        hosts=hosts,
        findings=findings,
        errors=[
            ErrorRecord(
                host="198.18.0.50",
                port=8080,
                probe="http",
                reason=ErrorReason.TIMEOUT,
                detail=h["detail"],
            )
        ],
    )


def visible_text(html: str) -> str:
    body = html.split("<body>", 1)[-1]
    text = unescape(re.sub(r"<[^>]+>", " ", body))
    return re.sub(r"\s+", " ", text)


# --- Both languages, complete -------------------------------------------------


def test_every_rule_speaks_every_language() -> None:
    for rule in default_catalogue().rules.values():
        en = rule.info.text("en")
        for lang in LANGUAGES:
            words = rule.info.text(lang)
            assert words.name.strip() and words.description.strip() and words.remediation.strip(), (
                rule.id,
                lang,
            )
            if lang != "en":
                assert lang in rule.info.i18n, (rule.id, lang)
                assert words.description != en.description, (rule.id, lang)


def test_every_product_guide_speaks_every_language() -> None:
    guides = {g.id: g for g in load_guides(default_catalogue())}
    assert {"orthanc", "horos", "smb-shares", "box"} <= set(guides)
    for guide in guides.values():
        assert set(guide.i18n) == set(LANGUAGES), guide.id
        counts = {len(guide.i18n[lang].steps) for lang in LANGUAGES}
        assert len(counts) == 1, guide.id  # the same steps, translated


def test_the_report_words_exist_in_every_language() -> None:
    keys = {lang: set(report_words()[lang]) for lang in LANGUAGES}
    assert all(k == keys["en"] for k in keys.values())
    for lang in LANGUAGES:
        assert all(v.strip() for v in report_words()[lang].values())
    # And every evidence key a rule names has a label in every language (the
    # catalogue's evidence-labels)
    named = {k for r in default_catalogue().rules.values() for k in r.evidence}
    labels = evidence_labels(default_catalogue())
    for lang in LANGUAGES:
        assert named - set(labels[lang]) == set(), lang


def test_a_french_report_is_in_french() -> None:
    report = lab_like_report()
    fr, en = render_html(report, "fr"), render_html(report, "en")
    catalogue = default_catalogue()
    for f in report.findings:
        rule = catalogue.rules[f.rule]
        assert rule.info.i18n["fr"].name in unescape(fr)
        assert rule.info.name not in unescape(fr), f.rule
        assert rule.info.name in unescape(en)
    # The report's own words, the engine's notes and exposcan's fixed
    # evidence phrases are French too
    text = visible_text(fr)
    assert "Les images des patients sont-elles accessibles depuis internet ?" in text
    assert "analyse interrompue" in text and "scan interrupted" not in text
    assert "appris d'un autre service de cette machine" in text
    assert "What to do first" not in text and "Que faire d'abord" in text
    assert '<html lang="fr">' in fr and '<html lang="en">' in en


def test_the_locale_chooses_the_language() -> None:
    assert default_lang({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert default_lang({"LC_ALL": "fr_CA.UTF-8", "LANG": "en_US.UTF-8"}) == "fr"
    assert default_lang({"LC_ALL": "C.UTF-8", "LANG": "fr_FR.UTF-8"}) == "en"
    assert default_lang({"LC_MESSAGES": "fr_BE", "LANG": "de_DE"}) == "fr"
    assert default_lang({}) == "en"
    with pytest.raises(ValueError, match="unknown language"):
        Texts("de")


# --- What the first screen says ------------------------------------------------


def test_the_first_screen_answers_before_anything_else() -> None:
    html = render_html(lab_like_report(), "en")
    text = visible_text(html)
    first = text.index("Can patient images be reached from the internet?")
    assert (
        first
        < text.index("Can anyone on the practice network reach patient images?")
        < text.index("What to do first")
        < text.index("The network and its exposure paths")
        < text.index("Findings")
    )
    # The forward makes the internet answer a yes, naming the door and the PACS
    assert "198.18.0.1:104 \u2192 198.18.0.10:104 (DICOM query)" in text
    assert "1. " not in text  # an ordered list, not hand-made numbers
    assert "Close the internet box's forwards to 198.18.0.1:104" in text


def test_findings_come_with_proof_products_and_the_law() -> None:
    html = render_html(lab_like_report(), "en")
    text = visible_text(html.split('<section id="findings"', 1)[1])
    # Grouped by severity, worst first
    assert (
        text.index("Critical") < text.index("High") < text.index("Low") < text.index("Information")
    )
    # The proof is counts
    assert "studies counted: 4" in text and "imaging files: 8" in text
    html = render_html(lab_like_report(), "en")
    text = visible_text(html)
    # Product steps: Orthanc, the shares and the box, each once, linked from findings
    for guide in ("orthanc", "smb-shares", "box"):
        assert html.count(f'id="guide-{guide}"') == 1, guide
    assert (
        'id="guide-orthanc"' in html
        and 'id="guide-smb-shares"' in html
        and 'id="guide-box"' in html
        and 'id="guide-horos"' not in html
    )
    assert 'href="#guide-orthanc"' in html
    # The legal frame: art. 33 where images were open, art. 32 for the rest
    assert "(art. 33)" in text and "délibération 2020-081" in text


def test_product_guides_match_products_rules_and_ae_titles() -> None:
    guides = load_guides(default_catalogue())

    def ids(f: object, service: Service | None = None) -> list[str]:
        return [g.id for g in guides_for([(f, service)], guides)]  # type: ignore[list-item]

    assert ids(finding("http.cleartext", "h", 80, product="Orthanc")) == ["orthanc"]
    assert ids(
        finding("dicom.store-open", "h", 11112),
        Service(port=11112, protocol="dicom", details={"ae_title": "OSIRIX"}),
    ) == ["horos"]
    assert ids(finding("smb.v1", "h", 445)) == ["smb-shares"]
    assert ids(finding("upnp.mapping-imaging", "h", 104, internal_product="Orthanc")) == [
        "box",
        "orthanc",
    ]
    assert ids(finding("dicom.cleartext", "h", 104)) == []


# --- Self-contained, and hostile strings stay text -----------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("vantage", list(Vantage))
def test_the_report_is_self_contained(lang: str, vantage: Vantage) -> None:
    assert_self_contained(render_html(lab_like_report(vantage), lang))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_hostile_strings_are_escaped(lang: str) -> None:
    # Given a report whose every peer-controlled string is an injection attempt
    html = render_html(lab_like_report(hostile=True), lang)
    # Then the document is still self-contained (no script, iframe, image,
    # handler or URL got in) ...
    assert_self_contained(html)
    tags = {t for t, _ in parse(html).tags}
    assert not tags & {"script", "iframe", "img"}
    assert [t for t in parse(html).tags if t[0] == "style"] == [("style", {})]  # ours only
    # ... no raw markup survived anywhere ...
    for value in HOSTILE.values():
        assert value not in html
    assert "<script" not in html.lower() and "<iframe" not in html.lower()
    # ... and what the peer sent is shown, as text, to the reader
    text = visible_text(html)
    assert HOSTILE["product"] in text
    assert HOSTILE["share"] in text


def test_the_network_picture_keeps_hostile_strings_as_text() -> None:
    # Given the hostile report, When its SVG picture is drawn
    html = render_html(lab_like_report(hostile=True), "en")
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    # Then the SVG holds only the elements the template draws
    drawn = {t for t, _ in parse(svg).tags}
    assert drawn <= {"svg", "g", "rect", "text", "circle", "path"}, drawn
    # And the hostile product is a (clipped) text of a service line
    assert "&lt;script&gt;" in svg


def test_an_unknown_rule_falls_back_to_the_report_words() -> None:
    # Given a report made with a catalogue that has a rule this one lacks
    base = lab_like_report()
    odd = finding("site.custom-check", "198.18.0.9", 1, Severity.MEDIUM)
    odd = odd.model_copy(
        update={"title": "Custom check title", "description": "Custom description"}
    )
    report = base.model_copy(update={"findings": [*base.findings, odd]})
    text = visible_text(render_html(report, "fr"))
    assert "Custom check title" in text and "Custom description" in text


# --- Files and the CLI -------------------------------------------------------------


def test_the_html_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_report(lab_like_report(), str(path), "fr")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "Que faire d'abord" in unescape(path.read_text())


def test_exposcan_report_renders_a_saved_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a saved JSON report
    src = tmp_path / "in.json"
    write_report(lab_like_report(), str(src))
    out_fr, out_en = tmp_path / "out.fr.html", tmp_path / "out.en.html"
    # When it is rendered in French and in English
    assert main(["report", str(src), "-o", str(out_fr), "--lang", "fr"]) == 0
    assert main(["report", str(src), "-o", str(out_en), "--lang", "en"]) == 0
    # Then both are written, private, in their language
    assert "Que faire d'abord" in unescape(out_fr.read_text())
    assert "What to do first" in out_en.read_text()
    for path in (out_fr, out_en):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # And errors are exit 2 with a message, not a traceback
    assert main(["report", str(src), "-o", str(tmp_path / "x.txt")]) == 2
    assert main(["report", str(tmp_path / "missing.json"), "-o", str(out_fr)]) == 2
    (tmp_path / "bad.json").write_text("{}")
    assert main(["report", str(tmp_path / "bad.json"), "-o", str(out_fr)]) == 2
    assert main(["report", str(src), "-o", str(out_fr), "--lang", "de"]) == 2
    assert "exposcan: error" in capsys.readouterr().err
