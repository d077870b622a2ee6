"""The web fingerprints of the catalogue, one positive and one negative each,
evaluated by the generic matcher (no network)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from exposcan.catalogue import default_catalogue
from exposcan.protocols.http.client import HttpResponse, parse_realm
from exposcan.protocols.http.fingerprints import (
    CountSpec,
    Fingerprint,
    ImplausibleCounts,
    count_from,
    load_fingerprints,
)
from exposcan.protocols.http.probe import ProductMatch, match_fingerprints, prove_data

#: The shipped catalogue's web fingerprints, as a scan builds them.
PRINTS = default_catalogue().derived(load_fingerprints)


def response(status: int = 200, body: str | bytes = b"", **headers: str) -> HttpResponse:
    raw = body.encode() if isinstance(body, str) else body
    hdrs = CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}))
    return HttpResponse(status=status, headers=hdrs, body=raw, url="/", tls=False)


class FakeSession:
    """Answers from a table; anything else is a 404, as a real server does."""

    def __init__(self, pages: dict[str, HttpResponse]) -> None:
        self.pages = pages
        self.asked: list[str] = []

    async def fetch(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> HttpResponse | None:
        self.asked.append(path)
        return self.pages.get(
            path, response(404, "<h1>404 Not Found</h1>", Content_Type="text/html")
        )


ORTHANC_SYSTEM = json.dumps(
    {
        "Version": "1.10.1",
        "DicomAet": "CABINETRADIO",
        "DicomPort": 104,
        "Name": "Dr Somebody's server",
        "IsHttpServerSecure": False,
    }
)
QIDO = "/dicom-web/studies?limit=1&includefield=StudyInstanceUID"
DCM4CHEE_QIDO = "/dcm4chee-arc/aets/DCM4CHEE/rs/studies?limit=1&includefield=StudyInstanceUID"

#: fingerprint id -> (pages of a server running it, expected version)
POSITIVE: dict[str, tuple[dict[str, HttpResponse], str | None]] = {
    "orthanc": (
        {"/system": response(200, ORTHANC_SYSTEM, Content_Type="application/json")},
        "1.10.1",
    ),
    "dicomweb": ({QIDO: response(200, "[]", Content_Type="application/dicom+json")}, None),
    "dcm4chee": (
        {
            "/dcm4chee-arc/ui2/": response(
                200, "<html><head><title>dcm4chee-arc</title></head></html>"
            )
        },
        None,
    ),
    "ohif": ({"/": response(200, "<html><title>OHIF Viewer</title></html>")}, None),
    "horos-osirix": (
        {
            "/": response(
                200, "<html><title>Horos Web Portal</title><form action=login></form></html>"
            )
        },
        None,
    ),
    "conquest": (
        {
            "/cgi-bin/dgate": response(
                200,
                "<title>Conquest DICOM server</title>"
                "<H1>Conquest DICOM server - version 1.5.0c</H1>",
            )
        },
        "1.5.0c",
    ),
    "meddream": ({"/": response(200, "<html><title>MedDream login</title></html>")}, None),
    "synology-dsm": (
        {
            "/": response(
                200, "<html><title>Synology DiskStation</title><script>SYNO.SDS.Session</script>"
            )
        },
        None,
    ),
    "livebox": ({"/": response(200, "<html><head><title>Livebox</title></head></html>")}, None),
    "freebox": ({"/": response(200, "<html><title>Freebox OS</title></html>")}, None),
    "sfr-box": ({"/": response(200, "<html><title>SFR Box</title></html>")}, None),
    "bbox": ({"/": response(200, "<html><title>Bbox</title></html>")}, None),
    "gxd5": (
        {"/": response(200, "<html><title>GXD5 Pacs Connexion utilisateur</title></html>")},
        None,
    ),
    "philips-vue-pacs": ({"/": response(200, "<title>Vue PACS - Login</title>")}, None),
    "carestream-vue": ({"/": response(200, "<title>Carestream Vue Motion</title>")}, None),
    "dicoogle": ({"/": response(200, "<html><head><title>Dicoogle</title></head>")}, None),
    "kheops": ({"/": response(200, "<html><head><title>KHEOPS</title></head>")}, None),
    "pacsone": (
        {"/pacsone/login.php": response(200, "<h2>PacsOne Server 7.1.1 Login</h2>")},
        None,
    ),
    "infinitt": ({"/": response(200, "<title>INFINITT PACS Web</title>")}, None),
    # The landing page of DICOMHawk's log server (templates/landing.html).
    "dicomhawk": (
        {"/": response(200, "<title>DICOMHawk - Honeypot DICOM Server</title>")},
        None,
    ),
}

#: A plain web server's welcome page: no fingerprint may claim it.
NEGATIVE = {
    "/": response(
        200,
        "<html><title>Welcome to nginx!</title><p>It works</p></html>",
        Server="nginx/1.22.1",
        Content_Type="text/html",
    )
}


def by_id(fid: str) -> Fingerprint:
    return next(f for f in PRINTS if f.id == fid)


def test_every_fingerprint_has_a_case() -> None:
    # Given the catalogue's fingerprint files
    # Then each one has a positive case here (a new fingerprint is a file
    # plus a test case)
    assert {f.id for f in PRINTS} == set(POSITIVE)


@pytest.mark.parametrize("fid", sorted(POSITIVE))
async def test_fingerprint_positive(fid: str) -> None:
    # Given a server whose pages are those of the product
    pages, version = POSITIVE[fid]
    # When the fingerprint alone is evaluated
    matches = await match_fingerprints(FakeSession(pages), [by_id(fid)])  # type: ignore[arg-type]
    # Then it matches, with the version the product discloses
    assert len(matches) == 1
    assert matches[0].fingerprint.id == fid
    assert matches[0].version == version


@pytest.mark.parametrize("fid", sorted(POSITIVE))
async def test_fingerprint_negative(fid: str) -> None:
    # Given a plain nginx welcome page and 404 everywhere else
    # When the fingerprint is evaluated
    matches = await match_fingerprints(FakeSession(NEGATIVE), [by_id(fid)])  # type: ignore[arg-type]
    # Then it does not match
    assert matches == []


async def test_meddream_is_known_by_its_session_cookie() -> None:
    # Given a MedDream whose page names nothing, but sets its session cookie
    pages = {"/": response(200, "<title>Login</title>", Set_Cookie="MEDDREAMSESSID=x1")}
    # Then the cookie alone names it; another PHP session cookie does not
    matches = await match_fingerprints(FakeSession(pages), [by_id("meddream")])  # type: ignore[arg-type]
    assert [m.product for m in matches] == ["MedDream"]
    other = {"/": response(200, "<title>Login</title>", Set_Cookie="PHPSESSID=x1")}
    assert await match_fingerprints(FakeSession(other), [by_id("meddream")]) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fid,page",
    [
        ("philips-vue-pacs", "<title>Vue de la salle d'attente</title>"),
        ("kheops", "<title>Kheops, pharaon</title>"),
        ("dicoogle", "<title>Dicoogles et autres jeux</title>"),
        ("dicomhawk", "<p>Hawks of the DICOMHawk blog</p>"),
    ],
)
async def test_near_misses_are_not_products(fid: str, page: str) -> None:
    matches = await match_fingerprints(FakeSession({"/": response(200, page)}), [by_id(fid)])  # type: ignore[arg-type]
    assert matches == []


async def test_orthanc_secure_area_realm_means_authentication() -> None:
    # Given an Orthanc with authentication on: 401 with its realm everywhere
    denied = response(401, "", WWW_Authenticate='Basic realm="Orthanc Secure Area"')
    session = FakeSession({"/system": denied, "/": denied})
    # When every fingerprint is evaluated
    matches = await match_fingerprints(session, PRINTS)  # type: ignore[arg-type]
    # Then only Orthanc matches, as requiring credentials, with no version
    assert [(m.product, m.auth_required, m.version) for m in matches] == [("Orthanc", True, None)]


async def test_other_realm_is_not_orthanc() -> None:
    # Given any other password-protected server
    denied = response(401, "", WWW_Authenticate='Basic realm="Restricted"')
    session = FakeSession({"/system": denied, "/": denied})
    # Then nothing is claimed
    assert await match_fingerprints(session, PRINTS) == []  # type: ignore[arg-type]


async def test_orthanc_system_gives_configuration_not_name() -> None:
    # Given an open Orthanc /system
    pages = POSITIVE["orthanc"][0]
    [match] = await match_fingerprints(FakeSession(pages), [by_id("orthanc")])  # type: ignore[arg-type]
    # Then the AE title and port are recorded and hinted, the free-text Name is not
    assert match.details == {
        "DicomAet": "CABINETRADIO",
        "DicomPort": 104,
        "IsHttpServerSecure": False,
    }
    assert match.hints == {"dicom.ae_title": "CABINETRADIO", "dicom.port": "104"}
    assert "Somebody" not in repr(match)


async def test_generic_dicomweb_yields_to_a_product() -> None:
    # Given an Orthanc that also serves DICOMweb
    pages = {**POSITIVE["orthanc"][0], **POSITIVE["dicomweb"][0]}
    matches = await match_fingerprints(FakeSession(pages), PRINTS)  # type: ignore[arg-type]
    # Then the product names it; the generic DICOMweb root does not double it
    assert [m.fingerprint.id for m in matches] == ["orthanc"]


async def test_orthanc_proof_is_counts_only() -> None:
    # Given Orthanc /statistics and a QIDO answer holding a study UID
    uid = "2.25.271828182845904523536028747135.1"
    stats = {
        "CountPatients": 3,
        "CountStudies": 4,
        "CountSeries": 4,
        "CountInstances": 6,
        "TotalDiskSizeMB": 1,
    }
    qido = [{"0020000D": {"vr": "UI", "Value": [uid]}}]
    session = FakeSession(
        {
            "/statistics": response(200, json.dumps(stats)),
            QIDO: response(200, json.dumps(qido), Content_Type="application/dicom+json"),
        }
    )
    # When the data is proved
    counts = await prove_data(session, by_id("orthanc"))  # type: ignore[arg-type]
    # Then the counts and "at least one study" are kept, never the UID
    assert counts == {
        "_endpoint": "/statistics",
        "patients": 3,
        "studies": 4,
        "series": 4,
        "instances": 6,
        "studies_readable": True,
        "qido_studies": 1,
    }
    assert uid not in repr(counts)


def test_qido_counts() -> None:
    spec = CountSpec(qido="studies")
    # A 204 (PS3.18: the search ran, nothing matched) is readable but empty
    assert count_from(spec, response(204)) == {"studies_readable": False, "qido_studies": 0}
    # A JSON array is counted
    assert count_from(spec, response(200, "[{}, {}]")) == {
        "studies_readable": True,
        "qido_studies": 2,
    }
    # A refusal or an HTML page proves nothing
    assert count_from(spec, response(401)) is None
    assert count_from(spec, response(200, "<html></html>")) is None


def test_realm() -> None:
    assert parse_realm('Basic realm="Orthanc Secure Area"') == "Orthanc Secure Area"
    assert parse_realm('Bearer realm=dcm4che, error="invalid_token"') == "dcm4che"
    assert parse_realm("Negotiate") is None


def test_product_match_reports_product() -> None:
    match: Any = ProductMatch(by_id("orthanc"), "/system", "1.10.1")
    assert match.product == "Orthanc"


class SoftNotFound(FakeSession):
    """Answers 200 to every path, the path echoed in the page (a soft 404)."""

    async def fetch(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> HttpResponse | None:
        self.asked.append(path)
        if path in self.pages:
            return self.pages[path]
        return response(200, f"<html><body>{path} was not found</body></html>")


async def test_a_soft_404_is_no_product() -> None:
    # Given a server answering 200 to any path with the path in the page
    session = SoftNotFound({})
    # When every fingerprint of the catalogue is tried on it
    matches = await match_fingerprints(session, PRINTS)  # type: ignore[arg-type]
    # Then a random path was asked first, and nothing matched (no dcm4chee,
    # no MedDream from their own paths echoed back)
    assert "exposcan-" in session.asked[0]
    assert [m.fingerprint.id for m in matches] == []


async def test_a_real_page_still_matches_on_a_soft_404_server() -> None:
    # Given the same server, whose MedDream page names the product itself
    page = response(200, "<html><title>MedDream DICOM viewer</title>meddream login</html>")
    session = SoftNotFound({"/meddream/": page})
    matches = await match_fingerprints(session, PRINTS)  # type: ignore[arg-type]
    # Then the product is found: only the echoed path is discounted
    assert [m.fingerprint.id for m in matches] == ["meddream"]


@pytest.mark.parametrize(
    "stats",
    [
        {"CountPatients": -7, "CountStudies": 2},
        {"CountPatients": 1, "CountStudies": 10**40},
        {"CountPatients": 5, "CountStudies": 2, "CountSeries": 3, "CountInstances": 4},
    ],
    ids=["negative", "huge", "inconsistent"],
)
def test_implausible_counts_refuse_the_proof(stats: dict[str, int]) -> None:
    # Given an Orthanc-like /statistics no archive can hold
    spec = CountSpec.model_validate(
        {
            "json": {
                "patients": "CountPatients",
                "studies": "CountStudies",
                "series": "CountSeries",
                "instances": "CountInstances",
            }
        }
    )
    # Then the counts are refused, not returned as proof
    with pytest.raises(ImplausibleCounts):
        count_from(spec, response(200, json.dumps(stats), Content_Type="application/json"))
    # and plausible ones still prove
    ok = {"CountPatients": 1, "CountStudies": 2, "CountSeries": 3, "CountInstances": 40}
    assert count_from(spec, response(200, json.dumps(ok))) == {
        "patients": 1,
        "studies": 2,
        "series": 3,
        "instances": 40,
    }


async def test_dcm4chee_lists_its_ae_titles_as_hints() -> None:
    # Given dcm4chee-arc's AE list (a JSON array, no credentials on a default install)
    aets = json.dumps(
        [
            {"dicomAETitle": "DCM4CHEE", "dicomDescription": "Hide instances rejected"},
            {"dicomAETitle": "CABINET_ARC"},
            {"other": 1},
            "not an object",
        ]
    )
    pages = {"/dcm4chee-arc/aets": response(200, aets, Content_Type="application/json")}
    [match] = await match_fingerprints(FakeSession(pages), [by_id("dcm4chee")])  # type: ignore[arg-type]
    # Then each AE title becomes a DICOM hint, in order
    assert match.more_hints == [("dicom.ae_title", "DCM4CHEE"), ("dicom.ae_title", "CABINET_ARC")]
    # and an array without AE titles is no dcm4chee
    other = {"/dcm4chee-arc/aets": response(200, "[1, 2]", Content_Type="application/json")}
    assert await match_fingerprints(FakeSession(other), [by_id("dcm4chee")]) == []  # type: ignore[arg-type]
