"""One --fail-on threshold for the exit code and the audit's alarm."""

from __future__ import annotations

from exposcan.models import Finding, Severity, at_or_above, finding_key


def _finding(severity: Severity) -> Finding:
    return Finding(
        rule="x.y",
        severity=severity,
        host="198.18.0.10",
        port=104,
        protocol="dicom",
        title="t",
        key=finding_key("x.y", "198.18.0.10", 104),
    )


def test_at_or_above_the_threshold_and_never() -> None:
    # Given a medium and a critical finding
    found = [_finding(Severity.MEDIUM), _finding(Severity.CRITICAL)]
    # Then --fail-on high keeps the critical one, medium both, never none
    assert [f.severity for f in at_or_above(found, "high")] == [Severity.CRITICAL]
    assert len(at_or_above(found, "medium")) == 2
    assert at_or_above(found, "never") == []
    assert at_or_above([_finding(Severity.LOW)], "high") == []
