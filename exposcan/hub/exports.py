"""The fleet's findings for the tools contractors already run.

Each export holds the findings of every site's newest report, and of each
finding only what a notification holds (rule, severity, host, port,
protocol, title) plus the rule's own description, remediation and
references: never a finding's evidence. A finding's stable key (rule, host,
port) is unique within a practice but not across practices (two practices
may both have 192.168.1.10), so the exports key a finding by
``SITE/KEY``.

- CSV: one row per finding.
- SARIF 2.1.0 (OASIS): one run; a finding is a result with a logical
  location ``SITE/HOST:PORT`` (no source file) and the key as its partial
  fingerprint, which is how SARIF consumers pair results across runs.
- DefectDojo's "Generic Findings Import" JSON: ``unique_id_from_tool`` is the
  key, so that a re-import (with "close old findings") closes what a site
  fixed; ``vuln_id_from_tool`` is the rule id; ``endpoints`` the host and port.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from exposcan import __version__
from exposcan.hub.store import FindingRow

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
CSV_COLUMNS = (
    "site",
    "report_finished",
    "key",
    "rule",
    "severity",
    "host",
    "port",
    "protocol",
    "title",
    "remediation",
)
_SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
# SARIF's security-severity (0.0-10.0, as GitHub code scanning reads it).
_SECURITY_SEVERITY = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "0.0",
}


def stable_id(row: FindingRow) -> str:
    return f"{row.site}/{row.key}"


def _where(row: FindingRow) -> str:
    if row.port is None:
        return row.host
    return f"[{row.host}]:{row.port}" if ":" in row.host else f"{row.host}:{row.port}"


def _cell(value: str) -> str:
    # A cell that a spreadsheet would run as a formula (CWE-1236) is quoted.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def findings_csv(rows: list[FindingRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                _cell(r.site),
                r.finished,
                stable_id(r),
                r.rule,
                r.severity,
                r.host,
                "" if r.port is None else r.port,
                r.protocol,
                _cell(r.title),
                _cell(r.remediation),
            ]
        )
    return out.getvalue()


def findings_sarif(rows: list[FindingRow]) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for r in rows:
        if r.rule not in rules:
            rule: dict[str, Any] = {
                "id": r.rule,
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.description or r.title},
                "help": {"text": r.remediation or r.title},
                "properties": {
                    "security-severity": _SECURITY_SEVERITY[r.severity],
                    "tags": ["security"],
                },
            }
            if r.references and r.references[0].startswith(("http://", "https://")):
                rule["helpUri"] = r.references[0]
            rules[r.rule] = rule
        results.append(
            {
                "ruleId": r.rule,
                "ruleIndex": list(rules).index(r.rule),
                "level": _SARIF_LEVEL[r.severity],
                "message": {"text": f"{r.title} ({r.site}: {_where(r)})"},
                "locations": [
                    {
                        "logicalLocations": [
                            {
                                "name": _where(r),
                                "fullyQualifiedName": f"{r.site}/{_where(r)}",
                                "kind": "resource",
                            }
                        ]
                    }
                ],
                "partialFingerprints": {"exposcanFindingKey/v1": stable_id(r)},
                "properties": {
                    "site": r.site,
                    "severity": r.severity,
                    "protocol": r.protocol,
                    "reportFinished": r.finished,
                },
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "exposcan",
                        "version": __version__,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def findings_defectdojo(rows: list[FindingRow]) -> dict[str, Any]:
    findings = []
    for r in rows:
        endpoint: dict[str, Any] = {"host": r.host}
        if r.port is not None:
            endpoint["port"] = r.port
        if r.protocol in ("http", "https", "ftp", "smb"):
            endpoint["protocol"] = r.protocol
        findings.append(
            {
                "title": f"{r.title} ({r.site})",
                "severity": r.severity.capitalize(),
                "description": "\n\n".join(
                    part
                    for part in (
                        r.description,
                        f"Site: {r.site}. Service: {_where(r)} ({r.protocol}). Rule: {r.rule}.",
                    )
                    if part
                ),
                "mitigation": r.remediation,
                "references": "\n".join(r.references),
                "date": r.finished[:10],
                "active": True,
                "verified": False,
                "static_finding": False,
                "dynamic_finding": True,
                "unique_id_from_tool": stable_id(r),
                "vuln_id_from_tool": r.rule,
                "service": r.protocol,
                "component_name": r.site,
                "endpoints": [endpoint],
            }
        )
    return {
        "name": "exposcan hub",
        "type": "exposcan",
        "version": __version__,
        "dynamic_tool": True,
        "static_tool": False,
        "findings": findings,
    }
