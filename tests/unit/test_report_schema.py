import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from exposcan.models import (
    SCHEMA_ID,
    ErrorReason,
    ErrorRecord,
    Finding,
    Host,
    Report,
    ScanInfo,
    Service,
    Severity,
    Tool,
    Vantage,
    finding_key,
    json_schema,
)
from exposcan.report.write import ReportFormatError, check_output, write_report
from tests.helpers import SCHEMA_PATH, assert_valid_report


def sample_report() -> Report:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Report(
        tool=Tool(version="0.1.0"),
        scan=ScanInfo(
            started=now,
            finished=now,
            vantage=Vantage.LAN,
            targets=["198.18.0.0/24"],
            complete=True,
            ports="104",
        ),
        hosts=[
            Host(
                address="198.18.0.10",
                services=[Service(port=104, protocol="dicom", product="Orthanc", version="1.10.1")],
            )
        ],
        findings=[
            Finding(
                rule="dicom.query-open",
                severity=Severity.HIGH,
                host="198.18.0.10",
                port=104,
                protocol="dicom",
                title="t",
                evidence={"study_count": 3},
                key=finding_key("dicom.query-open", "198.18.0.10", 104),
            )
        ],
        errors=[
            ErrorRecord(host="198.18.0.50", port=8080, probe="http", reason=ErrorReason.TIMEOUT)
        ],
    )


def test_checked_in_schema_is_the_generated_one() -> None:
    # Given the model layer, When its schema is generated,
    # Then it equals the checked-in file (regenerate: python -m exposcan.schema)
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(
        json.dumps(json_schema(), sort_keys=True)
    )


def test_contract_field_names() -> None:
    data = assert_valid_report(sample_report())
    assert data["schema"] == SCHEMA_ID == "exposcan.report/1"
    contract = {"schema", "tool", "scan", "hosts", "findings", "errors"}
    # the contract's keys, and only optional blocks besides (the outside view)
    assert contract <= set(data) and set(data) - contract <= {"outside"}
    assert {"started", "finished", "vantage", "targets", "complete"} <= set(data["scan"])
    assert {"port", "transport", "protocol", "product", "version", "tls"} <= set(
        data["hosts"][0]["services"][0]
    )
    assert {
        "rule",
        "severity",
        "host",
        "port",
        "protocol",
        "title",
        "evidence",
        "remediation",
        "references",
        "key",
    } <= set(data["findings"][0])
    assert {"host", "port", "probe", "reason", "detail"} <= set(data["errors"][0])


def test_schema_rejects_a_wrong_severity() -> None:
    data = assert_valid_report(sample_report())
    data["findings"][0]["severity"] = "urgent"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))


def test_round_trip() -> None:
    report = sample_report()
    assert Report.from_json(report.to_json()) == report


def test_key_is_stable_and_distinct() -> None:
    assert finding_key("a.b", "1.2.3.4", 1) == finding_key("a.b", "1.2.3.4", 1)
    assert finding_key("a.b", "1.2.3.4", 1) != finding_key("a.b", "1.2.3.4", 2)


def test_report_file_is_private(tmp_path: Path) -> None:
    # Given a report, When it is written, Then only its owner can read it
    path = tmp_path / "report.json"
    write_report(sample_report(), str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert_valid_report(path.read_text())


def test_json_and_html_are_the_formats() -> None:
    check_output("report.json")
    check_output("report.HTML")
    with pytest.raises(ReportFormatError, match="unknown"):
        check_output("report.txt")
