"""The HTTP probe through the real engine against aiohttp servers on loopback:
a positive and a negative case per rule, and hostile servers."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from exposcan.models import ErrorReason, Safety, Vantage
from exposcan.protocols.http import listing as listing_module
from exposcan.protocols.http import probe as http_probe_module
from exposcan_lab.topology import CANARY_STRINGS
from tests.inprocess.http_servers import (
    DICM_HEAD,
    STUDY_UID,
    Seen,
    dicom_bytes,
    endless_body,
    nginx_listing_app,
    orthanc_app,
    rules,
    scan_http,
    self_signed,
    serve,
)
from tests.inprocess.servers import garbage, tarpit, tcp_server


def assert_no_patient_data(text: str) -> None:
    for canary in CANARY_STRINGS:
        assert canary not in text, canary


# -- Orthanc ----------------------------------------------------------------


async def test_open_orthanc_is_unauthenticated_pacs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an Orthanc 1.10.1 in its 2020 state (no authentication)
    seen = Seen()
    async with serve(orthanc_app(seen)) as port:
        # When the HTTP probe scans it
        scanner, report = await scan_http(port, monkeypatch)
    found = rules(report)
    # Then: unauthenticated PACS, with product, version, endpoint and counts
    ev = found["http.pacs-unauthenticated"]
    assert ev["product"] == "Orthanc"
    assert ev["version"] == "1.10.1"
    assert ev["endpoint"] == "/statistics"
    assert (ev["patients"], ev["studies"], ev["series"], ev["instances"]) == (3, 4, 4, 6)
    assert ev["studies_readable"] is True
    # and the catalogue's advisories fixed after 1.10.1 are named, with the fix
    vulnerable = found["http.known-vulnerable"]
    assert "CVE-2023-33466" in vulnerable["cves"]  # type: ignore[operator]
    assert "CVE-2025-0896" not in vulnerable["cves"]  # type: ignore[operator]
    assert vulnerable["fixed_in"] == ["Orthanc 1.12.11"]
    # and plain HTTP is flagged
    assert found["http.cleartext"]["what"] == "imaging data"
    # and the DICOM probe gets the AE title; the service names the product
    host = scanner.state.hosts["127.0.0.1"]
    assert host.hints["dicom.ae_title"] == ["CABINETRADIO"]
    service = report.hosts[0].services[0]
    assert (service.protocol, service.product, service.version) == ("http", "Orthanc", "1.10.1")
    assert service.details["DicomAet"] == "CABINETRADIO"
    assert service.details["DicomPort"] == 104
    # and the imaging service is marked for the box / internet joins
    assert any(f.kind == "imaging.service" and f.data["service"] == "pacs-web" for f in host.facts)
    # and nothing but GET/HEAD was sent (and the DICOMweb check's empty
    # POST: not one body byte), never a patient list
    assert seen.methods <= {"GET", "HEAD", "POST"} and seen.body_bytes == 0
    assert not any(p.startswith("/patients") for p in seen.paths)
    # and no identity or UID reached the report
    assert_no_patient_data(report.to_json())
    assert STUDY_UID not in report.to_json()
    assert report.errors == []


def portal_app(seen: Seen, links: list[str], pacs: bool = True) -> web.Application:
    """A practice portal at "/" (nginx in front): its links, and Orthanc
    behind a reverse proxy at /pacs/ when ``pacs``."""

    async def index(_: web.Request) -> web.Response:
        anchors = "".join(f'<a href="{link}">lien</a>' for link in links)
        return web.Response(
            text=f"<html><head><title>Cabinet</title></head><body>{anchors}</body></html>",
            content_type="text/html",
        )

    app = web.Application(middlewares=[seen.middleware])
    app.router.add_get("/", index)
    if pacs:
        app.add_subapp("/pacs", orthanc_app(Seen()))
    return app


async def test_a_pacs_behind_a_proxy_at_a_sub_path_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a portal page linking to Orthanc behind a reverse proxy at /pacs/
    seen = Seen()
    links = ["/pacs/app/explorer.html", "https://example.invalid/autre/", "mailto:x@y.invalid"]
    async with serve(portal_app(seen, links)) as port:
        _, report = await scan_http(port, monkeypatch)
    found = rules(report)
    # Then the PACS is found and proven readable under its sub-path
    ev = found["http.pacs-unauthenticated"]
    assert (ev["product"], ev["endpoint"], ev["studies"]) == ("Orthanc", "/pacs/statistics", 4)
    assert report.hosts[0].services[0].product == "Orthanc"
    # and the proof was read under the sub-path, never a patient list
    assert "/pacs/statistics" in seen.paths
    assert not any("patients" in p for p in seen.paths)
    assert_no_patient_data(report.to_json())


async def test_a_portal_without_a_pacs_behind_it_gives_no_pacs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a portal whose links lead to pages that are no PACS
    seen = Seen()
    async with serve(portal_app(seen, ["/css/style.css", "/contact/"], pacs=False)) as port:
        _, report = await scan_http(port, monkeypatch)
    # Then no PACS finding; the sub-paths tried are the links' folders only
    assert not any(r.startswith("http.pacs") for r in rules(report))
    assert any(p.startswith("/contact/") and p != "/contact/" for p in seen.paths)
    assert any(p.startswith("/css/") and p != "/css/style.css" for p in seen.paths)


async def test_secure_orthanc_is_no_open_pacs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an Orthanc that answers 401 "Orthanc Secure Area" everywhere
    seen = Seen()
    async with serve(orthanc_app(seen, secure=True, password="orthanc")) as port:
        # When scanned without --intrusive
        _, report = await scan_http(port, monkeypatch)
    found = rules(report)
    # Then it is recognised as an authenticated Orthanc, nothing more
    assert "http.pacs-unauthenticated" not in found
    assert "http.default-credentials" not in found
    assert found["http.pacs-login"]["product"] == "Orthanc"
    assert report.hosts[0].services[0].product == "Orthanc"
    assert report.hosts[0].services[0].version is None
    # and no credential was tried
    assert seen.auth_headers == 0


async def test_default_account_only_when_intrusive(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an Orthanc with authentication on and the orthanc:orthanc account
    seen = Seen()
    async with serve(orthanc_app(seen, secure=True, password="orthanc")) as port:
        # When scanned with --intrusive
        _, report = await scan_http(port, monkeypatch, intrusive=True)
    found = {f.rule: f for f in report.findings}
    # Then the default account is reported, labelled intrusive, with the version
    finding = found["http.default-credentials"]
    assert finding.safety is Safety.INTRUSIVE
    assert finding.evidence["product"] == "Orthanc"
    assert finding.evidence["version"] == "1.10.1"
    # with one authenticated GET only, and the account never in the report
    assert seen.auth_headers == 1
    assert seen.methods <= {"GET", "HEAD", "POST"} and seen.body_bytes == 0
    assert "b3J0aGFuYzpvcnRoYW5j" not in report.to_json()
    assert "orthanc:orthanc" not in report.to_json()
    assert set(finding.evidence) == {"product", "version", "endpoint"}


async def test_other_account_is_not_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an Orthanc whose account is not the default one
    seen = Seen()
    async with serve(orthanc_app(seen, secure=True, password="Str0ng-and-personal")) as port:
        # When scanned with --intrusive
        _, report = await scan_http(port, monkeypatch, intrusive=True)
    # Then no default-credentials finding
    assert "http.default-credentials" not in rules(report)
    assert "http.pacs-login" in rules(report)


async def test_orthanc_over_tls_records_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given an open Orthanc behind TLS with a self-signed certificate, on a
    # port the catalogue guesses as plain HTTP
    seen = Seen()
    async with serve(
        orthanc_app(seen, version="1.12.11"), ssl_context=self_signed(tmp_path)
    ) as port:
        # When scanned
        _, report = await scan_http(port, monkeypatch, tls_guess=False)
    found = rules(report)
    service = report.hosts[0].services[0]
    # Then the probe switched to TLS and recorded what answered
    assert service.tls is True
    assert service.details["cert_subject_cn"] == "pacs.cabinet.test"
    assert service.details["cert_self_signed"] is True
    assert str(service.details["tls_version"]).startswith("TLSv1.")
    assert "cert_not_after" in service.details
    # and the open PACS is still found, but neither cleartext nor a known CVE
    assert found["http.pacs-unauthenticated"]["tls"] is True
    assert "http.cleartext" not in found
    assert "http.known-vulnerable" not in found


async def test_plain_server_guessed_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an open Orthanc over plain HTTP on a port guessed as TLS
    async with serve(orthanc_app(Seen())) as port:
        # When scanned
        _, report = await scan_http(port, monkeypatch, tls_guess=True)
    # Then plain HTTP answered and is recorded as such
    assert report.hosts[0].services[0].tls is False
    assert "http.pacs-unauthenticated" in rules(report)


# -- DICOMweb ----------------------------------------------------------------


async def test_generic_dicomweb_qido(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a bare DICOMweb server answering QIDO-RS with a study
    async def qido(_: web.Request) -> web.Response:
        return web.Response(
            text=f'[{{"0020000D": {{"vr": "UI", "Value": ["{STUDY_UID}"]}}}}]',
            content_type="application/dicom+json",
        )

    app = web.Application()
    app.router.add_get("/dicom-web/studies", qido)
    async with serve(app) as port:
        _, report = await scan_http(port, monkeypatch)
    # Then "at least one study readable", never the UID
    ev = rules(report)["http.pacs-unauthenticated"]
    assert ev["product"] == "DICOMweb"
    assert ev["studies_readable"] is True
    assert STUDY_UID not in report.to_json()


# -- listings ----------------------------------------------------------------


async def test_listing_with_extensionless_dicom(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an nginx-style listing, 3 levels deep, of DICOM files with and
    # without extension, in folders named after patients; one big file
    # whose server ignores Range
    tree = {
        "/CNRY-0001/IM000001": dicom_bytes(),
        "/CNRY-0001/serie1/IM000002": dicom_bytes(),
        "/CNRY-0001/serie1/deep/1.2.840.1.1": dicom_bytes(2 * 1024 * 1024),
        "/CNRY-0003_CT_0001.dcm": dicom_bytes(),
        "/LISEZMOI.txt": b"rien",
        "/notes": b"plain text, no magic" * 20,
    }
    seen = Seen()
    async with serve(nginx_listing_app(seen, tree, honour_range=False)) as port:
        # When scanned
        scanner, report = await scan_http(port, monkeypatch)
    ev = rules(report)["http.listing-imaging"]
    # Then imaging is counted by extension and by magic, with counts only
    assert ev["server"] == "nginx"
    assert ev["imaging_files"] == 4
    assert ev["without_extension"] == 3
    assert ev["with_magic"] == 4
    # 4 extension-less files, 1 .dcm confirmed, the .txt (a health-data candidate)
    assert ev["files_sampled"] == 6
    assert ev["folders_walked"] == 4
    assert ev["extensions"] == ["dcm"]
    assert ev["cut_short"] is False
    assert rules(report)["http.cleartext"]["what"] == "imaging files"
    host = scanner.state.hosts["127.0.0.1"]
    assert any(f.kind == "imaging.service" and f.data["service"] == "listing" for f in host.facts)
    # and no file or folder name, nor identity, is in the report
    text = report.to_json()
    assert_no_patient_data(text)
    for name in ("IM000001", "IM000002", "serie1", "LISEZMOI", "1.2.840.1.1"):
        assert name not in text
    assert report.errors == []


async def test_listing_with_health_data(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a listing of laboratory results (HPRIM, HL7 v2) named after
    # patients, and a text file that is neither
    tree = {
        "/resultats/CNRY-0001.hpr": b"H|^~\\&|LABO|||\r\nP|1||CNRY-0001||CANARY^ALICE\r\n",
        "/resultats/00042": b"MSH|^~\\&|LAB|X|||20240101||ORU^R01|1|P|2.5\r",
        "/LISEZMOI.txt": b"rien",
    }
    async with serve(nginx_listing_app(Seen(), tree)) as port:
        # When scanned
        _, report = await scan_http(port, monkeypatch)
    found = rules(report)
    # Then the health-data twin of the listing rule, with counts and kinds only
    ev = found["http.listing-health-data"]
    assert ev["health_data_files"] == 2
    assert ev["health_data_kinds"] == ["hl7v2", "hprim"]
    assert "http.listing-imaging" not in found
    text = report.to_json()
    assert_no_patient_data(text)
    assert "resultats" not in text and "00042" not in text


async def test_listing_without_imaging(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a listing of text files only
    tree = {"/LISEZMOI.txt": b"rien", "/docs/planning.txt": b"lundi"}
    async with serve(nginx_listing_app(Seen(), tree)) as port:
        scanner, report = await scan_http(port, monkeypatch)
    # Then a listing fact with zero imaging, and no finding about it
    assert "http.listing-imaging" not in rules(report)
    facts = [f for f in scanner.state.hosts["127.0.0.1"].facts if f.kind == "http.listing"]
    assert facts and facts[0].data["imaging_files"] == 0
    assert facts[0].data["folders_walked"] == 2


HUNSPELL = b"52000\nabaisse/12\nabandon/1\nabbaye/1\n" * 20  # a .dic spelling dictionary


async def test_a_listing_of_spelling_dictionaries_is_no_imaging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a listing of hunspell .dic dictionaries (".dic" is also a DICOM
    # extension), more of them than the walk samples
    tree = {f"/dictionnaires/fr_{i}.dic": HUNSPELL for i in range(12)}
    tree["/LISEZMOI.txt"] = b"rien"
    async with serve(nginx_listing_app(Seen(), tree)) as port:
        scanner, report = await scan_http(port, monkeypatch)
    # Then their first bytes, read, hold no DICM magic: no imaging, no finding
    found = rules(report)
    assert "http.listing-imaging" not in found and "http.cleartext" not in found
    [fact] = [f for f in scanner.state.hosts["127.0.0.1"].facts if f.kind == "http.listing"]
    assert fact.data["imaging_files"] == 0 and fact.data["extensions"] == []
    assert fact.data["extensions_refuted"] == ["dic"]
    assert fact.data["not_imaging_by_content"] >= 1


async def test_a_dictionary_beside_dicom_files_is_not_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given DICOM files (.dcm) and one .dic dictionary in one listing
    tree = {
        "/a/CT0001.dcm": dicom_bytes(),
        "/a/CT0002.dcm": dicom_bytes(),
        "/b/fr.dic": HUNSPELL,
    }
    async with serve(nginx_listing_app(Seen(), tree)) as port:
        _, report = await scan_http(port, monkeypatch)
    # Then the .dcm files are imaging and the dictionary is not
    ev = rules(report)["http.listing-imaging"]
    assert ev["imaging_files"] == 2 and ev["extensions"] == ["dcm"]


async def test_listing_walk_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a listing far larger than the walk's bounds (60 folders, 6 deep)
    tree = {f"/d{i}/a/b/c/d/e/IM{i}": DICM_HEAD for i in range(60)}
    seen = Seen()
    async with serve(nginx_listing_app(seen, tree)) as port:
        # When scanned
        scanner, _ = await scan_http(port, monkeypatch)
    [fact] = [f for f in scanner.state.hosts["127.0.0.1"].facts if f.kind == "http.listing"]
    # Then the walk stops at its request bound (200, catalogue listings.yaml)
    # and says it was cut short
    assert fact.data["folders_walked"] == 200
    assert fact.data["cut_short"] is True
    assert "requests" in fact.data["cut_reasons"]
    walked = [p for p in seen.paths if p == "/" or re.match(r"^/d\d+/", p)]
    assert len(walked) <= 201


# -- hostile servers ---------------------------------------------------------


async def test_endless_body_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a server whose 200 body never ends
    app = web.Application()
    app.router.add_get("/{tail:.*}", endless_body)
    async with serve(app) as port:
        # When scanned
        start = time.monotonic()
        _, report = await scan_http(port, monkeypatch, timeout=1.0)
        elapsed = time.monotonic() - start
    # Then an error record (too-large or timeout), no finding, bounded time
    assert [e.reason for e in report.errors] in ([ErrorReason.TOO_LARGE], [ErrorReason.TIMEOUT])
    assert report.findings == []
    assert elapsed < 10


async def test_tarpit_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a port that accepts and never answers
    async with tcp_server(tarpit) as port:
        start = time.monotonic()
        _, report = await scan_http(port, monkeypatch, timeout=1.0)
        elapsed = time.monotonic() - start
    # Then a timeout error record within the deadlines, no finding
    assert [(e.probe, e.reason) for e in report.errors] == [("http", ErrorReason.TIMEOUT)]
    assert report.findings == []
    assert elapsed < 10


async def _dripped_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A status line, then headers one byte every 0.2 s, without end: every
    read answers well inside the read deadline (slowloris the other way)."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(600):
        writer.write(b"X")
        await writer.drain()
        await asyncio.sleep(0.2)


async def test_dripped_headers_end_at_one_read_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a server that drips its headers faster than any read deadline
    async with tcp_server(_dripped_headers) as port:
        # When the HTTP probe (read deadline 1 s) asks it
        _, report = await scan_http(port, monkeypatch, timeout=1.0)
    # Then the head as a whole had one read deadline: a timeout that says so
    # (not the request's total deadline), and no finding
    assert [(e.probe, e.reason) for e in report.errors] == [("http", ErrorReason.TIMEOUT)]
    assert "status line and headers not complete within 1 s" in report.errors[0].detail
    assert report.findings == []


async def test_headers_that_arrive_in_time_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an Orthanc-like server that answers at once (the negative case)
    async with serve(orthanc_app(Seen())) as port:
        _, report = await scan_http(port, monkeypatch, timeout=1.0)
    # Then no head deadline fires, and the PACS is found
    assert not [e for e in report.errors if "status line and headers" in e.detail]
    assert "http.pacs-unauthenticated" in rules(report)


async def test_garbage_on_an_http_port_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a port guessed as HTTP that spews random bytes forever
    async with tcp_server(garbage) as port:
        start = time.monotonic()
        _, report = await scan_http(port, monkeypatch, timeout=1.0)
        elapsed = time.monotonic() - start
    # Then neither plain nor TLS gives HTTP: one error record, bounded time
    assert len(report.errors) == 1
    assert report.errors[0].reason in (
        ErrorReason.PROTOCOL,
        ErrorReason.TOO_LARGE,
        ErrorReason.TIMEOUT,
    )
    assert report.findings == []
    assert elapsed < 10


async def test_redirect_to_another_host_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an open Orthanc on 127.0.0.2, and a server on 127.0.0.1 that
    # redirects every request there
    other = Seen()
    async with serve(orthanc_app(other), host="127.0.0.2") as other_port:

        async def bounce(request: web.Request) -> web.Response:
            raise web.HTTPFound(f"http://127.0.0.2:{other_port}{request.path_qs}")

        app = web.Application()
        app.router.add_get("/{tail:.*}", bounce)
        async with serve(app) as port:
            # When 127.0.0.1 is scanned
            _, report = await scan_http(port, monkeypatch)
    # Then the other host received nothing and nothing of it is reported
    assert other.paths == []
    assert report.findings == []


async def test_redirect_on_same_host_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a server that moved its Orthanc API under a redirect of the same host
    seen = Seen()
    orthanc = orthanc_app(seen)

    async def root(request: web.Request) -> web.Response:
        raise web.HTTPFound("/system")

    orthanc.router.add_get("/", root)
    async with serve(orthanc) as port:
        _, report = await scan_http(port, monkeypatch)
    # Then the redirect of "/" was followed on the same host
    assert seen.paths.count("/system") >= 2
    assert "http.pacs-unauthenticated" in rules(report)


# -- box and NAS admin pages -----------------------------------------------------


async def test_box_admin_from_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Livebox administration page
    async def root(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><head><title>Livebox</title></head></html>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", root)
    async with serve(app) as port:
        # When scanned from the internet, then from the LAN
        _, outside = await scan_http(port, monkeypatch, vantage=Vantage.INTERNET)
        _, inside = await scan_http(port, monkeypatch, vantage=Vantage.LAN)
    # Then only the internet view reports an exposed admin interface
    assert rules(outside)["http.admin-internet"]["product"] == "Orange Livebox"
    assert "http.admin-internet" not in rules(inside)
    assert inside.hosts[0].services[0].product == "Orange Livebox"


async def test_open_orthanc_over_ipv6_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the same 2020-state Orthanc listening on ::1 only
    seen = Seen()
    async with serve(orthanc_app(seen), host="::1") as port:
        # When the HTTP probe scans the IPv6 address (URLs need [brackets])
        _, report = await scan_http(port, monkeypatch, address="::1")
    # Then the same proof holds over IPv6, on the IPv6 host
    found = {(f.rule, f.host) for f in report.findings}
    assert ("http.pacs-unauthenticated", "::1") in found
    assert report.hosts[0].address == "::1"
    assert seen.paths and report.errors == []


async def test_nothing_on_ipv6_loopback_is_no_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the Orthanc on 127.0.0.1 only
    async with serve(orthanc_app(Seen())) as port:
        # When ::1 is scanned on that port
        _, report = await scan_http(port, monkeypatch, address="::1")
    # Then nothing answers there: no host, no finding
    assert report.findings == [] and report.hosts == []


async def test_a_listing_walk_out_of_time_before_any_image_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a listing of 40 folders of letters, each page sent after 0.3 s,
    # and a walk given 1 s: it cannot read them all
    tree = {f"/courriers-{i:02d}/lettre.txt": b"rien" for i in range(40)}
    app = nginx_listing_app(Seen(), tree)

    @web.middleware
    async def slow(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/" and request.path.endswith("/"):
            await asyncio.sleep(0.3)
        return await handler(request)  # type: ignore[no-any-return]

    app.middlewares.append(slow)
    shipped = listing_module.listing_config

    def one_second(catalogue: Any) -> listing_module.ListingConfig:
        config = shipped(catalogue)
        return dataclasses.replace(config, limits=dataclasses.replace(config.limits, seconds=1.0))

    monkeypatch.setattr(http_probe_module, "listing_config", one_second)
    async with serve(app) as port:
        scanner, report = await scan_http(port, monkeypatch)
    # Then the walk's counts are a fact, cut short by time, with no image
    [fact] = [f for f in scanner.state.hosts["127.0.0.1"].facts if f.kind == "http.listing"]
    assert fact.data["cut_short"] is True and "time" in fact.data["cut_reasons"]
    assert fact.data["imaging_files"] == 0 and 0 < fact.data["folders_walked"] < 41
    # And the report does not say "no image" there: an error record says the
    # walk could not finish (its counts only, no folder name)
    [error] = [e for e in report.errors if e.port == port]
    assert (error.probe, error.reason) == ("http", ErrorReason.TIMEOUT)
    assert "cut short (time) before it found an image" in error.detail
    assert "courriers" not in report.to_json()
    assert "http.listing-imaging" not in rules(report)


async def test_a_listing_walk_that_ends_in_time_is_no_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the same letters without the wait, Then no error: its "no" stands
    tree = {f"/courriers-{i:02d}/lettre.txt": b"rien" for i in range(40)}
    async with serve(nginx_listing_app(Seen(), tree)) as port:
        _, report = await scan_http(port, monkeypatch)
    assert report.errors == []
