"""Each forward of the box joined to the LAN host:port it leads to.  A
forward to a host or port the LAN scan did not cover is scanned now (the
engine's port scan and probes, under the scan's limits); each forward becomes
an ``upnp.mapping`` fact saying what is behind it (imaging, health data)."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Network

from exposcan.models import ErrorReason
from exposcan.probe import NetworkContext
from exposcan.protocols.upnp.igd import MAPPING_FACT, PROBE_NAME, Igd, ipv4
from exposcan.state import Fact, HostState

LOOPBACK = IPv4Network("127.0.0.0/8")


def same_connected_network(a: str, b: str, networks: list[IPv4Network]) -> bool:
    """Both addresses in one directly connected network (loopback counts when
    the box itself is on loopback: a test IGD on this machine)."""
    ia, ib = ipv4(a), ipv4(b)
    if ia is None or ib is None:
        return False
    return any(ia in net and ib in net for net in [*networks, LOOPBACK])


async def join_forwards(
    ctx: NetworkContext, igd: Igd, connected: list[IPv4Network], budget_end: float
) -> None:
    """Each forward against the internal host:port; internal targets the LAN
    scan did not cover are scanned now (engine port scan + probes)."""
    todo: dict[str, list[int]] = {}
    for m in igd.mappings:
        if m.protocol != "TCP" or not same_connected_network(
            igd.address, m.internal_client, connected
        ):
            continue
        host = ctx.scan.hosts.get(m.internal_client)
        covered = host is not None and (
            m.internal_port in host.services or m.internal_port in ctx.config.ports
        )
        if not covered:
            todo.setdefault(m.internal_client, []).append(m.internal_port)
    scanned_now: set[tuple[str, int]] = set()

    async def follow(address: str, ports: list[int]) -> None:
        try:
            async with asyncio.timeout_at(budget_end):
                await ctx.scan_more(address, sorted(set(ports)))
            scanned_now.update((address, p) for p in ports)
        except TimeoutError:
            ctx.scan.error(
                address,
                None,
                PROBE_NAME,
                ErrorReason.TIMEOUT,
                "no time left to scan a forward's internal target",
            )

    # In parallel, under the scan's own limits (global, per host, rate):
    # one slow internal host must not hold up the others.
    async with asyncio.TaskGroup() as group:
        for address, ports in todo.items():
            group.create_task(follow(address, ports))
    box_ctx = ctx.context_for(ctx.scan.host(igd.address))
    for m in igd.mappings:
        internal = ctx.scan.hosts.get(m.internal_client) if m.protocol == "TCP" else None
        service = internal.services.get(m.internal_port) if internal else None
        imaging = _imaging_fact(internal, m.internal_port) if service else None
        health = (
            _service_fact(internal, m.internal_port, "health-data.service") if service else None
        )
        if internal is None:
            state = "not scanned"
        elif service is not None:
            state = "open"
        elif (m.internal_client, m.internal_port) in scanned_now or (
            m.internal_port in ctx.config.ports
        ):
            state = "not open"
        else:
            state = "not scanned"
        box_ctx.fact(
            MAPPING_FACT,
            m.external_port,
            "upnp",
            external_port=m.external_port,
            transport=m.protocol,
            internal_host=m.internal_client,
            internal_port=m.internal_port,
            description=m.description or None,
            enabled=m.enabled,
            remote_host=m.remote_host or "any",
            lease_duration=m.lease_duration,
            internal_state=state,
            internal_service=service.protocol if service else None,
            internal_product=service.product if service else None,
            imaging=imaging is not None,
            imaging_service=str(imaging.data.get("service")) if imaging else None,
            health_data=health is not None,
            health_data_service=str(health.data.get("service")) if health else None,
            external_ip=igd.external_ip,
        )


def _imaging_fact(host: HostState | None, port: int) -> Fact | None:
    return _service_fact(host, port, "imaging.service")


def _service_fact(host: HostState | None, port: int, kind: str) -> Fact | None:
    if host is None:
        return None
    return next((f for f in host.facts if f.kind == kind and f.port == port), None)
