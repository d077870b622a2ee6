"""NAT-PMP (RFC 6886) on the internet box: the public-address request only.

A box answering NAT-PMP on UDP 5351 lets any program of the LAN open a port
from the internet to itself, as UPnP IGD does (miniupnpd ``enable_natpmp``;
PCP, RFC 6887, shares the port and answers a version-0 request with
UNSUPP_VERSION, which proves the service as well). The one request sent is
opcode 0, "what is the public address": it maps nothing and changes nothing
(RFC 6886 §3.2). Bounded: one datagram out, at most a few retries within the
read deadline, a 16-byte read.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

NATPMP_PORT = 5351
#: RFC 6886 §3.2: version 0, opcode 0.
PUBLIC_ADDRESS_REQUEST = b"\x00\x00"
#: RFC 6886 §3.5 result codes.
RESULTS = {
    0: "success",
    1: "unsupported version",
    2: "not authorized / refused",
    3: "network failure",
    4: "out of resources",
    5: "unsupported opcode",
}


@dataclass(frozen=True)
class NatPmpAnswer:
    version: int
    result_code: int
    epoch: int | None
    external_ip: str | None

    @property
    def result(self) -> str:
        return RESULTS.get(self.result_code, f"result code {self.result_code}")


def parse_answer(data: bytes) -> NatPmpAnswer | None:
    """A public-address answer (RFC 6886 §3.2: 12 bytes, opcode 128) or a
    PCP/NAT-PMP "unsupported version" answer; None for anything else."""
    if len(data) < 4:
        return None
    version, opcode, result = data[0], data[1], struct.unpack(">H", data[2:4])[0]
    if version == 0 and opcode == 128:
        if len(data) < 12:
            return None
        epoch = struct.unpack(">I", data[4:8])[0]
        public = str(IPv4Address(data[8:12])) if result == 0 else None
        return NatPmpAnswer(version, result, epoch, public)
    # PCP (RFC 6887 §9): version 2, R bit set, result UNSUPP_VERSION (1) to a
    # version-0 request; NAT-PMP servers answer opcode 128+op likewise.
    if version == 2 and opcode & 0x80 and len(data) >= 4 and data[3] == 1:
        return NatPmpAnswer(version, 1, None, None)
    return None


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, peer: str, port: int) -> None:
        self.peer, self.port = peer, port
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # Only the box's own answer, from its port: anyone else on the LAN
        # could answer for it.
        if addr[0] == self.peer and addr[1] == self.port and not self.answer.done():
            self.answer.set_result(data[:16])

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def public_address(
    address: str, timeout: float, tries: int = 3, port: int = NATPMP_PORT
) -> NatPmpAnswer | None:
    """Ask ``address`` its public address; None if nothing NAT-PMP answered.
    RFC 6886 §3.1 retries at 250 ms, doubling; here within ``timeout``."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Collector(address, port), family=socket.AF_INET, remote_addr=(address, port)
    )
    try:
        wait = 0.25
        end = loop.time() + timeout
        for _ in range(max(1, tries)):
            transport.sendto(PUBLIC_ADDRESS_REQUEST)
            left = end - loop.time()
            if left <= 0:
                break
            try:
                data = await asyncio.wait_for(asyncio.shield(protocol.answer), min(wait, left))
            except TimeoutError:
                wait *= 2
                continue
            except OSError:  # ICMP port unreachable: nothing listens
                return None
            return parse_answer(data)
        return None
    finally:
        transport.close()
