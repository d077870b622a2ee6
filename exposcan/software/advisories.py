"""Advisories as catalogue data (``probes/advisories/**.yaml``, kind ``advisory``).

One file per advisory, as NVD and CISA publish them: its id (a CVE, a CISA
ICS advisory such as ICSMA-26-181-01, a nuclei template), the CVEs it
covers, the CPE of the product it affects, the affected version ranges
(NVD's ``cpeMatch`` bounds: start/end, including/excluding), the first fixed
version, the CVSS score, whether CISA's KEV catalogue lists it as exploited,
and its sources.  A service whose product (or the toolkit it is built on)
has an identified version inside a range gets one ``software.known-vulnerable``
fact (:mod:`exposcan.software.identify`); the ``*.known-vulnerable`` rules
make it a finding.  ``exposcan catalogue import-advisories`` writes these
files from NVD CVE JSON 2.0 and the KEV CSV (:mod:`exposcan.software.importer`).

Versions are compared with :mod:`packaging.version`, but only plain release
numbers (``3.6.7``, ``6.7.1.1``): PEP 440 would read a vendor's suffix as a
pre-release (Conquest's ``1.5.0c`` as 1.5.0rc0, i.e. *older* than 1.5.0),
so a version with letters matches no range rather than a wrong one.
"""

from __future__ import annotations

import re
from typing import Literal

from packaging.version import InvalidVersion, Version
from pydantic import Field, model_validator

from exposcan.catalogue import Catalogue, CatalogueModel, catalogue_kind
from exposcan.software.products import CPE_PREFIX

_PLAIN_RELEASE = re.compile(r"^v?(\d{1,9}(?:\.\d{1,9}){0,5})$")
CVE_ID = r"^CVE-\d{4}-\d{4,}$"


def release(version: str | None) -> Version | None:
    """``3.6.7`` -> Version; anything that is not a plain dotted release -> None."""
    if not version:
        return None
    m = _PLAIN_RELEASE.match(version.strip())
    if m is None:
        return None
    try:
        return Version(m.group(1))
    except InvalidVersion:  # pragma: no cover - the pattern is a subset of PEP 440
        return None


def _plain(value: str | None) -> str | None:
    if value is not None and release(value) is None:
        raise ValueError(f"not a plain release number (digits and dots): {value!r}")
    return value


class VersionRange(CatalogueModel):
    """NVD's cpeMatch bounds (CVE JSON 2.0 ``versionStartIncluding``...)."""

    start_including: str | None = None
    start_excluding: str | None = None
    end_including: str | None = None
    end_excluding: str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> VersionRange:
        bounds = (self.start_including, self.start_excluding)
        ends = (self.end_including, self.end_excluding)
        for value in (*bounds, *ends):
            _plain(value)
        if all(v is None for v in ends):
            raise ValueError("a range needs an end (end_including or end_excluding)")
        if all(v is not None for v in bounds) or all(v is not None for v in ends):
            raise ValueError("a range has one start and one end at most")
        return self

    def holds(self, version: Version) -> bool:
        def v(text: str | None) -> Version | None:
            return release(text)

        if (s := v(self.start_including)) is not None and version < s:
            return False
        if (s := v(self.start_excluding)) is not None and version <= s:
            return False
        if (e := v(self.end_including)) is not None and version > e:
            return False
        return not ((e := v(self.end_excluding)) is not None and version >= e)


class Cvss(CatalogueModel):
    version: Literal["2.0", "3.0", "3.1", "4.0"]
    score: float = Field(ge=0, le=10)
    vector: str | None = None


Severity = Literal["critical", "high", "medium", "low", "none"]


def severity_of(score: float) -> Severity:
    """CVSS v3 qualitative rating (FIRST CVSS v3.1 specification §5)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else "none"


@catalogue_kind("advisory")
class Advisory(CatalogueModel):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{2,63}$")
    title: str = Field(min_length=1)
    cves: list[str] = Field(default_factory=list)
    #: The affected product's CPE 2.3 vendor and product (products.yaml's spelling).
    cpe: str = Field(pattern=CPE_PREFIX)
    affected: list[VersionRange] = Field(min_length=1)
    #: The first release with the fix (None: no fixed release yet).
    fixed: str | None = None
    cvss: Cvss | None = None
    #: Listed in CISA's Known Exploited Vulnerabilities catalogue.
    known_exploited: bool = False
    sources: list[str] = Field(min_length=1)
    notes: str = ""

    @model_validator(mode="after")
    def _check(self) -> Advisory:
        for cve in self.cves:
            if not re.match(CVE_ID, cve):
                raise ValueError(f"cves: not a CVE id: {cve!r}")
        _plain(self.fixed)
        for url in self.sources:
            if not url.startswith("https://"):
                raise ValueError(f"sources: not an https URL: {url!r}")
        return self

    def affects(self, version: str | None) -> bool:
        """Whether ``version`` (a plain release) is inside a range; an
        unknown or non-plain version is never claimed vulnerable."""
        have = release(version)
        return have is not None and any(r.holds(have) for r in self.affected)

    @property
    def severity(self) -> Severity | None:
        return severity_of(self.cvss.score) if self.cvss else None


def advisories_by_cpe(catalogue: Catalogue) -> dict[str, tuple[Advisory, ...]]:
    """The catalogue's advisories by affected CPE prefix (build once per scan)."""
    out: dict[str, list[Advisory]] = {}
    for adv in catalogue.documents(Advisory):
        out.setdefault(adv.cpe, []).append(adv)
    return {k: tuple(sorted(v, key=lambda a: a.id)) for k, v in out.items()}


def affecting(catalogue: Catalogue, cpe_prefix: str | None, version: str | None) -> list[Advisory]:
    """The advisories whose ranges hold ``version`` of the product ``cpe_prefix``."""
    if not cpe_prefix:
        return []
    candidates = catalogue.derived(advisories_by_cpe).get(cpe_prefix, ())
    return [a for a in candidates if a.affects(version)]
