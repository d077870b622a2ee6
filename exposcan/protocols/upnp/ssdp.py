"""SSDP search for an internet box's IGD (UPnP Device Architecture 1.1 §1.3).

Anyone on the LAN can answer an M-SEARCH, so an answer is untrusted input:
each datagram is size-capped, the number of answers is capped, the wait is
bounded, and a LOCATION is followed only if it names the responder itself on
a network this machine is directly connected to (otherwise an SSDP answer
could make the scanner fetch an arbitrary host).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from urllib.parse import urlsplit

SSDP_GROUP = "239.255.255.250"
SSDP_PORT = 1900
# UDA 1.1 §1.3.2: both versions of the IGD device type; a v2 box answers :1 too.
IGD_SEARCH_TARGETS = (
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
)
# UDA 1.1 §1.3.2: devices wait a random 0..MX s before answering; 1 is the
# least MX the standard allows (UDA 2.0 §1.3.2: 1 to 5).  The search is
# bounded by MX plus a margin: with MX 2 the wait was 2.5 s, the longest step
# of a one-PACS scan.  The margin covers a busy box, not the
# LAN (well under a millisecond here).
MX_SECONDS = 1
# UDA 1.1 §1.1.2: the multicast TTL should default to 2 (stay on the LAN).
MULTICAST_TTL = 2
# A real answer is ~400 bytes; UDA 1.1 recommends datagrams under 1500 bytes.
MAX_DATAGRAM = 2048
MAX_RESPONSES = 32
MAX_HEADER_LINES = 40


@dataclass(frozen=True)
class SsdpResponse:
    responder: str  # source address of the datagram
    st: str
    location: str
    server: str
    usn: str


def m_search(target: str, mx: int = MX_SECONDS) -> bytes:
    """An M-SEARCH request (UDA 1.1 §1.3.2)."""
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {SSDP_GROUP}:{SSDP_PORT}\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"MX: {mx}\r\n"
        f"ST: {target}\r\n"
        "\r\n"
    ).encode("ascii")


def parse_response(data: bytes, responder: str) -> SsdpResponse | None:
    """A search answer (``HTTP/1.1 200 OK`` + headers), or None if it is not one."""
    if len(data) > MAX_DATAGRAM:
        return None
    lines = data.decode("latin-1").replace("\r\n", "\n").split("\n")
    status = lines[0].split()
    if len(status) < 2 or not status[0].startswith("HTTP/1.") or status[1] != "200":
        return None
    headers: dict[str, str] = {}
    for line in lines[1:MAX_HEADER_LINES]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    location = headers.get("location", "")
    if not location:
        return None
    return SsdpResponse(
        responder=responder,
        st=headers.get("st", ""),
        location=location,
        server=headers.get("server", "")[:120],
        usn=headers.get("usn", "")[:200],
    )


def is_igd_answer(response: SsdpResponse) -> bool:
    return response.st in IGD_SEARCH_TARGETS


def trusted_location(location: str, responder: str, networks: Iterable[IPv4Network]) -> str | None:
    """``location`` if it is plain http to the responder's own address, and the
    responder is on a directly connected network; None otherwise."""
    try:
        parts = urlsplit(location)
        host = IPv4Address(parts.hostname or "")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or parts.username or parts.password:
        return None
    if str(host) != responder or port == 0:
        return None
    if not any(host in net for net in networks):
        return None
    return location


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.answers: list[SsdpResponse] = []
        self.dropped = 0

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if len(self.answers) >= self.cap:
            self.dropped += 1
            return
        answer = parse_response(data, str(addr[0]))
        if answer is None:
            self.dropped += 1
        else:
            self.answers.append(answer)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: ignore
        return None


async def search(
    source_ip: str,
    targets: Sequence[str] = IGD_SEARCH_TARGETS,
    *,
    wait: float = MX_SECONDS + 0.3,
    destination: tuple[str, int] = (SSDP_GROUP, SSDP_PORT),
    max_responses: int = MAX_RESPONSES,
) -> list[SsdpResponse]:
    """M-SEARCH from ``source_ip`` (so it leaves by that interface) and collect
    answers for ``wait`` seconds.  ``destination`` is the multicast group;
    tests point it at a unicast responder on 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source_ip))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, MULTICAST_TTL)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        sock.bind((source_ip, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    loop = asyncio.get_running_loop()
    transport, collector = await loop.create_datagram_endpoint(
        lambda: _Collector(max_responses), sock=sock
    )
    try:
        # UDP is lossy: each search twice, as miniupnpc does.
        for _ in range(2):
            for target in targets:
                transport.sendto(m_search(target), destination)
            await asyncio.sleep(0.1)
        await asyncio.sleep(max(0.0, wait - 0.2))
    finally:
        transport.close()
    return list(collector.answers)
