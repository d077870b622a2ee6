"""The fact the ``*.known-vulnerable`` rules match (written by
:mod:`exposcan.software.identify` once a host's probes are done)."""

from __future__ import annotations

from exposcan.facts import FactModel, fact_kind


@fact_kind("software.known-vulnerable")
class KnownVulnerable(FactModel):
    """An identified version inside an advisory's affected range."""

    #: The service's protocol (``dicom``, ``http``...): which rule of the family.
    service: str
    product: str | None = None
    version: str | None = None
    #: The toolkit the advisories hit, when the product is built on it
    #: (``dcmtk 3.6.7`` for Orthanc's DICOM port) or known only through it.
    toolkit: str | None = None
    advisories: list[str] = []
    cves: list[str] = []
    #: The first fixed release per product (``dcmtk 3.7.1``).
    fixed_in: list[str] = []
    cvss: float | None = None
    known_exploited: bool | None = False
    sources: list[str] = []
