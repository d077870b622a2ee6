"""What the hub accepts: an exposcan.report/1 report, checked against the
checked-in schema before anything is stored."""

from __future__ import annotations

import json

import pytest

from exposcan.hub.intake import MAX_REPORT_BYTES, RefusedReport, parse_report, verdicts
from tests.hub_reports import mapping_imaging, practice_report, query_open


def test_a_report_is_accepted_with_its_digest_and_verdicts() -> None:
    # Given a report as a scan writes it
    raw = practice_report(findings=[query_open(), mapping_imaging()]).to_json().encode()
    # When the hub parses it
    report, body, digest = parse_report(raw)
    # Then it is the same report, its digest stable, its verdicts the catalogue's
    assert json.loads(body) == json.loads(raw)
    assert parse_report(raw)[2] == digest and len(digest) == 64
    assert verdicts(report).internet == "yes" and verdicts(report).lan == "yes"
    quiet = parse_report(practice_report(findings=[]).to_json().encode())[0]
    assert (verdicts(quiet).internet, verdicts(quiet).lan) == ("unknown", "no")


@pytest.mark.parametrize(
    ("mutate", "status", "words"),
    [
        (lambda d: d.pop("findings"), 400, "'findings' is a required property"),
        (lambda d: d.update(schema="exposcan.report/2"), 400, "'schema' field"),
        (lambda d: d["scan"].update(vantage="moon"), 400, "at scan/vantage"),
        (
            lambda d: d["hosts"][0]["services"][0].update(port=70000),
            400,
            "at hosts/0/services/0/port",
        ),
        (lambda d: d.update(extra="x"), 400, "Additional properties"),
    ],
)
def test_a_report_off_the_schema_is_refused(mutate: object, status: int, words: str) -> None:
    doc = json.loads(practice_report().to_json())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(RefusedReport) as caught:
        parse_report(json.dumps(doc).encode())
    assert caught.value.status == status
    assert words in str(caught.value)


def test_size_depth_and_garbage_are_refused_unparsed() -> None:
    for raw, status in (
        (b" " * (MAX_REPORT_BYTES + 1), 413),
        (b"[" * 10_000 + b"]" * 10_000, 400),
        (b"\xff\xfe", 400),
        (b"[]", 400),
    ):
        with pytest.raises(RefusedReport) as caught:
            parse_report(raw)
        assert caught.value.status == status
