"""The reflector as a public service: what one host, one token or one odd
request must not be able to do to the practices it serves.

A real front on loopback, the real engine behind it; sources are loopback
addresses the client binds (127.0.0.2, 127.0.0.3...)."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import pytest

from exposcan.catalogue import PortEntry, default_catalogue
from exposcan.reflector.quota import MemoryStore, Policy
from tests.inprocess.reflector_fixtures import Running, fresh, post, running_reflector
from tests.inprocess.servers import tarpit, tcp_server


async def raw(running: Running, data: bytes, local: str = "127.0.0.2") -> bytes:
    """``data`` over TLS from ``local``, as no HTTP client would send it; the answer."""
    port = int(running.url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(running.cert.ca))
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, local_addr=(local, 0), server_hostname="localhost"
    )
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


def entries(store: MemoryStore) -> int:
    return sum(len(room.values) for room in (store._main, store._bad))


def request(token: bytes, body: bytes, host: bytes = b"x") -> bytes:
    return (
        b"POST /v1/scan HTTP/1.1\r\nHost: " + host + b"\r\nAuthorization: Bearer " + token
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


async def test_one_token_cannot_fill_the_store(tmp_path: Path) -> None:
    # Given a reflector whose memory holds 24 entries, and a token that had
    # its one scan of the day
    quota = Policy(per_token_day=1)
    async with running_reflector(tmp_path, store_entries=24, quota=quota) as running:
        first, _ = await post(running, fresh(), local="127.0.0.2")
        assert first == 200
        store = running.reflector.store
        assert isinstance(store, MemoryStore)
        kept = entries(store)
        # When it asks again from 30 sources, each request with a new nonce
        statuses = [(await post(running, fresh(), local=f"127.0.0.{n}"))[0] for n in range(10, 40)]
        # And another practice's token asks
        other, answer = await post(running, fresh(), local="127.0.0.3", token=running.add_token())
        left = entries(store)
    # Then each was refused, and the other practice is served: the refused
    # requests left nothing in the store (a scan leaves its nonce and two
    # day's counts; its two locks go when it ends)
    assert statuses == [429] * 30
    assert other == 200, answer
    assert kept == 3 and left == kept + 3


async def test_tokenless_failures_never_block_a_valid_token(tmp_path: Path) -> None:
    # Given a budget of 3 bad requests a day per source
    async with running_reflector(tmp_path, quota=Policy(bad_per_source_day=3)) as running:
        # When anyone behind the practice's address (its guest Wi-Fi, a
        # carrier-grade NAT) sends 5 requests without a valid token
        bad = [
            (await post(running, fresh(), token="guess", local="127.0.0.2"))[0] for _ in range(5)
        ]
        # Then those are refused, the last ones before any token check
        assert bad == [401, 401, 401, 429, 429]
        # And the practice's valid token from the same address is still served
        status, answer = await post(running, fresh(), local="127.0.0.2")
    assert status == 200, answer


async def test_zone_ids_are_not_scanned(tmp_path: Path) -> None:
    # Given a reflector on ::1 serving ::1
    async with running_reflector(tmp_path, host="::1") as running:
        # When a request names its own address with zone ids (a number, an interface)
        named = [f"::1%{n}" for n in range(14)] + ["::1%lo"]
        status, answer = await post(running, fresh(ipv6=named))
        count = running.reflector.stats.counts
    # Then only the source is scanned, once, and the answer says why
    assert status == 200, answer
    assert answer["scanned"] == ["::1"]
    assert answer["skipped"] == ["::1: a zone id (%) is never scanned"] * 15
    assert count["scans"] == 1 and count["internal"] == 0


@pytest.mark.parametrize("stamp", [b"NaN", b"Infinity", b"-Infinity"])
async def test_a_timestamp_must_be_a_finite_number(tmp_path: Path, stamp: bytes) -> None:
    async with running_reflector(tmp_path) as running:
        # Given a request whose timestamp is not a finite number
        body = b'{"timestamp": ' + stamp + b', "nonce": "' + b"a" * 32 + b'", "ipv6": []}'
        answer = await raw(running, request(running.token.encode(), body))
        # Then it is refused as stale (it could be replayed once its nonce expired)
        assert answer.startswith(b"HTTP/1.1 409 "), answer[:100]
        # And a fresh one is served
        status, _ = await post(running, fresh())
        assert status == 200
        assert running.reflector.stats.counts["scans"] == 1


async def test_library_logs_name_no_source_and_no_header(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Every logger at DEBUG, whatever an earlier in-process CLI run set
    # (``reflector serve`` quiets exposcan's loggers for its operator).
    for name in (None, "exposcan", "exposcan.reflector", "aiohttp", "asyncio"):
        caplog.set_level("DEBUG", logger=name)
    async with running_reflector(tmp_path, quota=Policy(bad_per_source_day=3)) as running:
        token = running.token.encode()
        # Given a valid token followed by a non-ASCII byte in the Authorization header
        odd = await raw(running, request(token + "é".encode(), b"{}"))
        # And request heads aiohttp refuses itself, each quoting the token
        refused = [
            await raw(running, b"GARBAGE \xff " + token + b"\r\n\r\n"),
            await raw(running, b"POST /v1/scan HTTP/1.1\r\nX: \x01" + token + b"\r\n\r\n"),
            await raw(running, request(token, b"{}", host=b"a" * 5000)),
        ]
        # Then the odd header is an unknown token (401), not an internal error,
        # and counts toward the source's budget
        assert odd.startswith(b"HTTP/1.1 401 "), odd[:100]
        assert all(r.startswith(b"HTTP/1.") and b" 400 " in r[:20] for r in refused), refused
        counts = running.reflector.stats.counts
        assert counts["refused.token"] == 1 and counts["internal"] == 0
        # And a valid request from the same source is served
        status, _ = await post(running, fresh(), local="127.0.0.2")
        assert status == 200
    # And no log line, ours or a library's, names the source or holds the token
    assert caplog.records
    assert "127.0.0.2" not in caplog.text
    assert running.token not in caplog.text
    assert running.token[:20] not in caplog.text


async def test_one_token_cannot_hold_every_scan_slot(tmp_path: Path) -> None:
    # Given a service that never answers on every IPv4 source (each scan
    # lasts its 3 s deadline), and a reflector with three scan slots
    hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    async with tcp_server(tarpit, hosts[0]) as port:
        others = [tcp_server(tarpit, h, port) for h in hosts[1:]]
        for server in others:
            await server.__aenter__()
        default_catalogue().ports[port] = PortEntry(port=port, protocol="http", tls=False)
        try:
            async with running_reflector(
                tmp_path,
                ports=str(port),
                deadline=3.0,
                probe_timeout=10.0,
                max_scans=3,
                host=["127.0.0.1", "::1"],
            ) as running:
                other = running.add_token("another practice")
                # When one token's scan runs and it asks again from another address
                first = asyncio.create_task(post(running, fresh(), local=hosts[0]))
                end = time.monotonic() + 10
                while running.reflector.runner.running < 1 and time.monotonic() < end:
                    await asyncio.sleep(0.05)
                second, answer = await post(running, fresh(), local=hosts[1])
                # Then it is refused, and another token still finds a slot
                assert second == 429 and "for this token" in answer["error"]
                third, _ = await post(running, fresh(), local=hosts[2], token=other)
                assert third == 200
                # And the same token over IPv6 is served meanwhile (a client
                # asks over each family side by side)
                six, answer = await post(running.at("::1"), fresh())
                assert six == 200 and answer["scanned"] == ["::1"]
                assert (await first)[0] == 200
        finally:
            del default_catalogue().ports[port]
            for server in others:
                await server.__aexit__(None, None, None)
