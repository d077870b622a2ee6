"""The UPnP probe against a fake IGD (aiohttp) on a loopback address, through
the real engine: forwards joined to in-process imaging facts."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from aiohttp import web

from exposcan.models import Notice, Report
from exposcan.notes import render_note
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.protocols.upnp import ssdp
from exposcan.protocols.upnp.probe import NOTE_HAND_SET, UpnpProbe
from exposcan.state import ServiceState
from tests.helpers import scan_local

IGD_PORT = 49152  # an IGD-specific port of probes/upnp/igd-locations.yaml
WAN_IP_SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:1"

DESCRIPTION = f"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device>
<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>Fake box</friendlyName><manufacturer>Acme</manufacturer>
<modelName>Box 3000</modelName><modelNumber>7.1</modelNumber>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>{WAN_IP_SERVICE}</serviceType>
<controlURL>/ctl/IPConn</controlURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>"""

FAULT = """<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
<s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>
<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>713</errorCode>
<errorDescription>SpecifiedArrayIndexInvalid</errorDescription></UPnPError></detail>
</s:Fault></s:Body></s:Envelope>"""


def _answer(action: str, values: dict[str, str]) -> str:
    args = "".join(f"<{k}>{v}</{k}>" for k, v in values.items())
    return (
        f'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/'
        f'envelope/"><s:Body><u:{action}Response xmlns:u="{WAN_IP_SERVICE}">{args}'
        f"</u:{action}Response></s:Body></s:Envelope>"
    )


@dataclass
class FakeIgd:
    """An IGD: a description, a SOAP control URL, mappings then error 713."""

    mappings: list[tuple[int, str, int]]  # (external port, internal client, internal port)
    external_ip: str = ""
    in_flight: int = 0
    max_in_flight: int = 0
    soap_calls: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/rootDesc.xml", self._track(self.description))
        app.router.add_post("/ctl/IPConn", self._track(self.control))
        return app

    def _track(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(0.01)  # overlapping requests would show
                return await handler(request)
            finally:
                self.in_flight -= 1

        return wrapped

    async def description(self, request: web.Request) -> web.Response:
        return web.Response(text=DESCRIPTION, content_type="text/xml")

    async def control(self, request: web.Request) -> web.Response:
        action = request.headers["SOAPAction"].strip('"').rsplit("#", 1)[1]
        self.soap_calls.append(action)
        if action == "GetExternalIPAddress":
            return web.Response(
                text=_answer(action, {"NewExternalIPAddress": self.external_ip}),
                content_type="text/xml",
            )
        assert action == "GetGenericPortMappingEntry"
        match = re.search(r"<NewPortMappingIndex>(\d+)<", await request.text())
        assert match
        index = int(match.group(1))
        if index >= len(self.mappings):
            return web.Response(status=500, text=FAULT, content_type="text/xml")
        ext, client, port = self.mappings[index]
        return web.Response(
            text=_answer(
                action,
                {
                    "NewRemoteHost": "",
                    "NewExternalPort": str(ext),
                    "NewProtocol": "TCP",
                    "NewInternalPort": str(port),
                    "NewInternalClient": client,
                    "NewEnabled": "1",
                    "NewPortMappingDescription": f"fwd {ext}",
                    "NewLeaseDuration": "0",
                },
            ),
            content_type="text/xml",
        )


class FakeImagingProbe(ServiceProbe):
    """Stands in for the DICOM/HTTP/SMB probes: marks chosen ports as imaging."""

    name = "fake-imaging"
    protocols: ClassVar[frozenset[str]] = frozenset()
    imaging_ports: ClassVar[set[int]] = set()

    def wants(self, service: ServiceState) -> bool:
        return service.port in self.imaging_ports

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        ctx.imaging(service.port, "dicom", "dicom", product="fake PACS")


@pytest.fixture
async def loopback_host() -> str:
    # A random 127/8 address: port 49152 there is ours alone even when other
    # test sessions run on this machine.
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


async def _serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


@pytest.fixture
async def listeners(loopback_host: str) -> AsyncIterator[list[int]]:
    """Three TCP services behind the box: imaging, plain, imaging off the scan list."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    servers = [await asyncio.start_server(accept, loopback_host, 0) for _ in range(3)]
    yield [s.sockets[0].getsockname()[1] for s in servers]
    for s in servers:
        s.close()
        await s.wait_closed()


def _by_rule(report: Report, rule: str) -> dict[int | None, dict[str, object]]:
    return {f.port: dict(f.evidence) for f in report.findings if f.rule == rule}


@pytest.mark.parametrize("external_ip", ["203.0.113.1", ""], ids=["public-ip", "no-ip"])
async def test_forwards_joined_to_imaging(
    loopback_host: str, listeners: list[int], external_ip: str
) -> None:
    # Given a fake IGD listing 3 forwards, then 713: 104 -> an imaging service
    # the scan covers, 8080 -> a plain service, 11112 -> an imaging service on
    # a port the scan list does not hold (so the probe must scan it)
    img, plain, more = listeners
    igd = FakeIgd(
        [(104, loopback_host, img), (8080, loopback_host, plain), (11112, loopback_host, more)],
        external_ip=external_ip,
    )
    FakeImagingProbe.imaging_ports = {img, more}
    runner = await _serve(igd.app(), loopback_host, IGD_PORT)
    try:
        # When the engine scans the box's address with the UPnP probe
        report = await scan_local(
            [IGD_PORT, img, plain], [FakeImagingProbe], [UpnpProbe], host=loopback_host
        )
    finally:
        await runner.cleanup()
    # Then both imaging forwards are critical, with the join's evidence
    critical = _by_rule(report, "upnp.mapping-imaging")
    assert set(critical) == {104, 11112}
    assert critical[104]["internal_host"] == loopback_host
    assert critical[104]["internal_port"] == img
    assert critical[104]["transport"] == "TCP"
    assert critical[104]["description"] == "fwd 104"
    assert critical[104]["imaging_service"] == "dicom"
    assert critical[11112]["internal_port"] == more
    assert all(
        f.severity == "critical" for f in report.findings if f.rule == "upnp.mapping-imaging"
    )
    # and the plain forward is information only
    info = _by_rule(report, "upnp.mapping")
    assert set(info) == {8080}
    assert info[8080]["internal_state"] == "open"
    # and the walk stopped at 713 after 3 entries, one request at a time
    assert igd.soap_calls.count("GetGenericPortMappingEntry") == 4
    assert igd.max_in_flight == 1
    # and the box's IGD service carries the device strings and the public address
    box = next(h for h in report.hosts if h.address == loopback_host)
    service = next(s for s in box.services if s.port == IGD_PORT)
    assert service.protocol == "upnp"
    assert service.product == "Acme Box 3000"
    assert service.details["friendly_name"] == "Fake box"
    assert service.details.get("external_ip") == (external_ip or None)
    # and the report says what UPnP cannot see, and what to run from outside
    notes = report.scan.notes
    assert render_note(Notice(code=NOTE_HAND_SET), "en") in notes
    if external_ip:
        assert any(f"exposcan scan --vantage internet {external_ip}" in n for n in notes)
    else:
        assert any(
            "did not disclose its public address" in n
            and "--vantage internet <the box's public address>" in n
            for n in notes
        )
    assert not [e for e in report.errors if e.probe == "upnp"]


async def test_no_imaging_behind_any_forward(loopback_host: str, listeners: list[int]) -> None:
    # Given an IGD whose only forward leads to a service with no imaging fact
    img, plain, _ = listeners
    igd = FakeIgd([(2222, loopback_host, plain)])
    FakeImagingProbe.imaging_ports = {img}
    runner = await _serve(igd.app(), loopback_host, IGD_PORT)
    try:
        # When scanned
        report = await scan_local(
            [IGD_PORT, img, plain], [FakeImagingProbe], [UpnpProbe], host=loopback_host
        )
    finally:
        await runner.cleanup()
    # Then no critical UPnP finding, one informational forward
    assert not _by_rule(report, "upnp.mapping-imaging")
    assert set(_by_rule(report, "upnp.mapping")) == {2222}
    assert set(_by_rule(report, "upnp.igd-enabled")) == {IGD_PORT}


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/xml"})
    await response.prepare(request)
    await response.write(b'<?xml version="1.0"?><root><device><friendlyName>')
    try:
        while True:
            await response.write(b"A" * 65536)
    except (ConnectionResetError, RuntimeError):
        pass
    return response


async def _bomb(request: web.Request) -> web.Response:
    body = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><root>&c;</root>'
    )
    return web.Response(text=body, content_type="text/xml")


@pytest.mark.parametrize(
    ("handler", "reason"),
    [(_endless, "too-large"), (_bomb, "protocol")],
    ids=["endless-body", "entity-bomb"],
)
async def test_hostile_igd_is_a_bounded_error(
    loopback_host: str,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    reason: str,
) -> None:
    # Given an "IGD" whose description is endless, or an entity bomb
    app = web.Application()
    app.router.add_get("/rootDesc.xml", handler)
    runner = await _serve(app, loopback_host, IGD_PORT)
    try:
        # When scanned
        started = time.monotonic()
        report = await scan_local([IGD_PORT], [], [UpnpProbe], host=loopback_host)
        elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()
    # Then it is one error record on that port, no finding, in bounded time
    errors = [e for e in report.errors if e.probe == "upnp"]
    assert [(e.host, e.port, e.reason) for e in errors] == [(loopback_host, IGD_PORT, reason)]
    assert not report.findings
    assert elapsed < 10


class _Responder(asyncio.DatagramProtocol):
    """Answers any M-SEARCH with a flood of IGD answers naming another host."""

    def __init__(self, answers: int) -> None:
        self.answers = answers
        self.searches: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.searches.append(data)
        assert self.transport is not None
        for i in range(self.answers):
            self.transport.sendto(
                b"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
                b"LOCATION: http://10.9.8.7:%d/rootDesc.xml\r\n\r\n" % (1000 + i),
                addr,
            )


async def test_ssdp_search_is_capped_and_locations_checked() -> None:
    # Given a UDP responder on 127.0.0.1 that floods answers naming 10.9.8.7
    loop = asyncio.get_running_loop()
    transport, responder = await loop.create_datagram_endpoint(
        lambda: _Responder(100), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        # When the probe's search is pointed at it (unicast, not the group)
        answers = await ssdp.search("127.0.0.1", wait=0.5, destination=("127.0.0.1", port))
    finally:
        transport.close()
    # Then both IGD search targets were sent, answers are capped, and no
    # LOCATION that names another host would be followed
    sent = {m.group(1) for s in responder.searches if (m := re.search(rb"\r\nST: (\S+)\r\n", s))}
    assert sent == {t.encode() for t in ssdp.IGD_SEARCH_TARGETS}
    assert len(answers) == ssdp.MAX_RESPONSES
    assert all(a.responder == "127.0.0.1" for a in answers)
    assert all(ssdp.trusted_location(a.location, a.responder, []) is None for a in answers)


@dataclass
class RefusingIgd(FakeIgd):
    """Lists its first forward, then refuses the rest (UPnPError 606)."""

    async def control(self, request: web.Request) -> web.Response:
        listing = "GetGenericPortMappingEntry" in request.headers["SOAPAction"]
        if listing and "<NewPortMappingIndex>0<" not in await request.text():
            return web.Response(
                status=500, text=FAULT.replace("713", "606"), content_type="text/xml"
            )
        return await super().control(request)


async def test_a_failed_mapping_listing_is_an_error_not_zero_forwards(loopback_host: str) -> None:
    # Given an IGD that lists one forward, then refuses the listing
    igd = RefusingIgd([(50104, "198.18.0.10", 104), (50105, "198.18.0.10", 105)])
    runner = await _serve(igd.app(), loopback_host, IGD_PORT)
    try:
        report = await scan_local([IGD_PORT], [], [UpnpProbe], host=loopback_host)
    finally:
        await runner.cleanup()
    # Then the failure is one error naming it, and the box's evidence says the
    # count is unknown (none), never "mappings: 0" or "1"
    errors = [(e.port, e.reason) for e in report.errors if e.probe == "upnp"]
    assert errors == [(IGD_PORT, "protocol")]
    assert "UPnPError 606" in report.errors[0].detail
    [box] = [f for f in report.findings if f.rule == "upnp.igd-enabled"]
    assert box.evidence.get("mappings") is None
    # and with an IGD that lists to its end, the count is given (0 included)
    igd = FakeIgd([])
    runner = await _serve(igd.app(), loopback_host, IGD_PORT)
    try:
        report = await scan_local([IGD_PORT], [], [UpnpProbe], host=loopback_host)
    finally:
        await runner.cleanup()
    [box] = [f for f in report.findings if f.rule == "upnp.igd-enabled"]
    assert box.evidence["mappings"] == 0
