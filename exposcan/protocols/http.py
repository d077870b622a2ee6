"""http probe: placeholder until its issue lands (records nothing)."""

from __future__ import annotations

from typing import ClassVar

from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.state import ServiceState


class HttpProbe(ServiceProbe):
    name = "http"
    protocols: ClassVar[frozenset[str]] = frozenset({"http"})
    phase = 20

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        return None
