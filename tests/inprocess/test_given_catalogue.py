"""The scanner uses the catalogue it was given, everywhere: no
probe reads a module-level default catalogue."""

from __future__ import annotations

import shutil
from ipaddress import ip_address
from pathlib import Path

from aiohttp import web

from exposcan.catalogue import Catalogue, PortEntry, catalogue_dir
from exposcan.config import ScanConfig
from exposcan.engine import Scanner
from exposcan.limits import Deadlines
from exposcan.models import Report
from exposcan.net.portspec import format_ports
from exposcan.protocols.http.probe import HttpProbe
from tests.inprocess.http_servers import serve

GIVEN = """kind: http-fingerprint
id: given-pacs
product: GivenPACS
category: pacs
requests:
  - path: /
    match: {status: [200], body: 'Given PACS portal'}
    login: true
"""


def _given_catalogue(tmp_path: Path) -> Catalogue:
    root = tmp_path / "probes"
    shutil.copytree(catalogue_dir(), root)
    (root / "fingerprints" / "http" / "given-pacs.yaml").write_text(GIVEN)
    return Catalogue.load(root)


def _portal() -> web.Application:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<html><title>Given PACS portal</title></html>")

    app = web.Application()
    app.router.add_get("/", page)
    return app


async def _scan(catalogue: Catalogue, port: int) -> Report:
    catalogue.ports[port] = PortEntry(port=port, protocol="http")
    config = ScanConfig(
        ports=[port],
        ports_spec=format_ports([port]),
        deadlines=Deadlines(connect=2.0, read=2.0, total=10.0),
        scan_timeout=1.0,
        discovery=False,
    )
    scanner = Scanner(config, catalogue, [HttpProbe], [])
    await scanner.run([ip_address("127.0.0.1")], ["127.0.0.1"])
    return scanner.report(complete=True)


async def test_the_probes_read_the_catalogue_the_scan_was_given(tmp_path: Path) -> None:
    # Given a web page only a fingerprint of a given catalogue knows
    async with serve(_portal()) as port:
        # When it is scanned with that catalogue, then with the shipped one
        given = await _scan(_given_catalogue(tmp_path), port)
        shipped = await _scan(Catalogue.load(catalogue_dir()), port)
    # Then the given catalogue's fingerprint named the product, and the
    # shipped catalogue (no such fingerprint) did not; the login page in clear
    # text is a finding only where the product is known
    [service] = given.hosts[0].services
    assert service.product == "GivenPACS"
    assert "http.cleartext" in {f.rule for f in given.findings}
    [plain] = shipped.hosts[0].services
    assert plain.product != "GivenPACS"
    assert "http.cleartext" not in {f.rule for f in shipped.findings}
