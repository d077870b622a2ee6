"""A host's error budget and the phase barrier: a host that ran
one probe into its deadline gives its other probes only a grace (at most a
read deadline) more, a straggler of an early phase does not hold a later
phase, and a phase that decides protocols is waited for."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import ClassVar

from exposcan.engine import PHASE_WAIT
from exposcan.facts import FactModel, fact_kind
from exposcan.models import ErrorReason, Report
from exposcan.net.netio import ProbeError, open_connection
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.state import ServiceState
from tests.helpers import scan_local
from tests.inprocess.servers import http_ok, tcp_server

#: probe name -> the port it stalls on (the servers' ports are ephemeral).
stalling: dict[str, int] = {}
order: list[str] = []


@fact_kind("test.answered")
class AnsweredFact(FactModel):
    """This test's own fact kind: a probe writes only declared facts."""


class StallProbe(ServiceProbe):
    """Holds one of the host's connection slots; on its stalling port, never
    returns (a tarpit seen from the engine)."""

    name = "stall"
    protocols: ClassVar[frozenset[str]] = frozenset({"unknown", "http"})
    phase = 20

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        async with ctx.limits.connection(ctx.address):
            if stalling.get(self.name) == service.port:
                await asyncio.sleep(3600)
            ctx.fact("test.answered", service.port, "test")
        order.append(f"{self.name}:{service.port}")


class MidStallProbe(StallProbe):
    name = "stall-mid"
    phase = 40


class LateStallProbe(StallProbe):
    name = "stall-late"
    phase = 60


class LateProbe(ServiceProbe):
    """A later phase: notes when it ran."""

    name = "late"
    protocols: ClassVar[frozenset[str]] = frozenset({"unknown", "http"})
    phase = 60

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        order.append(f"late:{service.port}")


async def scan_ports(
    count: int, stalls: list[str | None], probes: list[type[ServiceProbe]]
) -> Report:
    """Scan ``count`` answering ports; the probe named ``stalls[i]`` stalls
    on port i."""
    async with AsyncExitStack() as stack:
        ports = [await stack.enter_async_context(tcp_server(http_ok)) for _ in range(count)]
        stalling.clear()
        stalling.update({name: port for name, port in zip(stalls, ports, strict=False) if name})
        order.clear()
        # read 0.5 s, total 2 s: a stalled probe runs into its total deadline
        return await scan_local(ports, probes, timeout=0.5, total=2.0)


def detail(report: Report, probe: str) -> str:
    return " ".join(e.detail for e in report.errors if e.probe == probe)


STALLS: list[type[ServiceProbe]] = [StallProbe, MidStallProbe, LateStallProbe]


async def test_a_host_that_burnt_a_deadline_gets_a_read_deadline_more() -> None:
    # Given one host whose probes stall, one per phase: each phase starts a
    # read deadline (0.5 s) after the one before, its total deadline (2 s)
    # counting from then
    report = await scan_ports(3, ["stall", "stall-mid", "stall-late"], STALLS)
    # Then the first runs into its own deadline; the last, cut by the host's
    # error budget, is not given a whole deadline of its own
    assert "exceeded its 2 s total deadline" in detail(report, "stall")
    assert "cut by the host's error budget" in detail(report, "stall-late")


async def test_no_cut_on_a_host_with_no_deadline_burnt() -> None:
    # Given one host on which only the last phase's probe stalls
    report = await scan_ports(3, [None, None, "stall-late"], STALLS)
    # Then its deadline is its own, and nothing else is an error
    assert detail(report, "stall-late") == "probe exceeded its 2 s total deadline"
    assert [e.probe for e in report.errors] == ["stall-late"]


async def test_a_straggler_does_not_hold_the_later_phase() -> None:
    # Given a host whose early-phase probe stalls on one port
    report = await scan_ports(2, ["stall"], [StallProbe, LateProbe])
    # Then the later phase ran on both ports before the straggler ended
    # (it ended by its deadline: no "stall:" entry for that port)
    assert sorted(o.split(":")[0] for o in order) == ["late", "late", "stall"]
    assert detail(report, "stall") == "probe exceeded its 2 s total deadline"


async def test_the_later_phase_waits_for_an_early_phase_that_answers() -> None:
    # Given a host whose early probes answer at once
    await scan_ports(2, [], [StallProbe, LateProbe])
    # Then the later phase ran after both (it may use their hints)
    assert [o.split(":")[0] for o in order] == ["stall", "stall", "late", "late"]


class DecidingProbe(ServiceProbe):
    """An early phase that decides protocols (as identify does), slower than
    the hint phases' wait and quicker than a read deadline."""

    name = "deciding"
    protocols: ClassVar[frozenset[str]] = frozenset({"unknown", "http"})
    phase = 10
    decides_protocols = True

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        await asyncio.sleep(SLOWER_THAN_PHASE_WAIT)
        order.append(f"{self.name}:{service.port}")


class HintingProbe(DecidingProbe):
    """The same, but what it learns is only hints."""

    name = "hinting"
    decides_protocols = False


SLOWER_THAN_PHASE_WAIT = PHASE_WAIT + 0.5


async def _one_slow_early_phase(early: type[ServiceProbe]) -> list[str]:
    async with tcp_server(http_ok) as port:
        order.clear()
        # read deadline 3 s: above PHASE_WAIT + 0.5 s
        await scan_local([port], [early, LateProbe], timeout=3.0, total=6.0)
    return [o.split(":")[0] for o in order]


async def test_a_phase_that_decides_protocols_is_waited_for() -> None:
    # Given an early probe that decides protocols and takes longer than the
    # wait given to hint phases
    ran = await _one_slow_early_phase(DecidingProbe)
    # Then the later phase started only after it: it depends on what it found
    assert ran == ["deciding", "late"]


async def test_a_slow_hint_phase_does_not_hold_the_later_one() -> None:
    # Given the same early probe, that only gives hints
    ran = await _one_slow_early_phase(HintingProbe)
    # Then the later phase started after PHASE_WAIT, before it ended
    assert ran == ["late", "hinting"]


# -- the budget ends stalls, never progress ----------------------------------

#: port -> how its server sends: (bytes per send, seconds between sends).
PACE: dict[int, tuple[int, float]] = {}
#: The ports a ReceiveProbe read to their end.
answered: set[int] = set()


async def paced(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Sends for 2.5 s at the pace its port is given, then closes."""
    port = writer.get_extra_info("sockname")[1]
    size, every = PACE[port]
    loop = asyncio.get_running_loop()
    end = loop.time() + 2.5
    while loop.time() < end:
        writer.write(b"x" * size)
        await writer.drain()
        await asyncio.sleep(every)
    writer.close()


class BurnProbe(ServiceProbe):
    """On its stalling port, runs into a deadline of its own after 0.3 s:
    the host's error budget is spent."""

    name = "burn"
    protocols: ClassVar[frozenset[str]] = frozenset({"unknown", "http"})
    phase = 20

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        if stalling.get(self.name) == service.port:
            await asyncio.sleep(0.3)
            raise ProbeError(ErrorReason.TIMEOUT, "stalled")


class ReceiveProbe(ServiceProbe):
    """Reads its port to the end through the bounded I/O layer, then
    records that it did."""

    name = "receive"
    protocols: ClassVar[frozenset[str]] = frozenset({"unknown", "http"})
    phase = 20

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        if service.port not in PACE:
            return
        async with (
            ctx.limits.connection(ctx.address),
            open_connection(ctx.address, service.port, ctx.config.deadlines) as conn,
        ):
            while await conn.read_some(65536):
                pass
        answered.add(service.port)


async def scan_paced(paces: list[tuple[int, float]]) -> Report:
    """Port 0 burns the host's budget; port i+1 sends at ``paces[i]``."""
    async with AsyncExitStack() as stack:
        ports = [await stack.enter_async_context(tcp_server(paced)) for _ in range(len(paces) + 1)]
        PACE.clear()
        PACE.update(dict(zip(ports[1:], paces, strict=True)))
        stalling.clear()
        stalling["burn"] = ports[0]
        # read (and grace) 0.5 s, total 6 s: only the budget can end a
        # sender's 2.5 s before its own deadline
        answered.clear()
        return await scan_local(ports, [BurnProbe, ReceiveProbe], timeout=0.5, total=6.0)


async def test_a_probe_receiving_above_its_floor_is_not_cut_by_a_stalled_sibling() -> None:
    # Given a host with one port that burns its error budget, one that sends
    # 4 KiB every 0.1 s (40 KiB/s, far above the floor) for 2.5 s, and one
    # that drips 8 bytes every 0.25 s (32 B/s, below it)
    report = await scan_paced([(4096, 0.1), (8, 0.25)])
    steady, drip = sorted(PACE, key=lambda p: -PACE[p][0])
    # Then the steady sender is read to its end, with no error record
    assert steady in answered
    assert [e.port for e in report.errors if e.probe == "receive"] == [drip]
    # And the drip is cut by the budget, well before its 2.5 s
    assert "cut by the host's error budget" in detail(report, "receive")
    assert drip not in answered


async def test_with_no_budget_spent_a_slow_sender_is_not_cut() -> None:
    # Given a host on which nothing burns the budget (the burning port is
    # not one the probe stalls on) and a port that drips below the floor
    async with AsyncExitStack() as stack:
        ports = [await stack.enter_async_context(tcp_server(paced)) for _ in range(2)]
        PACE.clear()
        PACE[ports[1]] = (8, 0.25)
        stalling.clear()
        answered.clear()
        # When it is scanned
        report = await scan_local(ports, [BurnProbe, ReceiveProbe], timeout=0.5, total=6.0)
    # Then the slow sender is read to its end: only a spent budget watches
    assert answered == {ports[1]}
    assert report.errors == []


class BusyHostProbe(ServiceProbe):
    """An early phase: holds one of the host's connection slots for 1.5 s
    while receiving (an honest slow sibling, e.g. a share walk)."""

    name = "busy"
    protocols: ClassVar[frozenset[str]] = frozenset({"unknown", "http"})
    phase = 10

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        if service.port in PACE or stalling.get("burn") == service.port:
            return
        async with ctx.limits.connection(ctx.address):
            for _ in range(15):
                ctx.progress(4096)
                await asyncio.sleep(0.1)


class EarlyBurnProbe(BurnProbe):
    name = "burn"
    phase = 10


async def test_a_probe_queued_behind_its_host_s_busy_slots_is_not_cut() -> None:
    # Given a host that burns its error budget at once, two honest probes
    # holding both of its connection slots (--per-host 2) for 1.5 s, and a
    # later probe of a steady sender that must wait for a slot all that time
    async with AsyncExitStack() as stack:
        ports = [await stack.enter_async_context(tcp_server(paced)) for _ in range(4)]
        PACE.clear()
        PACE[ports[3]] = (4096, 0.1)
        stalling.clear()
        stalling["burn"] = ports[0]
        answered.clear()
        # When it is scanned (read and grace 0.5 s, total 6 s)
        report = await scan_local(
            ports, [EarlyBurnProbe, BusyHostProbe, ReceiveProbe], timeout=0.5, total=6.0
        )
    # Then the queued probe was not cut for waiting its turn: it read its
    # sender to the end, and the only error is the burnt deadline
    assert answered == {ports[3]}
    assert [(e.probe, e.port) for e in report.errors] == [("burn", ports[0])]
