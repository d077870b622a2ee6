"""The reflector client: it trusts only the reflector it was told to, sends
its token only in a header, reads a bounded answer, and keeps one deadline.

The HTTPS peer here is a small aiohttp app on 127.0.0.1 that records what it
received; the real reflector is tested in test_reflector_server.py."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from exposcan import __version__
from exposcan.models import Report, ScanInfo, Tool, Vantage
from exposcan.reflector.client import (
    TOKEN_ENV,
    TOKEN_FILE_ENV,
    ReflectorError,
    load_token,
    request_outside_view,
)
from exposcan.reflector.wire import MAX_ANSWER_BYTES, SCAN_PATH, ScanAnswer
from tests.inprocess.reflector_tls import ServerCert, make_server_cert

TOKEN = "tok_" + "A" * 40


def _report(vantage: Vantage = Vantage.INTERNET) -> Report:
    now = datetime.now(UTC)
    return Report(
        tool=Tool(version=__version__),
        scan=ScanInfo(
            started=now,
            finished=now,
            vantage=vantage,
            targets=["127.0.0.1"],
            complete=True,
            ports="1-65535",
        ),
        hosts=[],
        findings=[],
        errors=[],
    )


def _answer(vantage: Vantage = Vantage.INTERNET) -> bytes:
    answer = ScanAnswer(
        source="127.0.0.1", scanned=["127.0.0.1"], ports_tried=65535, report=_report(vantage)
    )
    return answer.model_dump_json(by_alias=True).encode()


Handler = Callable[[web.Request], Any]


@asynccontextmanager
async def https_app(cert: ServerCert, handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post(SCAN_PATH, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.cert, cert.key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def cert(tmp_path: Path) -> ServerCert:
    return make_server_cert(tmp_path)


async def test_verified_by_ca_file_and_token_only_in_header(cert: ServerCert) -> None:
    # Given a self-hosted reflector whose certificate a private CA signed
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.text()
        seen.append(
            {
                "auth": request.headers.get("Authorization"),
                "query": request.query_string,
                "body": body,
            }
        )
        return web.Response(body=_answer(), content_type="application/json")

    async with https_app(cert, handler) as url:
        # When the client asks with that CA file
        view = await request_outside_view(url, token=TOKEN, ca_file=cert.ca, deadline=10)
    # Then it gets the outside view, and the token went only in the header
    assert view.source == "127.0.0.1"
    assert view.scanned == ("127.0.0.1",)
    assert view.ports_tried == 65535
    assert view.report.scan.vantage is Vantage.INTERNET
    assert view.reflector == url + "/"
    (request,) = seen
    assert request["auth"] == f"Bearer {TOKEN}"
    assert TOKEN not in request["body"] and TOKEN not in request["query"]
    body = json.loads(request["body"])
    assert set(body) == {"timestamp", "nonce", "ipv6"} and len(body["nonce"]) == 32


async def test_system_cas_refuse_a_private_ca(cert: ServerCert) -> None:
    # Given the same reflector, and a client that trusts only the system CAs
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append("reached")
        return web.Response(body=_answer(), content_type="application/json")

    async with https_app(cert, handler) as url:
        # When it asks, Then it refuses the certificate and never sends the request
        with pytest.raises(ReflectorError, match="not trusted"):
            await request_outside_view(url, token=TOKEN, deadline=10)
        # And a wrong CA file is refused too
        other = make_server_cert(cert.ca.parent, prefix="other")
        with pytest.raises(ReflectorError, match="not trusted"):
            await request_outside_view(url, token=TOKEN, ca_file=other.ca, deadline=10)
    assert seen == []


async def test_pinned_certificate(cert: ServerCert) -> None:
    # Given the reflector and its certificate's SHA-256 pinned
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.Response(body=_answer(), content_type="application/json")

    async with https_app(cert, handler) as url:
        # When the pin matches (colon form, as openssl prints it), it is trusted
        colons = ":".join(cert.sha256[i : i + 2] for i in range(0, 64, 2)).upper()
        view = await request_outside_view(url, token=TOKEN, pin_sha256=colons, deadline=10)
        assert view.source == "127.0.0.1"
        # When another pin is given, Then the token is never sent
        wrong = "00" * 32
        with pytest.raises(ReflectorError, match="not the pinned one"):
            await request_outside_view(url, token=TOKEN, pin_sha256=wrong, deadline=10)
    assert seen == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (401, "unknown token", "token was refused: unknown token"),
        (429, "source limit: 10 scans a day", "rate limited"),
        (409, "nonce already used", "replay"),
    ],
)
async def test_refusals_are_one_line(
    cert: ServerCert, status: int, error: str, expected: str
) -> None:
    # Given a reflector that refuses
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": error + "\nsecond line"}, status=status)

    async with https_app(cert, handler) as url:
        # Then the client raises one line naming why
        with pytest.raises(ReflectorError, match=expected) as info:
            await request_outside_view(url, token=TOKEN, ca_file=cert.ca, deadline=10)
    assert "\n" not in str(info.value)


async def test_answer_size_cap_and_vantage(cert: ServerCert) -> None:
    # Given a reflector that streams an endless answer
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b" " * 65536
        for _ in range(MAX_ANSWER_BYTES // len(chunk) + 2):
            await response.write(chunk)
        return response

    async with https_app(cert, endless) as url:
        # Then the client stops at the cap
        with pytest.raises(ReflectorError, match="larger than"):
            await request_outside_view(url, token=TOKEN, ca_file=cert.ca, deadline=20)

    # Given a reflector whose report is a LAN report, Then it is refused
    async def lan(request: web.Request) -> web.Response:
        return web.Response(body=_answer(Vantage.LAN), content_type="application/json")

    async with https_app(cert, lan) as url:
        with pytest.raises(ReflectorError, match="internet vantage"):
            await request_outside_view(url, token=TOKEN, ca_file=cert.ca, deadline=10)


async def test_deadline(cert: ServerCert) -> None:
    # Given a reflector that does not answer until released
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=_answer())

    async with https_app(cert, stall) as url:
        # Then the client's deadline ends the wait
        with pytest.raises(ReflectorError, match=r"no answer within 0\.5 s"):
            await request_outside_view(url, token=TOKEN, ca_file=cert.ca, deadline=0.5)
        release.set()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://127.0.0.1:1", "must be https"),
        ("https://user:pw@127.0.0.1:1", "no user"),
        ("https://127.0.0.1:1/?token=x", "no user"),
    ],
)
async def test_bad_urls_are_refused_before_any_connection(url: str, match: str) -> None:
    with pytest.raises(ReflectorError, match=match):
        await request_outside_view(url, token=TOKEN, deadline=1)


async def test_ipv6_names_must_be_ipv6() -> None:
    with pytest.raises(ReflectorError, match="IPv4: the reflector scans the source"):
        await request_outside_view("https://127.0.0.1:1", token=TOKEN, ipv6=["198.51.100.7"])


def test_load_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv(TOKEN_FILE_ENV, raising=False)
    # Given nothing, Then a one-line error says where a token comes from
    with pytest.raises(ReflectorError, match=TOKEN_ENV):
        load_token(None)
    # Given a file, with a trailing newline
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    assert load_token(path) == TOKEN
    # Given the file named by the environment
    monkeypatch.setenv(TOKEN_FILE_ENV, str(path))
    assert load_token(None) == TOKEN
    # Given the token itself in the environment, it wins
    monkeypatch.setenv(TOKEN_ENV, "tok_env")
    assert load_token(None) == "tok_env"
    # Given a file holding two lines (a header smuggled in), it is refused
    # and the message does not quote it
    path.write_text("abc\nX-Evil: 1\n")
    with pytest.raises(ReflectorError, match="does not hold a token") as info:
        load_token(path)
    assert "Evil" not in str(info.value)
    with pytest.raises(ReflectorError, match="cannot read"):
        load_token(tmp_path / "missing")


def test_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    # Given the practice's token in a file its group and others may read
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    # When it is loaded, Then it is refused with the fix, the token unquoted
    with pytest.raises(ReflectorError, match="chmod 600") as info:
        load_token(path)
    assert TOKEN not in str(info.value)
    # And once private, it is read (the negative case)
    path.chmod(0o600)
    assert load_token(path) == TOKEN
