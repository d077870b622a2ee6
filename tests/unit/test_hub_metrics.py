"""The hub's /metrics text and the pages' language choice."""

from __future__ import annotations

from exposcan.hub.metrics import render
from exposcan.hub.store import ReportRow, SiteRow
from exposcan.hub.words import hub_words, pick_lang


def _site(name: str, finished: str | None, internet: str = "no", lan: str = "yes") -> SiteRow:
    if finished is None:
        return SiteRow(name, None)
    counts = {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}
    row = ReportRow(1, name, finished, finished, "lan", True, internet, lan, counts, 0, 0)
    return SiteRow(name, row)


def test_metrics_count_sites_by_verdict_and_staleness() -> None:
    # Given a fresh exposed site, a fresh quiet one, an old one and one never heard from
    sites = [
        _site("a", "2026-12-07T06:00:00+00:00", internet="yes"),
        _site("b", "2026-12-07T06:00:00+00:00"),
        _site("c", "2026-11-01T06:00:00+00:00", internet="unknown", lan="no"),
        _site("d", None),
    ]
    text = render(sites, "2026-11-30T00:00:00+00:00", 42, 7)
    # Then each verdict is one series, the stale ones are counted, no site is named
    assert 'exposcan_hub_sites{question="internet",answer="yes"} 1' in text
    assert 'exposcan_hub_sites{question="internet",answer="unknown"} 2' in text
    assert 'exposcan_hub_sites{question="lan",answer="no"} 1' in text
    assert "exposcan_hub_stale_sites 2" in text
    assert "exposcan_hub_reports_received_total 42" in text
    assert not any(f'"{n}"' in text for n in "abcd")


def test_language_choice_and_both_languages_have_every_word() -> None:
    assert pick_lang("fr", "en", "en-GB") == "fr"
    assert pick_lang(None, "fr", "en-GB") == "fr"
    assert pick_lang(None, None, "de-DE, fr-FR;q=0.8") == "fr"
    assert pick_lang("xx", None, "de") == "en"
    assert set(hub_words("en")) == set(hub_words("fr")) and hub_words("en")
