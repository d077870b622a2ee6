"""NAT-PMP's public-address request against UDP servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from exposcan.protocols.upnp.natpmp import parse_answer, public_address


class _Server(asyncio.DatagramProtocol):
    def __init__(self, reply: Callable[[bytes], bytes | None]) -> None:
        self.reply, self.seen = reply, []  # type: ignore[var-annotated]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen.append(data)
        out = self.reply(data)
        if out is not None:
            self.transport.sendto(out, addr)  # type: ignore[attr-defined]


@asynccontextmanager
async def udp_server(reply: Callable[[bytes], bytes | None]) -> AsyncIterator[tuple[int, _Server]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Server(reply), local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1], protocol
    finally:
        transport.close()


async def test_a_box_gives_its_public_address() -> None:
    # Given a NAT-PMP server (RFC 6886 §3.2 answer: 203.0.113.1, epoch 42)
    answer = bytes([0, 128, 0, 0, 0, 0, 0, 42, 203, 0, 113, 1])
    async with udp_server(lambda _: answer) as (port, server):
        found = await public_address("127.0.0.1", 1.0, port=port)
    # Then the answer is read, and the one request sent was the public-address one
    assert found is not None and found.external_ip == "203.0.113.1"
    assert found.result == "success" and server.seen == [b"\x00\x00"]


async def test_a_refusal_is_still_nat_pmp_and_silence_is_none() -> None:
    # Given a server answering "network failure" (miniupnpd with no public address)
    failure = bytes([0, 128, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0])
    async with udp_server(lambda _: failure) as (port, _):
        found = await public_address("127.0.0.1", 1.0, port=port)
    assert found is not None and found.result == "network failure" and found.external_ip is None
    # And a port that never answers: nothing, within the deadline
    async with udp_server(lambda _: None) as (port, server):
        assert await public_address("127.0.0.1", 0.6, port=port) is None
    assert 1 <= len(server.seen) <= 3


def test_only_nat_pmp_or_pcp_answers_parse() -> None:
    assert parse_answer(b"") is None
    assert parse_answer(b"HTTP/1.1 200 OK\r\n") is None
    assert parse_answer(bytes([0, 128, 0, 0, 0, 0])) is None  # cut short
    pcp = parse_answer(bytes([2, 0x80, 0, 1]) + bytes(20))  # PCP: UNSUPP_VERSION
    assert pcp is not None and pcp.version == 2
