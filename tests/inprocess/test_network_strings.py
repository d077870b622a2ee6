"""Strings that came off the network never drive the terminal: escape
sequences (SGR colours, OSC 8 hyperlinks, a bell, C1 controls, bidi
overrides) are gone from the report and the JSON, and Rich markup shows as
the text it is.  In process: a raw HTTP server whose ``Server`` header
carries them, and a fake reflector (aiohttp over TLS) whose answer does."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from rich.console import Console

from exposcan.models import Finding, Report
from exposcan.models import finding_key as key_of
from exposcan.outside.settings import OutsideSettings
from exposcan.reflector.check_text import print_check
from exposcan.reflector.client import request_outside_view
from exposcan.report.terminal import render_summary
from tests.inprocess.http_servers import scan_http
from tests.inprocess.reflector_tls import ServerCert, make_server_cert
from tests.inprocess.test_outside_trust import (
    TOKEN,
    fake_answer,
    fake_reflector,
    lan_scan_with_outside,
)

EVIL = "https://evil.example/"
#: Rich markup that, read as markup, would make a hyperlink and hide itself.
MARKUP = f"[link={EVIL}]Orthanc[/link]"
#: An OSC 8 hyperlink around it, a blink, a bell, a CSI as one C1 byte and a
#: right-to-left override (CVE-2021-42574).
HOSTILE = f"\x1b]8;;{EVIL}\x07{MARKUP}\x1b[5m/1.0\x1b]8;;\x07\x9b2J\u202e"
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def rendered(report: Report) -> str:
    """The end-of-scan summary as a (non-terminal) console writes it: no
    style of Rich's own, so any control character is the data's."""
    buffer = io.StringIO()
    Console(file=buffer, width=400, color_system=None).print(render_summary(report))
    return buffer.getvalue()


def _clean(text: str) -> None:
    for char in CONTROLS:
        assert char not in text, f"{char!r} reached the output"
    # nor as a JSON escape
    for escape in ("\\u001b", "\\u0007", "\\u009b", "\\u202e"):
        assert escape not in text.lower()


@asynccontextmanager
async def hostile_http() -> AsyncIterator[int]:
    """A web server whose Server header and title carry escape sequences."""
    header = HOSTILE.encode("latin-1", "replace")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline() not in (b"\r\n", b""):
                pass
            body = b"<html><title>\x1b]0;pwned\x07PACS</title></html>"
            writer.write(
                b"HTTP/1.1 200 OK\r\nServer: " + header + b"\r\nContent-Type: text/html\r\n"
                b"Content-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_an_http_server_header_reaches_neither_terminal_nor_json_raw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a web server whose Server header holds an OSC 8 link, SGR, a bell,
    # a C1 CSI, a bidi override and Rich markup
    async with hostile_http() as port:
        # When it is scanned
        _, report = await scan_http(port, monkeypatch)
    (service,) = [s for h in report.hosts for s in h.services]
    # Then what the report keeps of it holds no control character, and the
    # markup is kept as text
    assert "[link=https" in str(service.details.get("server"))
    shown = rendered(report)
    json_text = report.to_json()
    _clean(shown)
    _clean(json_text)
    _clean(json.dumps(json.loads(json_text), ensure_ascii=False))
    # and the terminal shows the markup as the text it is, not as a link
    assert MARKUP.split("]")[0] in shown.replace("\n", "")


async def test_a_negative_case_plain_strings_are_kept_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a report whose strings hold accents, a no-break space and brackets
    async with hostile_http() as port:
        _, report = await scan_http(port, monkeypatch)
    finding = Finding(
        rule="http.server-banner",
        severity="info",
        host="127.0.0.1",
        port=port,
        protocol="http",
        title="Radiologie Éric\u00a0[cabinet] 東京",
        key=key_of("http.server-banner", "127.0.0.1", port),
    )
    # Then they pass unchanged, and the terminal shows them as written
    assert finding.title == "Radiologie Éric\u00a0[cabinet] 東京"
    shown = rendered(report.model_copy(update={"findings": [finding]}))
    assert "[cabinet] 東京" in shown


@pytest.fixture
def cert(tmp_path: Path) -> ServerCert:
    return make_server_cert(tmp_path)


def hostile_answer(source: str, third: str) -> bytes:
    """The fake answer with escape sequences and markup in a finding's title
    and evidence, a service's product and the skipped list, written into the
    JSON as a hostile reflector would (a model would clean them)."""
    data = json.loads(fake_answer(source, third, at_source=True).model_dump_json(by_alias=True))
    data["skipped"] = [f"2001:db8::1: {HOSTILE}"]
    data["report"]["hosts"][-1]["services"][0]["product"] = HOSTILE
    data["report"]["findings"].append(
        {
            "rule": "exposure.internet-imaging",
            "severity": "critical",
            "host": source,
            "port": 50104,
            "protocol": "dicom",
            "title": f"\x1b[2J{MARKUP}",
            "evidence": {"service": "dicom", "product": HOSTILE},
            "key": key_of("exposure.internet-imaging", source, 50104),
        }
    )
    return json.dumps(data).encode()


async def test_a_reflectors_strings_reach_neither_check_nor_scan_output_raw(
    cert: ServerCert,
) -> None:
    # Given a reflector whose answer carries escape sequences and markup in
    # a finding's title and evidence, a service's product and its skipped list
    source, third = "127.0.0.1", "127.0.0.99"
    raw = hostile_answer(source, third)
    assert b"\\u001b" in raw and b"\\u202e" in raw  # the answer really holds them
    async with fake_reflector(cert, raw) as url:
        # When `reflector check` asks it and prints what it saw
        view = await request_outside_view(url, token=TOKEN, ca_file=cert.ca, deadline=10)
        buffer = io.StringIO()
        print_check(view, Console(file=buffer, width=400, color_system=None, soft_wrap=True))
        # and when a LAN scan with --outside shows its findings
        settings = OutsideSettings(url, TOKEN, ca_file=str(cert.ca))
        report, _ = await lan_scan_with_outside(settings, box=None)
    checked = buffer.getvalue()
    # Then neither output nor the JSON holds a control character
    _clean(checked)
    _clean(rendered(report))
    _clean(report.to_json())
    # and markup stays text in the check's lines
    assert f"[link={EVIL}]" in checked
    # and the reflector's finding at the source is there, cleaned
    (seen,) = [f for f in report.findings if f.port == 50104]
    assert seen.title == f"[2J{MARKUP}"
    assert seen.evidence["product"] == f"]8;;{EVIL}{MARKUP}[5m/1.0]8;;2J"
