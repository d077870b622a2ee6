"""Reports as a practice's scan writes them, for the hub's tests and bench.

Real rule ids of the catalogue, so that the hub decides the verdicts with
the catalogue's own ``verdict:`` blocks: ``dicom.query-open`` (anyone on the
LAN reads images: LAN yes) and ``upnp.mapping-imaging`` (critical: the box
forwards an internet port to imaging: internet yes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exposcan.models import (
    Finding,
    Host,
    Report,
    ScanInfo,
    Service,
    Severity,
    Tool,
    Vantage,
    finding_key,
)

LAN_HOST = "198.18.0.10"
BOX = "198.18.0.1"


def query_open(host: str = LAN_HOST) -> Finding:
    return Finding(
        rule="dicom.query-open",
        severity=Severity.HIGH,
        host=host,
        port=104,
        protocol="dicom",
        title="The PACS answers queries from anyone on the network",
        description="A DICOM query without credentials lists the studies.",
        remediation="Restrict the PACS to the modalities' AE titles and addresses.",
        references=["https://www.dicomstandard.org/current"],
        evidence={"study_count": 3},
        key=finding_key("dicom.query-open", host, 104),
    )


def mapping_imaging(public_port: int = 11112) -> Finding:
    return Finding(
        rule="upnp.mapping-imaging",
        severity=Severity.CRITICAL,
        host=BOX,
        port=public_port,
        protocol="upnp",
        title="The internet box forwards an internet port to an imaging service",
        description="The box's UPnP IGD lists a forward to the PACS.",
        remediation="Delete the forward on the box.",
        references=["https://openconnectivity.org/"],
        evidence={"service": "dicom", "internal": f"{LAN_HOST}:104"},
        key=finding_key("upnp.mapping-imaging", BOX, public_port),
    )


def practice_report(
    finished: datetime | None = None,
    findings: list[Finding] | None = None,
    targets: tuple[str, ...] = ("198.18.0.0/24",),
) -> Report:
    finished = finished or datetime.now(UTC).replace(microsecond=0)
    return Report(
        tool=Tool(version="0.1.0"),
        scan=ScanInfo(
            started=finished - timedelta(seconds=40),
            finished=finished,
            vantage=Vantage.LAN,
            targets=list(targets),
            complete=True,
            ports="104,80,445",
            hosts_scanned=12,
        ),
        hosts=[
            Host(
                address=LAN_HOST,
                services=[Service(port=104, protocol="dicom", product="Orthanc", version="1.10.1")],
            )
        ],
        findings=[query_open()] if findings is None else findings,
        errors=[],
    )
