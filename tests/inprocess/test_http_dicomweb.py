"""DICOMweb hygiene (STOW-RS, CORS, WADO-URI) through the real engine against
aiohttp PACS on loopback: open, well-configured, and catch-all servers."""

from __future__ import annotations

import pytest
from aiohttp import web

from exposcan.protocols.http.dicomweb import EMPTY_MEDIA_TYPE, EVIL_ORIGIN
from exposcan_lab.topology import CANARY_STRINGS
from tests.inprocess.http_servers import STUDY_UID, Seen, orthanc_app, rules, scan_http, serve

STORED = web.AppKey("stored", list[int])
HYGIENE = {"http.stow-open", "http.cors-any-origin", "http.wado-uri-open"}


def dicomweb_pacs(seen: Seen, *, secure: bool = False, cors: str | None = None) -> web.Application:
    """An Orthanc-like PACS with STOW-RS and WADO-URI as PS3.18 has them:
    STOW refuses a media type it does not store (415), WADO-URI a request
    naming no object (400). ``cors``: "echo" sends our origin back with
    credentials allowed, "*" the wildcard with credentials, None nothing."""
    app = orthanc_app(seen, secure=secure, password="orthanc")
    stored: list[int] = []

    async def stow(request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/related"):
            return web.Response(status=415)
        stored.append(len(await request.read()))
        return web.json_response({}, status=200)

    async def wado(request: web.Request) -> web.Response:
        if "objectUID" not in request.query:
            return web.Response(status=400, text="objectUID missing")
        return web.Response(body=b"DICM", content_type="application/dicom")

    async def add_cors(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if cors is None or origin is None:
            return
        response.headers["Access-Control-Allow-Origin"] = origin if cors == "echo" else "*"
        response.headers["Access-Control-Allow-Credentials"] = "true"

    app.router.add_post("/dicom-web/studies", stow)
    app.router.add_get("/wado", wado)
    app.on_response_prepare.append(add_cors)
    app[STORED] = stored
    return app


async def test_an_open_dicomweb_pacs_gives_stow_cors_and_wado(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an Orthanc-like PACS with no authentication, STOW-RS and WADO-URI,
    # and a proxy echoing any origin with credentials allowed
    seen = Seen()
    app = dicomweb_pacs(seen, cors="echo")
    async with serve(app) as port:
        # When the HTTP probe scans it
        _, report = await scan_http(port, monkeypatch)
    found = rules(report)
    # Then each of the three is a finding with its evidence
    assert found["http.stow-open"] == {
        **found["http.stow-open"],
        "endpoint": "/dicom-web/studies",
        "status": 415,
        "product": "Orthanc",
    }
    assert found["http.cors-any-origin"] == {
        **found["http.cors-any-origin"],
        "origin_sent": EVIL_ORIGIN,
        "allow_origin": "echoed",
        "allow_credentials": True,
    }
    assert (found["http.wado-uri-open"]["endpoint"], found["http.wado-uri-open"]["status"]) == (
        "/wado",
        400,
    )
    # And nothing was stored or fetched: one empty POST, no object asked for
    assert app[STORED] == [] and seen.body_bytes == 0
    assert "POST" in seen.methods
    assert not any("objectUID" in p for p in seen.paths)
    assert not any(c in report.to_json() for c in (*CANARY_STRINGS, STUDY_UID))


async def test_a_wildcard_origin_with_credentials_is_a_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the same PACS whose proxy answers "*" with credentials allowed
    seen = Seen()
    async with serve(dicomweb_pacs(seen, cors="*")) as port:
        _, report = await scan_http(port, monkeypatch)
    # Then the CORS finding says "*"
    assert rules(report)["http.cors-any-origin"]["allow_origin"] == "*"


async def test_a_well_configured_pacs_gives_none_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the same PACS with authentication on (401 everywhere) and no CORS
    seen = Seen()
    app = dicomweb_pacs(seen, secure=True)
    async with serve(app) as port:
        _, report = await scan_http(port, monkeypatch)
    # Then no hygiene finding: STOW and WADO asked for credentials
    assert not HYGIENE & set(rules(report))
    assert "http.pacs-login" in rules(report)
    assert app[STORED] == [] and seen.body_bytes == 0 and seen.auth_headers == 0


async def test_an_open_pacs_without_stow_wado_or_cors_gives_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an open Orthanc-like API with no STOW-RS, no WADO-URI (404 there)
    # and no CORS headers
    seen = Seen()
    async with serve(orthanc_app(seen)) as port:
        _, report = await scan_http(port, monkeypatch)
    # Then it is an open PACS, but none of the three hygiene findings
    assert "http.pacs-unauthenticated" in rules(report)
    assert not HYGIENE & set(rules(report))


async def test_a_catch_all_server_proves_no_stow_nor_wado(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an open Orthanc-like API behind a proxy answering 400 to every
    # other path and method (a catch-all)
    seen = Seen()
    app = orthanc_app(seen)

    async def catch_all(_: web.Request) -> web.Response:
        return web.Response(status=400)

    app.router.add_route("*", "/{tail:.*}", catch_all)
    async with serve(app) as port:
        _, report = await scan_http(port, monkeypatch)
    # Then the random sibling answered alike: no STOW nor WADO finding
    assert not {"http.stow-open", "http.wado-uri-open"} & set(rules(report))
    # And the sibling was asked (the guard ran)
    assert any("/exposcan-" in p for p in seen.paths)
    assert EMPTY_MEDIA_TYPE  # the media type the empty POST carries
