"""Network probes run alongside host probes, wait for their facts, and get
their whole budget after them; the scan type is selectable."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

from exposcan.config import ScanConfig
from exposcan.facts import FactModel, fact_kind
from exposcan.probe import NetworkContext, NetworkProbe, ProbeContext, ServiceProbe
from exposcan.state import ServiceState
from tests.helpers import scan_local
from tests.inprocess.servers import http_ok, tcp_server

SLOW = 0.5
events: dict[str, float] = {}


@fact_kind("test.slow")
class SlowFact(FactModel):
    """This test's own fact kind: a probe writes only declared facts."""


class SlowProbe(ServiceProbe):
    name = "slow"
    protocols: ClassVar[frozenset[str]] = frozenset({"unknown", "http"})

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        await asyncio.sleep(SLOW)
        ctx.fact("test.slow", service.port, "test")
        events["host probe done"] = time.monotonic()


class WatchingProbe(NetworkProbe):
    name = "watching"

    async def run(self, ctx: NetworkContext) -> None:
        events["network started"] = time.monotonic()
        await ctx.host_probes.wait()
        seen = [f for h in ctx.scan.hosts.values() for f in h.facts if f.kind == "test.slow"]
        events["facts seen"] = float(len(seen))
        # Its own work: within its budget, but not with the wait added to it
        waited = time.monotonic() - events["network started"]
        await asyncio.sleep(ctx.budget - waited / 2)
        events["network done"] = time.monotonic()


async def test_network_probe_overlaps_and_waits_for_host_facts() -> None:
    events.clear()
    async with tcp_server(http_ok) as port:
        # Given a host probe of SLOW s, and a network probe whose own work
        # fits its budget (total 1 s x 4) only if the wait does not count
        report = await scan_local([port], [SlowProbe], [WatchingProbe], total=1.0)
    # Then the network probe started before the host probe ended ...
    assert events["network started"] < events["host probe done"] - SLOW / 2
    # ... read the host probe's fact after it was recorded ...
    assert events["facts seen"] == 1.0
    # ... and its deadline counted from then: it finished, no timeout error
    assert "network done" in events
    assert [e for e in report.errors if e.probe == "watching"] == []


def test_scan_type_is_part_of_the_config() -> None:
    config = ScanConfig(ports=[80], ports_spec="80")
    assert config.scan_type == "auto"
