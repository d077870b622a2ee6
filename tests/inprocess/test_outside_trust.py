"""The outside view believes only what it can check: a lying reflector or a
lying box (UPnP GetExternalIPAddress) never turns the scan into a scanner of
somebody else, nor into findings about somebody else.

In process, on loopback: a fake reflector (aiohttp over TLS, its own CA)
whose answer claims a ``source`` and names a third address, the real UPnP
probe against a fake IGD, and counting listeners (a fake FTP server among
them) on the catalogue's ports of the claimed and the third address.  The
real client, the real engine and the real NAT loopback sweep run; the
listeners count every connection that reaches them.

Loopback is not an address the internet routes, so these tests hand the
outside check a ``routed`` that calls every address routed: the witness rule
is what is under test here (the unit tests check ``publicly_routed``)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from exposcan import __version__
from exposcan.catalogue import default_catalogue
from exposcan.cli import exit_code
from exposcan.config import ScanConfig
from exposcan.engine import Scanner
from exposcan.limits import Deadlines
from exposcan.models import Finding, Host, Report, ScanInfo, Service, Severity, Tool, Vantage
from exposcan.models import finding_key as key_of
from exposcan.net.portspec import format_ports
from exposcan.outside.settings import OutsideSettings
from exposcan.outside.view import (
    NOTE_ANSWER_DROPPED,
    NOTE_LOOPBACK_DISAGREE,
    NOTE_LOOPBACK_ONE_WITNESS,
    OutsideCheck,
)
from exposcan.protocols.upnp.probe import UpnpProbe
from exposcan.reflector.wire import SCAN_PATH, ScanAnswer
from exposcan.verdict import InternetAnswer, decide
from tests.inprocess.reflector_tls import ServerCert, make_server_cert
from tests.inprocess.test_upnp import IGD_PORT, FakeIgd

TOKEN = "tok_" + "B" * 40
#: A port no catalogue lists, which the fake answer says is open.
ODD_PORT = 50104


def _everywhere(address: str) -> bool:
    return True


@dataclass
class Counter:
    """Listeners on one address: every connection counted, and on port 21 an
    FTP greeting and whatever the client sends (a USER line, say)."""

    address: str
    connections: int = 0
    ports_hit: set[int] = field(default_factory=set)
    ftp_lines: list[bytes] = field(default_factory=list)
    servers: list[asyncio.Server] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        port = writer.get_extra_info("sockname")[1]
        self.ports_hit.add(port)
        try:
            if port == 21:
                writer.write(b"220 FTP server ready\r\n")
                await writer.drain()
                async with asyncio.timeout(2):
                    while line := await reader.readline():
                        self.ftp_lines.append(line)
                        writer.write(b"331 Please specify the password.\r\n")
                        await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self, ports: list[int]) -> None:
        for port in ports:
            self.servers.append(await asyncio.start_server(self.handle, self.address, port))

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()


def _addresses(n: int) -> list[str]:
    """``n`` distinct random 127/8 addresses: ports there are ours alone even
    when other test sessions run on this machine."""
    net = random.randint(1, 254)
    hosts = random.sample(range(2, 254), n)
    return [f"127.{net}.{random.randint(1, 254)}.{h}" for h in hosts]


def _finding(rule: str, host: str, port: int, **evidence: str) -> Finding:
    return Finding(
        rule=rule,
        severity=Severity.CRITICAL,
        host=host,
        port=port,
        protocol="dicom",
        title="Imaging reachable from the internet",
        evidence={"service": "dicom", **evidence},
        key=key_of(rule, host, port),
    )


def fake_answer(source: str, third: str, *, at_source: bool = False) -> ScanAnswer:
    """What a lying reflector says: it saw ``source``, and it found an open
    PACS and an anonymous FTP at ``third``, an address nobody asked about."""
    now = datetime.now(UTC)
    hosts = [
        Host(
            address=third,
            services=[
                Service(port=21, protocol="ftp", product="vsftpd"),
                Service(port=104, protocol="dicom", product="Orthanc"),
                Service(port=ODD_PORT, protocol="dicom", product="Orthanc"),
            ],
        )
    ]
    findings = [
        _finding("exposure.internet-imaging", third, 104),
        _finding("exposure.internet-imaging", third, 21),
    ]
    if at_source:
        hosts.append(
            Host(address=source, services=[Service(port=ODD_PORT, protocol="dicom")]),
        )
    report = Report(
        tool=Tool(version=__version__),
        scan=ScanInfo(
            started=now,
            finished=now,
            vantage=Vantage.INTERNET,
            targets=[source, third],
            complete=True,
            ports="1-65535",
        ),
        hosts=hosts,
        findings=findings,
        errors=[],
    )
    return ScanAnswer(source=source, scanned=[source, third], ports_tried=65535, report=report)


@contextlib.asynccontextmanager
async def fake_reflector(cert: ServerCert, answer: ScanAnswer | bytes) -> AsyncIterator[str]:
    """A reflector on 127.0.0.1 that answers every request with ``answer``
    (bytes: as written, whatever a model would make of them)."""
    body = answer if isinstance(answer, bytes) else answer.model_dump_json(by_alias=True).encode()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post(SCAN_PATH, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.cert, cert.key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def fake_box(address: str, wan: str) -> AsyncIterator[None]:
    """An IGD on ``address`` whose GetExternalIPAddress says ``wan``."""
    runner = web.AppRunner(FakeIgd([], external_ip=wan).app())
    await runner.setup()
    await web.TCPSite(runner, address, IGD_PORT).start()
    try:
        yield
    finally:
        await runner.cleanup()


def _config() -> ScanConfig:
    ports = [IGD_PORT]
    return ScanConfig(
        ports=ports,
        ports_spec=format_ports(ports),
        deadlines=Deadlines(connect=1.0, read=1.0, total=4.0),
        scan_timeout=1.0,
        discovery=False,
    )


async def lan_scan_with_outside(
    settings: OutsideSettings | None, box: str | None
) -> tuple[Report, Scanner]:
    """The LAN scan (the box's address alone, with the UPnP probe) and the
    outside check around it, as ``exposcan scan --outside`` runs them."""
    config = _config()
    catalogue = default_catalogue()
    scanner = Scanner(config, catalogue, [], [UpnpProbe] if box else [])
    check = OutsideCheck(settings, config, catalogue, routed=_everywhere)
    check.start(scanner)
    targets = [box] if box else []
    from ipaddress import IPv4Address

    await scanner.run([IPv4Address(t) for t in targets], targets)
    report = scanner.report(complete=True)
    return await check.finish(scanner, report), scanner


@pytest.fixture
def cert(tmp_path: Path) -> ServerCert:
    return make_server_cert(tmp_path)


@pytest.fixture
async def victims() -> AsyncIterator[tuple[Counter, Counter, str]]:
    """Listeners on the catalogue's ports (and the odd port the answer names)
    of the address a reflector claims, and of a third address; and an
    address for the box."""
    claimed, third, box = _addresses(3)
    ports = sorted({*default_catalogue().default_ports(), ODD_PORT})
    counters = (Counter(claimed), Counter(third))
    for counter in counters:
        await counter.start(ports)
    try:
        yield counters[0], counters[1], box
    finally:
        for counter in counters:
            await counter.stop()


def _named(report: Report, address: str) -> list[str]:
    """Where ``address`` shows in what decides the verdict and the exit code."""
    out = [f"finding {f.rule}" for f in report.findings if f.host == address]
    out += [f"host {h.address}" for h in report.hosts if h.address == address]
    if report.outside is not None:
        out += [f"path {p.public}" for p in report.outside.paths if address in p.public]
        if report.outside.public.address == address:
            out.append("public address")
    return out


async def test_a_lying_reflector_makes_no_sweep_and_no_finding_about_a_third_address(
    cert: ServerCert, victims: tuple[Counter, Counter, str]
) -> None:
    claimed, third, _ = victims
    # Given a reflector whose answer claims the request came from one address
    # and names an open PACS and an anonymous FTP at a third address, and a
    # network with no UPnP box (so nothing confirms the claimed source)
    async with fake_reflector(cert, fake_answer(claimed.address, third.address)) as url:
        settings = OutsideSettings(url, TOKEN, ca_file=str(cert.ca))
        # When the LAN scan with --outside runs
        report, _ = await lan_scan_with_outside(settings, box=None)
    # Then no connection reached either address: no NAT loopback sweep on a
    # source nothing confirmed, none at all on the third address, no FTP login
    assert (claimed.connections, third.connections) == (0, 0)
    assert third.ftp_lines == [] and claimed.ftp_lines == []
    assert report.outside is not None and report.outside.loopback_ports_tried == 0
    # and the third address is in no finding, host, door or verdict
    assert _named(report, third.address) == []
    assert decide(report).internet is not InternetAnswer.PROVEN
    assert exit_code(report, "high") == 0
    # and the report says what was left out and why no loopback check was made
    codes = [n.code for n in report.scan.notices]
    assert NOTE_ANSWER_DROPPED in codes and NOTE_LOOPBACK_ONE_WITNESS in codes
    dropped = next(n for n in report.scan.notices if n.code == NOTE_ANSWER_DROPPED)
    assert dropped.params["count"] == 3  # one host, two findings


async def test_a_box_that_disagrees_with_the_reflector_is_a_note_not_a_sweep(
    cert: ServerCert, victims: tuple[Counter, Counter, str]
) -> None:
    claimed, third, box = victims
    # Given a reflector that saw one address, and a box whose UPnP
    # GetExternalIPAddress says another (a lying box, or a second router)
    answer = fake_answer(claimed.address, third.address, at_source=True)
    async with (
        fake_reflector(cert, answer) as url,
        fake_box(box, wan=third.address),
    ):
        settings = OutsideSettings(url, TOKEN, ca_file=str(cert.ca))
        # When the LAN scan with --outside runs
        report, _ = await lan_scan_with_outside(settings, box=box)
    # Then the box's word was read, and the two witnesses disagree
    assert report.outside is not None
    assert report.outside.public.upnp_external_ip == third.address
    assert report.outside.public.reflector_source == claimed.address
    assert report.outside.public.disagree
    # and no connection reached either address: a note, not a sweep
    assert (claimed.connections, third.connections) == (0, 0)
    assert report.outside.loopback_ports_tried == 0
    note = next(n for n in report.scan.notices if n.code == NOTE_LOOPBACK_DISAGREE)
    assert note.params["named"] == f"{claimed.address}, {third.address}"


async def test_a_lying_box_alone_makes_no_sweep(victims: tuple[Counter, Counter, str]) -> None:
    _, third, box = victims
    # Given no reflector, and a box whose GetExternalIPAddress names a third
    # address
    async with fake_box(box, wan=third.address):
        # When the LAN scan runs
        report, _ = await lan_scan_with_outside(None, box=box)
    # Then nothing reached that address, and a note says why
    assert third.connections == 0
    assert report.outside is not None and report.outside.loopback_ports_tried == 0
    assert NOTE_LOOPBACK_ONE_WITNESS in [n.code for n in report.scan.notices]


async def test_two_witnesses_that_agree_get_the_loopback_check(
    cert: ServerCert, victims: tuple[Counter, Counter, str]
) -> None:
    claimed, third, box = victims
    # Given a reflector and a box that name the same public address (and an
    # answer that still names a third address)
    answer = fake_answer(claimed.address, third.address, at_source=True)
    async with (
        fake_reflector(cert, answer) as url,
        fake_box(box, wan=claimed.address),
    ):
        settings = OutsideSettings(url, TOKEN, ca_file=str(cert.ca))
        # When the LAN scan with --outside runs
        report, _ = await lan_scan_with_outside(settings, box=box)
    # Then the NAT loopback check tried the agreed address, on the
    # catalogue's ports and the port the reflector saw open there
    assert report.outside is not None
    assert report.outside.public.address == claimed.address
    assert not report.outside.public.disagree
    catalogue_ports = set(default_catalogue().default_ports())
    assert report.outside.loopback_ports_tried == len(catalogue_ports | {ODD_PORT})
    # (a connect that the sweep drops at once may never reach accept(): the
    # listeners count at least the imaging ports, and nothing else)
    assert {104, 8042, ODD_PORT} <= claimed.ports_hit <= catalogue_ports | {ODD_PORT}
    # and still nothing at the third address
    assert third.connections == 0 and third.ftp_lines == []
    assert _named(report, third.address) == []
