"""dicom probe: placeholder until its issue lands (records nothing)."""

from __future__ import annotations

from typing import ClassVar

from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.state import ServiceState


class DicomProbe(ServiceProbe):
    name = "dicom"
    protocols: ClassVar[frozenset[str]] = frozenset({"dicom"})
    phase = 60

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        return None
