"""Shared test helpers: run the real engine in-process, validate reports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import jsonschema

from exposcan.catalogue import Catalogue, default_catalogue
from exposcan.config import ScanConfig
from exposcan.engine import Scanner
from exposcan.limits import Deadlines
from exposcan.models import Report, Vantage
from exposcan.net.portspec import format_ports
from exposcan.probe import NetworkProbe, ServiceProbe
from exposcan.protocols.dicom.options import DicomOptions

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "exposcan" / "schema" / "report.schema.json"


@cache
def report_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())  # type: ignore[no-any-return]


def assert_valid_report(report: Report | str | dict[str, Any]) -> dict[str, Any]:
    """Validate against the checked-in JSON Schema; return the decoded dict."""
    if isinstance(report, Report):
        data = json.loads(report.to_json())
    elif isinstance(report, str):
        data = json.loads(report)
    else:
        data = report
    jsonschema.validate(data, report_schema())
    return data


async def scan_local(
    ports: list[int],
    service_probes: list[type[ServiceProbe]] | None = None,
    network_probes: list[type[NetworkProbe]] | None = None,
    *,
    host: str = "127.0.0.1",
    timeout: float = 2.0,
    vantage: Vantage = Vantage.LAN,
    intrusive: bool = False,
    total: float | None = None,
    association_timeout: float = 30.0,
    max_ae_guesses: int = DicomOptions.max_ae_guesses,
    catalogue: Catalogue | None = None,
    options: Mapping[str, object] | None = None,
) -> Report:
    """Scan ``host`` (loopback only!) with the real engine and the given
    probes, ports named by ``catalogue`` (the shipped one by default)."""
    assert IPv4Address(host).is_loopback, "in-process tests scan loopback only"
    config = ScanConfig(
        ports=ports,
        ports_spec=format_ports(ports),
        vantage=vantage,
        deadlines=Deadlines(connect=timeout, read=timeout, total=total or timeout * 4),
        scan_timeout=1.0,
        discovery=False,
        intrusive=intrusive,
        options={
            "dicom": DicomOptions(
                association_timeout=association_timeout, max_ae_guesses=max_ae_guesses
            ),
            **(options or {}),
        },
    )
    scanner = Scanner(
        config, catalogue or default_catalogue(), service_probes or [], network_probes or []
    )
    await scanner.run([IPv4Address(host)], [host])
    report = scanner.report(complete=True)
    assert_valid_report(report)
    return report


def findings_at(report: dict[str, Any], host: object, port: int) -> dict[str, dict[str, Any]]:
    """rule -> evidence of the findings a JSON report holds for host:port."""
    return {
        f["rule"]: f["evidence"]
        for f in report["findings"]
        if f["host"] == str(host) and f["port"] == port
    }


def service_at(report: dict[str, Any], host: object, port: int) -> dict[str, Any]:
    for h in report["hosts"]:
        if h["address"] == str(host):
            for s in h["services"]:
                if s["port"] == port:
                    return s  # type: ignore[no-any-return]
    raise AssertionError(f"no service {host}:{port}")
