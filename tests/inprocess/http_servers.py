"""aiohttp servers on loopback playing PACS web services, listings and hostile
HTTP, plus the scan helper the HTTP in-process tests share."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path

import pytest
from aiohttp import web

from exposcan.catalogue import PortEntry, default_catalogue
from exposcan.config import ScanConfig
from exposcan.engine import Scanner
from exposcan.limits import Deadlines
from exposcan.models import Report, Vantage
from exposcan.net.portspec import format_ports
from exposcan.protocols.http.probe import HttpProbe
from exposcan_lab.topology import CANARY_PATIENTS, CANARY_UID_ROOT
from tests.certs import server_context
from tests.helpers import assert_valid_report

CANARY = CANARY_PATIENTS[0]
STUDY_UID = f"{CANARY_UID_ROOT}.1.1"
DICM_HEAD = b"\x00" * 128 + b"DICM"


def dicom_bytes(size: int = 600) -> bytes:
    """A Part 10-looking file whose body carries canary identities."""
    body = DICM_HEAD + b"\x02\x00\x10\x00UI" + CANARY.name.encode() + CANARY.patient_id.encode()
    return body + b"\x00" * max(0, size - len(body))


@dataclass
class Seen:
    """What a fake server was asked: the tests assert on it."""

    paths: list[str] = field(default_factory=list)
    methods: set[str] = field(default_factory=set)
    auth_headers: int = 0
    #: Body bytes of every request other than GET and HEAD.
    body_bytes: int = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        self.paths.append(request.path_qs)
        self.methods.add(request.method)
        if request.method not in ("GET", "HEAD"):
            self.body_bytes += len(await request.read())
        if "Authorization" in request.headers:
            self.auth_headers += 1
        return await handler(request)


def orthanc_app(
    seen: Seen, version: str = "1.10.1", secure: bool = False, password: str | None = None
) -> web.Application:
    """Orthanc's REST API as far as the probe may read it.

    ``secure``: every path answers 401 "Orthanc Secure Area" unless the
    request carries orthanc:``password``."""

    @web.middleware
    async def auth(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if secure:
            ok = password is not None and request.headers.get("Authorization") == _basic(
                "orthanc", password
            )
            if not ok:
                return web.Response(
                    status=401, headers={"WWW-Authenticate": 'Basic realm="Orthanc Secure Area"'}
                )
        return await handler(request)

    async def system(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "Version": version,
                "DicomAet": "CABINETRADIO",
                "DicomPort": 104,
                "Name": CANARY.name,
                "IsHttpServerSecure": False,
            }
        )

    async def statistics(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "CountPatients": 3,
                "CountStudies": 4,
                "CountSeries": 4,
                "CountInstances": 6,
                "TotalDiskSizeMB": 1,
            }
        )

    async def qido(_: web.Request) -> web.Response:
        return web.Response(
            text=json.dumps([{"0020000D": {"vr": "UI", "Value": [STUDY_UID]}}]),
            content_type="application/dicom+json",
        )

    async def patients(_: web.Request) -> web.Response:
        return web.json_response([CANARY.patient_id])  # must never be asked

    app = web.Application(middlewares=[seen.middleware, auth])
    app.router.add_get("/system", system)
    app.router.add_get("/statistics", statistics)
    app.router.add_get("/dicom-web/studies", qido)
    app.router.add_get("/patients", patients)
    return app


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def nginx_listing_app(
    seen: Seen, tree: dict[str, bytes], honour_range: bool = True
) -> web.Application:
    """nginx autoindex over ``tree`` (path -> content; folders implied)."""

    def listing(folder: str) -> str:
        names: dict[str, None] = {}
        for path in tree:
            if path.startswith(folder) and path != folder:
                rest = path[len(folder) :]
                names[rest.split("/", 1)[0] + ("/" if "/" in rest else "")] = None
        rows = "".join(f'<a href="{n}">{n}</a>     01-Jan-2020 10:00    -\r\n' for n in names)
        return (
            f"<html>\r\n<head><title>Index of {folder}</title></head>\r\n<body>\r\n"
            f'<h1>Index of {folder}</h1><hr><pre><a href="../">../</a>\r\n{rows}'
            "</pre><hr></body>\r\n</html>\r\n"
        )

    async def handler(request: web.Request) -> web.StreamResponse:
        path = request.path
        headers = {"Server": "nginx/1.22.1"}
        if path.endswith("/"):
            if path != "/" and not any(p.startswith(path) for p in tree):
                return web.Response(status=404, headers=headers)
            return web.Response(text=listing(path), content_type="text/html", headers=headers)
        if path not in tree:
            return web.Response(status=404, headers=headers)
        data = tree[path]
        rng = request.headers.get("Range", "")
        if honour_range and rng.startswith("bytes=0-"):
            end = int(rng[8:]) + 1
            return web.Response(status=206, body=data[:end], headers=headers)
        return web.Response(body=data, headers=headers)

    app = web.Application(middlewares=[seen.middleware])
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


@asynccontextmanager
async def serve(
    app: web.Application, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()


def self_signed(tmp: Path, cn: str = "pacs.cabinet.test") -> ssl.SSLContext:
    return server_context(tmp, cn)


async def scan_http(
    port: int,
    monkeypatch: pytest.MonkeyPatch,
    *,
    tls_guess: bool = False,
    intrusive: bool = False,
    vantage: Vantage = Vantage.LAN,
    timeout: float = 2.0,
    address: str = "127.0.0.1",
) -> tuple[Scanner, Report]:
    """The real engine with only the HTTP probe, on ``address``:``port``, which
    the port catalogue is made to guess as HTTP (plain or TLS)."""
    monkeypatch.setitem(
        default_catalogue().ports, port, PortEntry(port=port, protocol="http", tls=tls_guess)
    )
    config = ScanConfig(
        ports=[port],
        ports_spec=format_ports([port]),
        vantage=vantage,
        deadlines=Deadlines(connect=timeout, read=timeout, total=timeout * 5),
        scan_timeout=1.0,
        discovery=False,
        intrusive=intrusive,
    )
    scanner = Scanner(config, default_catalogue(), [HttpProbe], [])
    await scanner.run([ip_address(address)], [address])
    report = scanner.report(complete=True)
    assert_valid_report(report)
    return scanner, report


def rules(report: Report) -> dict[str, dict[str, object]]:
    return {f.rule: dict(f.evidence) for f in report.findings}


async def endless_body(request: web.Request) -> web.StreamResponse:
    """200 with a chunked body that never ends (the lab junk host's port 80)."""
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    chunk = b"A" * 16384
    try:
        while True:
            await resp.write(chunk)
            await asyncio.sleep(0)
    except (ConnectionError, RuntimeError):
        pass
    return resp
