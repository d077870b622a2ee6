"""The DICOMweb hygiene checks' decisions (exposcan/protocols/http/dicomweb.py):
what a status says, what a CORS answer allows, where the guard asks."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from exposcan.catalogue import default_catalogue
from exposcan.protocols.http.dicomweb import (
    EVIL_ORIGIN,
    STOW_TAKEN,
    WADO_TAKEN,
    Target,
    cors_allowed,
    sibling,
    taken,
)
from exposcan.protocols.http.fingerprints import load_fingerprints
from exposcan.protocols.http.response import HttpResponse


def response(status: int, **headers: str) -> HttpResponse:
    return HttpResponse(status, CIMultiDictProxy(CIMultiDict(headers)), b"", "/", False)


@pytest.mark.parametrize(
    "status,accepted,expected",
    [
        (415, STOW_TAKEN, True),  # PS3.18 §10.5.2: unsupported media type, answered
        (200, STOW_TAKEN, True),
        (401, STOW_TAKEN, False),
        (403, STOW_TAKEN, False),
        (404, STOW_TAKEN, None),  # no STOW-RS there
        (405, STOW_TAKEN, None),
        (500, STOW_TAKEN, None),
        (400, WADO_TAKEN, True),  # a WADO-URI request naming no object
        (415, WADO_TAKEN, None),
        (401, WADO_TAKEN, False),
    ],
)
def test_what_a_status_says(status: int, accepted: frozenset[int], expected: bool | None) -> None:
    # Given a status answering a request that cannot store nor name an object
    # Then taken without credentials, credentials asked, or nothing told
    assert taken(status, accepted) is expected


def test_cors_echo_and_wildcard_are_told_apart_from_a_fixed_origin() -> None:
    # Given three answers to our foreign Origin
    echoed = response(200, **{"Access-Control-Allow-Origin": EVIL_ORIGIN})
    wildcard = response(200, **{"Access-Control-Allow-Origin": "*"})
    fixed = response(200, **{"Access-Control-Allow-Origin": "https://viewer.cabinet.example"})
    # Then only the first two allow it, named by our words, not the peer's
    assert (cors_allowed(echoed), cors_allowed(wildcard)) == ("echoed", "*")
    assert cors_allowed(fixed) is None and cors_allowed(response(200)) is None


def test_the_guard_asks_a_random_sibling_with_the_same_query() -> None:
    # Given the WADO-URI request
    a, b = sibling("/pacs/wado?requestType=WADO"), sibling("/pacs/wado?requestType=WADO")
    # Then its sibling is another path of the same folder, query kept, new each time
    assert a.startswith("/pacs/exposcan-") and a.endswith("?requestType=WADO") and a != b


def test_the_dicomweb_root_comes_from_the_fingerprints_qido_proof() -> None:
    # Given Orthanc's fingerprint, found behind a proxy at /pacs
    [orthanc] = [f for f in default_catalogue().derived(load_fingerprints) if f.id == "orthanc"]
    target = Target("Orthanc", "1.10.1", "/pacs", orthanc)
    # Then STOW-RS and CORS are asked under its QIDO-RS root
    assert target.dicomweb_roots() == ["/pacs/dicom-web"]
