"""The report contract: one model layer for findings and the report.

Frozen pydantic models; ``exposcan/schema/report.schema.json`` is generated
from :class:`Report` (``python -m exposcan.schema``) and checked in.  The field
names marked "contract" in the issue are relied on by audits and must not
change without bumping :data:`SCHEMA_ID`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from exposcan.sanitise import clean_value
from exposcan.vocabulary import ErrorReason as ErrorReason
from exposcan.vocabulary import Safety as Safety
from exposcan.vocabulary import Severity as Severity
from exposcan.vocabulary import Vantage as Vantage

SCHEMA_ID = "exposcan.report/1"

# Evidence values are scalars or flat lists of scalars: a shape that cannot
# smuggle a dataset or a listing into a report by accident.
EvidenceValue = str | int | float | bool | None | list[str] | list[int]


def at_or_above(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """The findings at or above ``--fail-on`` (a severity; ``never``: none):
    the one threshold of the exit code and of an audit's alarm."""
    if fail_on == "never":
        return []
    rank = Severity(fail_on).rank
    return [f for f in findings if f.severity.rank >= rank]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Every string of a report may have come off the network (a banner, a
    # UPnP description, a reflector's answer): cleaned of control and format
    # characters where it enters the model (exposcan.sanitise).
    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return clean_value(value)


class Tool(_Frozen):
    name: Literal["exposcan"] = "exposcan"
    version: str


NoticeValue = str | int | float | bool | None


class Notice(_Frozen):
    """A scan note: a code (``upnp.no-igd``) and its parameters."""

    code: str
    params: dict[str, NoticeValue] = Field(default_factory=dict)


class ScanInfo(_Frozen):
    started: datetime
    finished: datetime
    vantage: Vantage
    targets: list[str]
    complete: bool
    ports: str = Field(description="the port specification scanned, nmap syntax")
    hosts_scanned: int = 0
    probed: bool = Field(
        default=True,
        description="whether the services found were probed; false for a port scan "
        "(--no-probes), of which no 'No' comes: it did not look",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="what the scan decided or could not see, in plain words",
    )
    notices: list[Notice] = Field(
        default_factory=list,
        description="the same notes as codes and parameters, which a report words in "
        "its own language",
    )


class DecoyLabel(_Frozen):
    """A service or finding that is likely a honeypot (a decoy): labelled,
    never hidden, with the signs that say so."""

    label: Literal["likely decoy"] = "likely decoy"
    honeypot: str = Field(
        description="the published honeypot the signs point to (dicompot, DICOMHawk)"
    )
    signs: list[str] = Field(
        description="the catalogue's sign codes that matched (decoy.<id>.<sign>)"
    )
    why: list[str] = Field(default_factory=list, description="the same signs in plain English")


class Service(_Frozen):
    port: int = Field(ge=0, le=65535)
    transport: Literal["tcp", "udp"] = "tcp"
    protocol: str = Field(description="dicom, http, smb, upnp, ssh, ... or unknown")
    product: str | None = None
    version: str | None = None
    tls: bool = False
    details: dict[str, EvidenceValue] = Field(
        default_factory=dict,
        description="protocol facts without patient data (AE title, dialects...)",
    )
    cpe: list[str] = Field(
        default_factory=list,
        description="CPE 2.3 names of the product and of the toolkit it is built on or "
        "known through, from the catalogue (probes/products.yaml)",
    )
    toolkit: str | None = Field(
        default=None,
        description="the toolkit (and version) the product is built on or was identified "
        "through: its advisories apply to the product (dcmtk 3.6.7)",
    )
    decoy: DecoyLabel | None = None


class Host(_Frozen):
    address: str = Field(description="IPv4 or IPv6 address")
    mac: str | None = None
    discovered_by: Literal["arp", "tcp", "assumed", "upnp", "ndp"] = "assumed"
    services: list[Service] = Field(default_factory=list)
    ipv6: list[str] = Field(
        default_factory=list,
        description="the device's IPv6 addresses (global, ULA, link-local), joined by MAC",
    )


class Finding(_Frozen):
    rule: str
    severity: Severity
    host: str
    port: int | None
    protocol: str
    title: str
    description: str = ""
    evidence: dict[str, EvidenceValue] = Field(default_factory=dict)
    remediation: str = ""
    references: list[str] = Field(default_factory=list)
    safety: Safety = Safety.SAFE
    key: str
    decoy: DecoyLabel | None = Field(
        default=None,
        description="set when the host is likely a honeypot: the finding stands, labelled",
    )


class ErrorRecord(_Frozen):
    host: str
    port: int | None
    probe: str
    reason: ErrorReason
    detail: str = ""


class SeenFrom(StrEnum):
    """How a public door was seen: proof, or an indication from inside."""

    INTERNET = "internet"  # the reflector scanned it back from outside: proof
    LOOPBACK = "loopback"  # the box's NAT loopback answered from inside: indicative


class OutsidePath(_Frozen):
    """A public address and port that answered, and the LAN service behind it."""

    public: str = Field(description="public address:port that answered")
    seen: SeenFrom
    protocol: str
    product: str | None = None
    version: str | None = None
    imaging: str | None = Field(
        default=None, description="what it serves: dicom, pacs-web, listing, share (None: none)"
    )
    lan: str | None = Field(default=None, description="host:port of the LAN service behind it")
    joined_by: list[str] = Field(
        default_factory=list,
        description="what both sides answered alike (DICOM implementation and AE, web "
        "fingerprint, SMB server GUID); empty: not joined",
    )
    via_upnp: bool = Field(default=False, description="the box's IGD lists this forward")
    candidates: list[str] = Field(
        default_factory=list,
        description="not joined: the LAN services (host:port) that answered alike, none "
        "told apart from the others",
    )


class PublicAddress(_Frozen):
    address: str | None = Field(default=None, description="the practice's public IPv4 address")
    reflector_source: str | None = Field(
        default=None, description="the source address the reflector saw"
    )
    upnp_external_ip: str | None = Field(
        default=None, description="the box's WAN address (UPnP GetExternalIPAddress)"
    )
    disagree: bool = False
    carrier_grade_nat: bool = Field(
        default=False,
        description="the box's WAN address is private or in 100.64.0.0/10: its IPv4 "
        "forwards cannot be reached from the internet",
    )


class Outside(_Frozen):
    """The outside view: what a reflector saw scanning the practice's source
    address back, and what the box's NAT loopback answered from inside."""

    status: Literal["done", "failed", "not-asked"] = Field(
        description="the reflector's answer: done, failed (see error), or not-asked "
        "(no --outside: only what UPnP and the NAT loopback told from inside)"
    )
    reflector: str | None = Field(default=None, description="the reflector asked (its URL)")
    checked: datetime | None = Field(default=None, description="when the reflector scanned")
    error: str | None = None
    complete: bool = Field(
        default=True,
        description="False: the reflector's deadline ended its scan; a port not seen "
        "open was not proven closed",
    )
    ports_tried: int = Field(default=0, description="TCP ports the reflector tried")
    loopback_ports_tried: int = 0
    ipv6_named: list[str] = Field(default_factory=list)
    public: PublicAddress = Field(default_factory=PublicAddress)
    paths: list[OutsidePath] = Field(default_factory=list)


class Report(_Frozen):
    schema_: Literal["exposcan.report/1"] = Field(default="exposcan.report/1", alias="schema")
    tool: Tool
    scan: ScanInfo
    hosts: list[Host]
    findings: list[Finding]
    errors: list[ErrorRecord]
    outside: Outside | None = Field(
        default=None, description="the outside view (scan --outside), when one was asked"
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.model_validate_json(text)


def finding_key(rule: str, host: str, port: int | None) -> str:
    """Stable id of (rule, host, port): what a cron diff pairs findings by."""
    raw = f"{rule}|{host}|{'' if port is None else port}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def json_schema() -> dict[str, Any]:
    schema = Report.model_json_schema(by_alias=True, mode="serialization")
    schema["$id"] = "https://exposcan.invalid/schema/report-1.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
