"""Published DICOM honeypots labelled "likely decoy" through the real CLI.

Neither honeypot can be installed here: dicompot is a Go program (a Go
toolchain and its modules would be needed) and DICOMHawk pins pynetdicom
2.0.2 beside Flask. Each is EMULATED from its published signature, read in
its source: a real pynetdicom server that answers with the honeypot's
implementation class UID and version name and accepts any called AE title
(dicompot: go-dicom's 1.2.826.0.1.3680043.9.7133.1.1 / GODICOM_1_1, AE
"radiant"; DICOMHawk: pynetdicom 2.0.2's 1.2.826.0.1.3680043.9.3811.2.0.2 /
PYNETDICOM_202), and for DICOMHawk an aiohttp page with its log server's
landing title on port 5000. A plain pynetdicom node is the negative case.
Each server listens on its own loopback address (127.0.0.0/8) so that the
default ports (11112, 5000) are not shared with other tests.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from tests.helpers import assert_valid_report
from tests.support.cli import start_cli

DICOM_PORT, WEB_PORT = 11112, 5000


@contextmanager
def dicom_node(address: str, class_uid: str | None, version_name: str | None) -> Iterator[None]:
    ae = AE(ae_title="radiant")
    if class_uid and version_name:
        ae.implementation_class_uid = class_uid
        ae.implementation_version_name = version_name
    for context in (Verification, StudyRootQueryRetrieveInformationModelFind, CTImageStorage):
        ae.add_supported_context(context)
    ae.require_called_aet = False
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        # A canned study, as the honeypots serve (synthetic, no person)
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = "2.25.1234567890"
        yield 0xFF00, ds

    server = ae.start_server(
        (address, DICOM_PORT), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)]
    )
    try:
        yield
    finally:
        server.shutdown()


def dicomhawk_page() -> web.Application:
    async def landing(request: web.Request) -> web.Response:
        return web.Response(
            text="<!DOCTYPE html><html><head><title>DICOMHawk - Honeypot DICOM Server"
            "</title></head><body><h1>Welcome to DICOMHawk</h1></body></html>",
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_get("/", landing)
    return app


async def test_emulated_honeypots_are_labelled_and_a_plain_node_is_not(tmp_path: Path) -> None:
    # Given emulated dicompot and DICOMHawk, and a plain pynetdicom node, each
    # on its own loopback address
    net = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}"
    dicompot, hawk, plain = f"{net}.11", f"{net}.12", f"{net}.13"
    out = tmp_path / "report.json"
    with (
        dicom_node(dicompot, "1.2.826.0.1.3680043.9.7133.1.1", "GODICOM_1_1"),
        dicom_node(hawk, "1.2.826.0.1.3680043.9.3811.2.0.2", "PYNETDICOM_202"),
        dicom_node(plain, None, None),
    ):
        async with serve_on(dicomhawk_page(), hawk, WEB_PORT):
            # When the real CLI scans the three
            proc = await start_cli(
                "scan",
                dicompot,
                hawk,
                plain,
                "-p",
                f"{DICOM_PORT},{WEB_PORT}",
                "--no-discovery",
                "--timeout",
                "3",
                "--lang",
                "en",
                "-o",
                str(out),
                "-o",
                str(tmp_path / "report.html"),
            )
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    # Then exit 1 (each node answers C-FIND to anyone: high), a valid report
    assert proc.returncode == 1, stderr.decode()
    report = json.loads(out.read_text())
    assert_valid_report(report)
    by_host: dict[str, list[dict[str, Any]]] = {}
    for f in report["findings"]:
        by_host.setdefault(f["host"], []).append(f)
    # and every finding of each honeypot stays listed, labelled, with why
    for host, name, sign in (
        (dicompot, "dicompot", "decoy.dicompot.go-dicom-identifiers"),
        (hawk, "DICOMHawk", "decoy.dicomhawk.own-web-page"),
    ):
        assert "dicom.query-open" in {f["rule"] for f in by_host[host]}
        for finding in by_host[host]:
            assert finding["decoy"]["label"] == "likely decoy"
            assert finding["decoy"]["honeypot"] == name
            assert sign in finding["decoy"]["signs"]
            assert finding["decoy"]["why"]
    # and the plain node's findings are not labelled
    assert "dicom.query-open" in {f["rule"] for f in by_host[plain]}
    assert all(f["decoy"] is None for f in by_host[plain])
    # and the services carry the label and the CPE of what answered
    services = {(h["address"], s["port"]): s for h in report["hosts"] for s in h["services"]}
    assert services[(dicompot, DICOM_PORT)]["decoy"]["honeypot"] == "dicompot"
    assert services[(dicompot, DICOM_PORT)]["cpe"] == [
        "cpe:2.3:a:grailbio:go-netdicom:1.1:*:*:*:*:*:*:*"
    ]
    assert services[(hawk, WEB_PORT)]["product"] == "DICOMHawk"
    assert services[(plain, DICOM_PORT)]["decoy"] is None
    # and the terminal and the HTML say it
    text = stdout.decode()
    assert "Likely decoy (dicompot)" in text and "Likely decoy (DICOMHawk)" in text
    html = (tmp_path / "report.html").read_text()
    assert "Likely decoy (DICOMHawk): " in html
    assert "a web page of the same host names itself DICOMHawk, a DICOM honeypot" in html


class serve_on:
    """``serve`` on a given address and port (the honeypot's own)."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self.runner: web.AppRunner | None = None

    async def __aenter__(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.port).start()

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
