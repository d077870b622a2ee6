"""Which targets are up: ARP on an on-link network as root (exposcan.net.arp),
else a TCP "ping".

ARP (as nmap does on a LAN) finds hosts that firewall every TCP port; it
needs root and an on-link network.  The TCP ping counts a host up when any of
a few ports answers, open *or* refused.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Iterable
from ipaddress import IPv4Address

from exposcan.net.arp import arp_sweep
from exposcan.net.localview import LocalView
from exposcan.net.platform import fast_paths
from exposcan.net.sockets import family_of, tcp_socket
from exposcan.net.targets import IPAddress

# Ports that something in a practice usually answers on, open or closed.
TCP_PING_PORTS = (445, 80, 443, 22, 104, 3389, 8080, 139, 11112)


def can_arp() -> bool:
    """ARP needs an AF_PACKET socket: root, on Linux (fast paths allowed)."""
    return fast_paths() and hasattr(os, "geteuid") and os.geteuid() == 0


def _onlink(address: IPAddress, view: LocalView | None) -> tuple[str, IPv4Address] | None:
    """(interface, our address on it) if ``address`` is on a connected IPv4 network."""
    if not isinstance(address, IPv4Address):
        return None  # IPv6 neighbours: exposcan.net.ndp
    for net in view.networks if view else []:
        if address in net.declared:
            return net.interface, net.address
    return None


async def tcp_ping(address: str, timeout: float, ports: Iterable[int] = TCP_PING_PORTS) -> bool:
    loop = asyncio.get_running_loop()

    async def one(port: int) -> bool:
        sock = tcp_socket(family_of(address))
        try:
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, (address, port))
            return True
        except ConnectionRefusedError:
            return True
        except (OSError, TimeoutError):
            return False
        finally:
            sock.close()

    tasks = [asyncio.ensure_future(one(p)) for p in ports]
    try:
        for next_done in asyncio.as_completed(tasks):
            if await next_done:
                return True
        return False
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def discover(
    addresses: list[IPAddress],
    view: LocalView | None,
    timeout: float,
    concurrency: int,
) -> dict[str, tuple[str, str | None]]:
    """address -> (how it was found, MAC or None), for the hosts that are up."""
    found: dict[str, tuple[str, str | None]] = {}
    by_iface: dict[tuple[str, IPv4Address], list[IPAddress]] = defaultdict(list)
    rest: list[IPAddress] = []
    arp = view is not None and can_arp()
    for address in addresses:
        net = _onlink(address, view) if arp else None
        if net:
            by_iface[net].append(address)
        else:
            rest.append(address)
    loop = asyncio.get_running_loop()
    for (iface, source), group in by_iface.items():
        try:
            v4 = [a for a in group if isinstance(a, IPv4Address)]
            macs = await loop.run_in_executor(None, arp_sweep, iface, source, v4, min(timeout, 2.0))
        except OSError:
            rest.extend(group)  # no raw sockets after all: fall back to TCP
            continue
        for addr, mac in macs.items():
            found[addr] = ("arp", mac)
        # Our own address never answers our ARP; a TCP ping settles it.
        own = {n.address for n in view.networks} if view else set()
        rest.extend(a for a in group if a in own)
    sem = asyncio.Semaphore(max(1, concurrency // len(TCP_PING_PORTS)))
    if not rest:
        return found

    async def ping(address: IPAddress) -> None:
        async with sem:
            if await tcp_ping(str(address), timeout):
                found[str(address)] = ("tcp", None)

    async with asyncio.TaskGroup() as group_tasks:
        for address in rest:
            group_tasks.create_task(ping(address))
    return found
