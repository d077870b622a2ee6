"""smb probe: placeholder until its issue lands (records nothing)."""

from __future__ import annotations

from typing import ClassVar

from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.state import ServiceState


class SmbProbe(ServiceProbe):
    name = "smb"
    protocols: ClassVar[frozenset[str]] = frozenset({"smb"})
    phase = 30

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        return None
