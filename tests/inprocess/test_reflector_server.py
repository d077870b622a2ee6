"""The reflector front, on loopback, with the real engine behind it.

Sources are loopback addresses (127.0.0.2, 127.0.0.3: the client binds them
as its source), so "the requester's address" and "another address" are both
real, and a TCP listener on each proves which one the scan touched."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from exposcan.catalogue import PortEntry, default_catalogue
from exposcan.reflector.client import ReflectorError, request_outside_view
from exposcan.reflector.quota import Policy
from exposcan.reflector.server import Bounds
from exposcan_lab.topology import CANARY_STRINGS, SECRET_STRINGS
from tests.helpers import assert_valid_report
from tests.inprocess.http_servers import Seen, orthanc_app, serve
from tests.inprocess.reflector_fixtures import fresh, post, running_reflector
from tests.inprocess.servers import tarpit, tcp_server
from tests.support.cli import cli_argv, cli_env, run_cli


@asynccontextmanager
async def counting(host: str) -> AsyncIterator[tuple[int, list[int]]]:
    """A listener on ``host`` that counts the connections it accepts."""
    accepted: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await reader.read(1024)

    async with tcp_server(handler, host) as port:
        yield port, accepted


async def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_scans_only_the_source(tmp_path: Path) -> None:
    # Given listeners on the requester's address (127.0.0.3) and another (127.0.0.2)
    async with counting("127.0.0.2") as (port2, other), counting("127.0.0.3") as (port3, mine):
        ports = f"{port2},{port3}"
        async with running_reflector(tmp_path, ports=ports) as running:
            # When a body names the other address in a field of its own
            named = [fresh(target="127.0.0.2"), fresh(address="127.0.0.2")]
            statuses = [(await post(running, body, local="127.0.0.3"))[0] for body in named]
            # Then it is refused before any scan
            assert statuses == [400, 400]
            assert other == [] and mine == []
            # When it names it among its IPv6 addresses, plainly or IPv4-mapped
            status, answer = await post(
                running, fresh(ipv6=["127.0.0.2", "::ffff:127.0.0.2"]), local="127.0.0.3"
            )
    # Then only 127.0.0.3 was scanned (the other listener saw no connection),
    # and the answer says why the names were not
    assert status == 200, answer
    assert answer["source"] == "127.0.0.3" and answer["scanned"] == ["127.0.0.3"]
    assert answer["skipped"] == [
        "127.0.0.2: not a unicast IPv6 address (IPv4: only the source)",
        "::ffff:127.0.0.2: not a unicast IPv6 address (IPv4: only the source)",
    ]
    assert any("not scanned: 127.0.0.2" in n for n in answer["report"]["scan"]["notes"])
    assert answer["ports_tried"] == len({port2, port3})
    report = assert_valid_report(answer["report"])
    assert report["scan"]["vantage"] == "internet"
    assert [h["address"] for h in report["hosts"]] == ["127.0.0.3"]
    assert mine and other == []


async def test_ipv6_scope_over_loopback(tmp_path: Path) -> None:
    # Given a reflector listening on ::1, serving ::1 and 127.0.0.0/8
    async with running_reflector(tmp_path, host="::1") as running:
        # When the client names its own source, it is scanned
        status, answer = await post(running, fresh(ipv6=["::1"]))
        assert status == 200, answer
        assert answer["scanned"] == ["::1"]
        # When it names an address outside its /64, or one embedding IPv4
        status, answer = await post(running, fresh(ipv6=["2001:db8:1::5", "::ffff:127.0.0.2"]))
        # Then neither is scanned, and the answer says why
        assert status == 200
        assert answer["scanned"] == ["::1"]
        assert [s.split(": ", 1)[1] for s in answer["skipped"]] == [
            "outside your source's /64",
            "not a unicast IPv6 address (IPv4: only the source)",
        ]


async def test_ipv6_named_over_ipv4_is_not_scanned(tmp_path: Path) -> None:
    async with running_reflector(tmp_path) as running:
        status, answer = await post(running, fresh(ipv6=["::1"]))
    assert status == 200
    assert answer["scanned"] == ["127.0.0.1"]
    assert answer["skipped"] == ["::1: not scanned, the request came over IPv4"]


async def test_sources_not_served(tmp_path: Path) -> None:
    # Given a reflector serving only globally routed addresses (the default)
    async with counting("127.0.0.1") as (port, accepted):
        async with running_reflector(tmp_path, ports=str(port), sources="global") as running:
            status, answer = await post(running, fresh())
    # Then a loopback requester is not scanned (a reflector never scans its own side)
    assert status == 403 and "does not serve" in answer["error"]
    assert accepted == []


async def test_rate_limits_per_source_and_per_token(tmp_path: Path) -> None:
    # Given at most 2 scans a day per source and 3 per token
    quota = Policy(per_source_day=2, per_token_day=3)
    async with running_reflector(tmp_path, quota=quota) as running:
        first = [(await post(running, fresh(), local="127.0.0.2"))[0] for _ in range(3)]
        # Then the third from one source is refused
        assert first == [200, 200, 429]
        # And another source has its own count, until the token's is used up
        other = [(await post(running, fresh(), local="127.0.0.3"))[0] for _ in range(2)]
        assert other == [200, 429]
        _, answer = await post(running, fresh(), local="127.0.0.4")
        assert "this token" in answer["error"]
        assert running.reflector.stats.counts["scans"] == 3


async def test_one_scan_at_a_time_per_source_and_the_deadline(tmp_path: Path) -> None:
    # Given a service that accepts and never answers (a probe waits its read
    # deadline), and a reflector whose scan deadline is 2 s
    async with tcp_server(tarpit, "127.0.0.2") as port:
        default_catalogue().ports[port] = PortEntry(port=port, protocol="http", tls=False)
        try:
            async with running_reflector(
                tmp_path, ports=str(port), deadline=2.0, probe_timeout=5.0
            ) as running:
                started = time.monotonic()
                first = asyncio.create_task(post(running, fresh(), local="127.0.0.2"))
                await wait_for(lambda: running.reflector.runner.running == 1)
                # When the same source asks again while its scan runs
                second, answer = await post(running, fresh(), local="127.0.0.2")
                # Then it is refused; another source (another practice's token) is not
                assert second == 429 and "already running" in answer["error"]
                third, _ = await post(
                    running, fresh(), local="127.0.0.3", token=running.add_token()
                )
                assert third == 200
                status, answer = await first
                took = time.monotonic() - started
        finally:
            del default_catalogue().ports[port]
    # Then the deadline ended the first scan: an incomplete report that says so
    assert status == 200
    assert answer["report"]["scan"]["complete"] is False
    assert any("deadline ended" in n for n in answer["report"]["scan"]["notes"])
    print(f"scan cut by its 2 s deadline answered after {took:.1f} s")


async def test_bad_token_replay_and_stale_cost_no_scan(tmp_path: Path) -> None:
    # Given a listener on the requester's address
    async with counting("127.0.0.2") as (port, accepted):
        quota = Policy(bad_per_source_day=4)
        async with running_reflector(tmp_path, ports=str(port), quota=quota) as running:
            # When the token is wrong, missing, or the timestamp is stale
            wrong, _ = await post(running, fresh(), token="not-the-token", local="127.0.0.2")
            missing, _ = await post(
                running, fresh(), local="127.0.0.2", headers={"Content-Type": "application/json"}
            )
            stale, _ = await post(running, fresh(timestamp=time.time() - 3600), local="127.0.0.2")
            assert (wrong, missing, stale) == (401, 401, 409)
            assert accepted == []
            # When a good request is replayed
            body = fresh()
            ok, _ = await post(running, body, local="127.0.0.2")
            scanned = len(accepted)
            replay, answer = await post(running, body, local="127.0.0.2")
            # Then the replay is refused and scans nothing
            assert ok == 200 and replay == 409 and "nonce" in answer["error"]
            assert scanned > 0 and len(accepted) == scanned
            # And once the source's budget of requests without a valid token
            # is spent, those are refused before any token check
            for _ in range(2):
                await post(running, fresh(), token="wrong", local="127.0.0.2")
            flood, answer = await post(running, fresh(), token="wrong", local="127.0.0.2")
            assert flood == 429 and "bad requests from your address" in answer["error"]
            # And once the token's own budget is spent (stale, replay: 2 + 2), it is refused
            for _ in range(2):
                await post(running, fresh(timestamp=0), local="127.0.0.3")
            spent, answer = await post(running, fresh(), local="127.0.0.3")
            assert spent == 429 and "with this token" in answer["error"]
            # While another token is served from the flooded address
            other, _ = await post(running, fresh(), local="127.0.0.2", token=running.add_token())
            assert other == 200


async def test_bad_requests_from_many_sources_cannot_fill_the_store(tmp_path: Path) -> None:
    # Given a reflector whose memory holds 8 entries (a scan takes 5)
    async with running_reflector(tmp_path, store_entries=8) as running:
        # When 8 sources send bad tokens
        for n in range(2, 10):
            status, _ = await post(running, fresh(), token="wrong", local=f"127.0.0.{n}")
            assert status == 401
        # Then a good request is still served (the store is not full of them)
        status, answer = await post(running, fresh(), local="127.0.0.10")
    assert status == 200, answer


async def test_client_dropping_mid_scan_cancels_it(tmp_path: Path) -> None:
    # Given a service that holds every probe connection open
    opened: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(writer)
        await reader.read()  # until the scanner closes its side

    async with tcp_server(hold, "127.0.0.2") as port:
        default_catalogue().ports[port] = PortEntry(port=port, protocol="http", tls=False)
        try:
            async with running_reflector(
                tmp_path, ports=str(port), deadline=60.0, probe_timeout=10.0
            ) as running:
                # When the client drops its request while the scan runs
                request = asyncio.create_task(post(running, fresh(), local="127.0.0.2"))
                assert await wait_for(lambda: len(opened) >= 2)
                request.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await request
                # Then the scan is cancelled: no job runs, its connections close
                assert await wait_for(lambda: running.reflector.runner.running == 0)
                assert await wait_for(lambda: all(w.is_closing() for w in opened) or _eof(opened))
                assert running.reflector.stats.counts["dropped"] == 1
                # And the source may ask again at once (its lock is released)
                status, _ = await post(running, fresh(), local="127.0.0.3")
                assert status == 200
        finally:
            del default_catalogue().ports[port]


def _eof(writers: list[asyncio.StreamWriter]) -> bool:
    return all(w.transport.is_closing() for w in writers)


async def test_slow_header_size_and_connection_caps(tmp_path: Path) -> None:
    bounds = Bounds(max_connections=2, header_timeout=0.5)
    async with running_reflector(tmp_path, bounds=bounds) as running:
        host, port = "127.0.0.1", int(running.url.rsplit(":", 1)[1])
        context = ssl.create_default_context(cafile=str(running.cert.ca))
        # Given a client that completes TLS and then sends nothing
        idle = [await asyncio.open_connection(host, port, ssl=context) for _ in range(2)]
        # When a third connects while the two hold their slots, it is closed
        # before its TLS handshake
        with pytest.raises((ConnectionError, ssl.SSLError)):
            reader, _ = await asyncio.open_connection(host, port, ssl=context)
            assert await asyncio.wait_for(reader.read(1), 5) == b""
        # And the idle two are closed after the header deadline
        for idle_reader, idle_writer in idle:
            assert await asyncio.wait_for(idle_reader.read(1), 5) == b""
            idle_writer.close()
        counts = running.reflector.stats.counts
        assert counts["refused.connections"] == 1 and counts["refused.slow-header"] == 2
        # Given a body larger than the cap, Then it is refused unread
        status, _ = await post(running, b"{" + b" " * 100_000 + b"}")
        assert status == 413
        # And a good request is still served
        status, _ = await post(running, fresh())
        assert status == 200


async def test_no_canary_in_answers_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an open Orthanc (its /system names a canary patient) on the requester's address
    # (every logger at DEBUG, whatever level an earlier test's set-up left
    # on exposcan's own: a line at any level must hold no canary)
    caplog.set_level("DEBUG")
    for name in ("exposcan", "exposcan.reflector"):
        caplog.set_level("DEBUG", logger=name)
    seen = Seen()
    async with serve(orthanc_app(seen), host="127.0.0.2") as port:
        default_catalogue().ports[port] = PortEntry(port=port, protocol="http", tls=False)
        try:
            async with running_reflector(tmp_path, ports=str(port)) as running:
                # When requests carry canaries where a log might echo them
                canary = CANARY_STRINGS[0]
                await post(running, fresh(target=canary), local="127.0.0.2")
                _, named = await post(running, fresh(**{canary: 1}), local="127.0.0.2")
                assert named["error"].startswith("bad request: an unknown field")
                await post(running, fresh(), token=canary, local="127.0.0.2")
                status, answer = await post(running, fresh(), local="127.0.0.2")
                token = running.token
        finally:
            del default_catalogue().ports[port]
    # Then the scan found the open PACS, and neither the answer nor any log
    # line holds a canary, a lab secret or the token
    assert status == 200
    assert answer["report"]["findings"], answer
    text = str(answer) + "\n" + caplog.text
    reflector_lines = [r.getMessage() for r in caplog.records if r.name == "exposcan.reflector"]
    assert reflector_lines
    for secret in (*CANARY_STRINGS, *SECRET_STRINGS, token):
        assert secret not in text, secret
    # The reflector's own lines name no address
    assert not any("127.0.0.2" in line for line in reflector_lines)


async def test_client_against_the_real_reflector(tmp_path: Path) -> None:
    async with running_reflector(tmp_path) as running:
        # Given the reflector's certificate pinned, the client gets its view
        view = await request_outside_view(
            running.url, token=running.token, pin_sha256=running.cert.sha256, deadline=30
        )
        assert view.source == "127.0.0.1" and view.scanned == ("127.0.0.1",)
        assert view.report.scan.complete is True
        # Given a wrong pin, or a wrong token, Then a one-line error
        with pytest.raises(ReflectorError, match="pinned"):
            await request_outside_view(
                running.url, token=running.token, pin_sha256="ab" * 32, deadline=30
            )
        with pytest.raises(ReflectorError, match="token was refused"):
            await request_outside_view(
                running.url, token="x" * 43, ca_file=running.cert.ca, deadline=30
            )


def test_cli_add_token_and_a_missing_extra(tmp_path: Path) -> None:
    import subprocess
    import sys

    # Given add-token, Then the token is printed once and only its hash kept
    tokens = tmp_path / "tokens"
    made = run_cli("reflector", "add-token", "--tokens", str(tokens))
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token) == 43 and token not in tokens.read_text()
    # Given --redis without arq installed, Then one clear error line
    code = (
        "import sys; sys.modules['arq'] = None; from exposcan.cli import main; "
        "sys.exit(main(['reflector', 'worker', '--redis', 'redis://127.0.0.1:1']))"
    )
    missing = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "exposcan: error: the reflector's Redis mode needs arq: pip install 'exposcan[reflector]'"
    ]


def test_cli_serve_and_check(tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess

    from tests.inprocess.reflector_tls import make_server_cert

    # Given the real CLI: a token, a certificate, and the front on loopback
    cert = make_server_cert(tmp_path)
    tokens = tmp_path / "tokens"
    made = run_cli("reflector", "add-token", "--tokens", str(tokens))
    assert made.returncode == 0, made.stderr
    (tmp_path / "token").write_text(made.stdout)
    (tmp_path / "token").chmod(0o600)  # a secret: others may not read it
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve = ["reflector", "serve", "--listen", f"127.0.0.1:{port}", "--cert", str(cert.cert)]
    serve += ["--key", str(cert.key), "--tokens", str(tokens), "--sources", "127.0.0.0/8"]
    serve += ["--ports", "1-1024", "--scan-type", "connect", "-v"]
    front = subprocess.Popen(cli_argv(serve), env=cli_env(), stderr=subprocess.PIPE, text=True)
    try:
        assert front.stderr is not None
        assert "reflector on https://127.0.0.1" in front.stderr.readline()
        # When a practice checks with the CA file and its token file
        args = ["reflector", "check", f"https://127.0.0.1:{port}", "--ca-file", str(cert.ca)]
        args += ["--token-file", str(tmp_path / "token"), "-o", str(tmp_path / "out.json")]
        check = run_cli(*args, timeout=120)
        # Then it gets its outside view, written readable by its owner only
        assert check.returncode == 0, check.stderr
        assert check.stdout.startswith("seen from the internet as 127.0.0.1: 1024 ports tried")
        assert (tmp_path / "out.json").stat().st_mode & 0o077 == 0
    finally:
        front.send_signal(signal.SIGTERM)
        _, log = front.communicate(timeout=30)
    # And the front stopped cleanly, its log holding counts, not the token or the address
    assert front.returncode == 0, log
    assert "scan done for token" in log and "scans=1" in log
    assert made.stdout.strip() not in log
    assert "127.0.0.1" not in log.split("\n", 1)[1]
