"""The engine against small servers on loopback: scan, identify, bound, record."""

import asyncio
import socket
import struct
import time
from ipaddress import IPv4Address
from typing import Any

from exposcan.models import ErrorReason
from exposcan.protocols.identify import IdentifyProbe
from tests.helpers import scan_local
from tests.inprocess.servers import garbage, greeting, http_ok, tarpit, tcp_server


async def _free_port() -> int:
    async with tcp_server(tarpit) as port:
        pass
    return port  # closed again: nothing listens there now


async def test_open_and_closed_ports() -> None:
    # Given one listening port and one closed port
    closed = await _free_port()
    async with tcp_server(http_ok) as open_port:
        # When they are scanned
        report = await scan_local([open_port, closed], [IdentifyProbe])
    # Then only the open one is a service, identified as HTTP by its answer
    services = {s.port: s for h in report.hosts for s in h.services}
    assert set(services) == {open_port}
    assert services[open_port].protocol == "http"


async def test_ssh_banner_names_product_and_version() -> None:
    async with tcp_server(greeting(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")) as port:
        report = await scan_local([port], [IdentifyProbe])
    (service,) = report.hosts[0].services
    assert (service.protocol, service.product, service.version) == ("ssh", "OpenSSH", "9.2p1")


async def test_tarpit_costs_bounded_time_and_is_an_error() -> None:
    # Given a port that accepts and never answers
    async with tcp_server(tarpit) as port:
        started = time.monotonic()
        # When it is identified with a 1 s read deadline
        report = await scan_local([port], [IdentifyProbe], timeout=1.0)
        elapsed = time.monotonic() - started
    # Then it costs seconds, not forever, and shows up in errors
    assert elapsed < 8
    assert [(e.port, e.reason) for e in report.errors] == [(port, ErrorReason.TIMEOUT)]
    assert report.findings == []


async def test_garbage_spewer_is_bounded_and_no_finding() -> None:
    # Given a port that sends random bytes forever
    async with tcp_server(garbage) as port:
        started = time.monotonic()
        report = await scan_local([port], [IdentifyProbe], timeout=1.0)
        elapsed = time.monotonic() - started
    # Then the scan ends quickly and nothing is claimed about that port
    assert elapsed < 8
    assert report.findings == []
    (service,) = report.hosts[0].services
    assert service.protocol == "unknown"


async def test_follow_up_scans_respect_exclusions() -> None:
    # Given a scan whose configuration excludes an address
    from exposcan.catalogue import default_catalogue
    from exposcan.config import ScanConfig
    from exposcan.engine import Scanner

    async with tcp_server(http_ok) as port:
        config = ScanConfig(
            ports=[port], ports_spec=str(port), discovery=False, excluded=frozenset({"127.0.0.1"})
        )
        scanner = Scanner(config, default_catalogue(), [IdentifyProbe], [])
        await scanner.run([], [])
        # When a network probe asks for a follow-up scan of it
        host = await scanner.scan_more("127.0.0.1", [port])
    # Then nothing is scanned and the report says why
    assert host.services == {}
    assert "127.0.0.1" not in scanner.state.hosts
    assert any("excluded" in n for n in scanner.state.notes)


async def test_tcp_ping_counts_open_and_refused_as_up() -> None:
    from exposcan.net.discovery import discover, tcp_ping

    closed = await _free_port()
    async with tcp_server(http_ok) as port:
        # A refused port is an answer: the host is up
        assert await tcp_ping("127.0.0.1", 1.0, [closed])
        assert await tcp_ping("127.0.0.1", 1.0, [port])
        # Without ARP (no local view), discovery falls back to the TCP ping
        found = await discover([IPv4Address("127.0.0.1")], None, 1.0, 50)
    assert found == {"127.0.0.1": ("tcp", None)}


async def test_named_targets_are_the_scope_of_follow_up_scans() -> None:
    # Given a scan of named targets (127.0.0.2 only), and a box forward that
    # leads to 127.0.0.1
    from exposcan.catalogue import default_catalogue
    from exposcan.config import ScanConfig
    from exposcan.engine import Scanner

    async with tcp_server(http_ok) as port:
        results = {}
        for follow in (False, True):
            config = ScanConfig(
                ports=[port],
                ports_spec=str(port),
                discovery=False,
                scope=frozenset({"127.0.0.2"}),
                follow_box=follow,
            )
            scanner = Scanner(config, default_catalogue(), [IdentifyProbe], [])
            await scanner.run([], [])
            # When the network probe asks for a follow-up scan of it
            host = await scanner.scan_more("127.0.0.1", [port])
            results[follow] = (set(host.services), list(scanner.state.notes))
    # Then without --follow-box nothing is scanned and the report says why
    assert results[False][0] == set()
    assert any("not among the named targets" in n for n in results[False][1])
    # and with it the forward's host is scanned
    assert results[True][0] == {port}


async def test_a_forward_to_a_host_found_down_is_not_scanned_again(monkeypatch: Any) -> None:
    # Given discovery that found the target 127.0.0.1 down
    from exposcan import engine
    from exposcan.catalogue import default_catalogue
    from exposcan.config import ScanConfig

    async def nobody(*args: object, **kwargs: object) -> dict[str, Any]:
        return {}

    monkeypatch.setattr(engine, "discover", nobody)
    async with tcp_server(http_ok) as port:
        config = ScanConfig(ports=[port], ports_spec=str(port), discovery=True)
        scanner = engine.Scanner(config, default_catalogue(), [IdentifyProbe], [])
        await scanner.run([IPv4Address("127.0.0.1")], ["127.0.0.1"])
        # When a box forward leads there
        host = await scanner.scan_more("127.0.0.1", [port])
    # Then its ports are not scanned again, and the report says so
    assert host.services == {}
    assert any("discovery found no host" in n for n in scanner.state.notes)


async def _reset_on_first_bytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Silent first, then a reset at our first bytes: what a DICOM node does
    to "GET " (Orthanc behind a hand-set forward on an odd port)."""
    await reader.read(1)
    sock = writer.get_extra_info("socket")
    # Linger on, timeout 0: close() sends RST (RFC 9293 §3.10.7.1, abort).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_a_reset_after_our_http_request_is_an_answer_not_an_error() -> None:
    # Given a port the catalogue does not name that resets on "GET "
    async with tcp_server(_reset_on_first_bytes) as port:
        report = await scan_local([port], [IdentifyProbe], timeout=1.0)
    # Then identify records no error: the port stays unknown, for the probes
    # that try unknown ports (DICOM), while an HTTP server is still named
    assert report.errors == []
    (service,) = report.hosts[0].services
    assert service.protocol == "unknown"
    async with tcp_server(http_ok) as web:
        named = await scan_local([web], [IdentifyProbe], timeout=1.0)
    assert named.hosts[0].services[0].protocol == "http"
