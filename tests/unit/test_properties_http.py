"""Property tests: what a web server answers (fingerprints, listings).

Every page below is random or a mutation of what real servers send; the
catalogue's fingerprints and the listing parser must give a result or
nothing, never an exception (a hostile server chooses its headers, body and
JSON).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from exposcan.catalogue import default_catalogue
from exposcan.protocols.http.client import HttpResponse, parse_realm
from exposcan.protocols.http.fingerprints import load_fingerprints
from exposcan.protocols.http.listing import children, detect_listing, listing_config
from exposcan.protocols.http.probe import match_fingerprints, prove_data
from exposcan.software.advisories import release
from tests.unit.properties import examples, ran

FINGERPRINTS = default_catalogue().derived(load_fingerprints)

header_names = st.sampled_from(
    ["Server", "WWW-Authenticate", "Content-Type", "X-Powered-By", "Location", "Set-Cookie"]
)
# Header values as aiohttp hands them over: no CR/LF.
header_value = st.text(st.characters(blacklist_characters="\r\n"), max_size=80) | st.sampled_from(
    [
        'Basic realm="Orthanc Secure Area"',
        'Digest realm="',
        "realm=",
        "nginx/1.22.1",
        "Orthanc/" + "9" * 5000,
        'Basic realm="x", charset="UTF-8"',
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["Version", "DicomAet", "DicomPort", "CountStudies", "CountPatients", "Name", "x"]
            )
            | st.text(max_size=5),
            inner,
            max_size=5,
        )
    ),
    max_leaves=15,
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.sampled_from(
        [
            b"[" * 5000,
            b'{"Version": "' + b"1" * 5000 + b'"}',
            b"<title>Conquest DICOM server</title><H1>version 1.5.0c</H1>",
            b'<html><title>Index of /</title><a href="../">../</a>',
        ]
    )
    | st.text(max_size=200).map(str.encode)
)


def _response(
    status: int, headers: list[tuple[str, str]], body: bytes, truncated: bool
) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers=CIMultiDictProxy(CIMultiDict(headers)),
        body=body,
        url="/",
        tls=False,
        truncated=truncated,
    )


responses = st.builds(
    _response,
    st.sampled_from([200, 204, 301, 401, 403, 404, 500, 999]),
    st.lists(st.tuples(header_names, header_value), max_size=4),
    bodies,
    st.booleans(),
)


class OnePageSession:
    """Every path answers with the same page (a catch-all server)."""

    def __init__(self, resp: HttpResponse) -> None:
        self.resp = resp

    async def fetch(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> HttpResponse | None:
        return self.resp


@examples(200)
@given(responses)
def test_fingerprints_match_any_page_without_raising(resp: HttpResponse) -> None:
    ran("http: fingerprints over a random page")

    async def run() -> tuple[list[Any], list[dict[str, Any] | None]]:
        session: Any = OnePageSession(resp)
        found = await match_fingerprints(session, FINGERPRINTS)
        return found, [await prove_data(session, fp) for fp in FINGERPRINTS]

    # Given one random page served at every path
    found, proofs = asyncio.run(run())
    # Then matches carry short printable versions, and proofs only counts
    for match in found:
        assert match.version is None or len(match.version) <= 200
        assert release(match.version) is None or match.version is not None
    for proof in proofs:
        for key, value in (proof or {}).items():
            assert key == "_endpoint" or isinstance(value, bool | int), (key, value)


@examples(300)
@given(
    header_value
    | st.text(max_size=40)
    | st.text("0123456789.v ", min_size=4000, max_size=6000)
    | st.just("1." + "9" * 5000)
)
def test_realm_and_version_parsing(text: str) -> None:
    ran("http: realm and version strings")
    realm = parse_realm(text)
    assert realm is None or isinstance(realm, str)
    version = release(text)
    assert version is None or all(isinstance(x, int) for x in version.release)


hrefs = st.sampled_from(
    [
        "../",
        "./",
        "a/",
        "b.dcm",
        "//evil/x",
        "http://x/y",
        "?C=N;O=D",
        "#top",
        "%2e%2e/",
        "a/../../etc",
        "javascript:x",
        "\x00",
        "IM0001",
        "/other/",
        "a b/",
        "%zz",
        "::",
        "[::1]",
    ]
) | st.text(max_size=12)


@examples(300)
@given(
    st.sampled_from(["/", "/archives/", "/a%20b/"]),
    st.lists(hrefs, max_size=8),
    st.text(max_size=60),
)
def test_listing_children_stay_in_their_folder(folder: str, links: list[str], noise: str) -> None:
    ran("http: listing links")
    # Given an index page with random links and random markup around them
    html = noise + "".join(f'<a href="{h}">{h}</a>' for h in links) + "<a href"
    # When its children are read
    out = children(folder, html)
    # Then each is a path strictly below the folder, listed once
    assert len(out) == len(set(out))
    assert all(p.startswith(folder) and len(p) > len(folder) for p in out)


@examples(200)
@given(responses)
def test_listing_detection_on_any_page(resp: HttpResponse) -> None:
    ran("http: listing detection")
    server = detect_listing(resp, default_catalogue().derived(listing_config))
    assert server is None or isinstance(server, str)
