"""DICOMweb hygiene of a PACS web service, learned without storing or
fetching anything (PS3.18):

- STOW-RS (PS3.18 §10.5) taking requests without credentials: one POST to
  ``{root}/studies`` with an empty body (Content-Length: 0) of a media type
  no STOW-RS server stores (``application/x-exposcan-empty``). Zero bytes
  hold no instance, so nothing can be stored whatever the server does. A
  server that asks for credentials answers 401 or 403 before it reads the
  request; one that takes anyone's POSTs answers the request itself: 415
  (§10.5.2: unsupported media type), 400 or 409, or 2xx (nothing stored).
  404, 405 or 501: no STOW-RS there. Why not OPTIONS: Orthanc 1.10.1 (and
  many servers) answer it 404 whatever the path serves.
- CORS (Fetch standard, CORS protocol): a GET of the QIDO-RS search the
  fingerprints already make, with ``Origin: https://evil.example``; an
  ``Access-Control-Allow-Origin`` echoing that origin, or ``*``, together
  with ``Access-Control-Allow-Credentials: true`` lets any web page a user
  of the practice opens read the PACS with that user's session. Only the
  headers are read; the page's body is neither parsed nor kept.
- WADO-URI (PS3.18 §9) answering without credentials: ``/wado?requestType=
  WADO`` with no UID, so it cannot name an object: 400 (or any answer that
  is no 401/403) says the service takes anyone's requests; 401 or 403 says
  it asks for credentials. Orthanc 1.10.1 answers such a request 404, as it
  answers an unknown path: not told apart, so no fact (its open API is
  already ``http.pacs-data``).

Each "open" answer is checked against the same request on a random sibling
path: a server answering both alike (a soft 404, a catch-all) proves
nothing about the endpoint. Runs on services a fingerprint names as a PACS
or a DICOMweb root, under the prefix it was found at.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from exposcan.probe import ProbeContext
from exposcan.protocols.http.client import HttpResponse
from exposcan.protocols.http.fingerprints import Fingerprint
from exposcan.state import ServiceState

#: The step's name (declared safe by the HTTP probe: its POST is empty).
STEP = "dicomweb-hygiene"
CATEGORIES = frozenset({"pacs", "dicomweb"})
DEFAULT_ROOT = "/dicom-web"
EVIL_ORIGIN = "https://evil.example"
#: No STOW-RS server stores this media type (PS3.18 §10.5: multipart/related
#: or application/dicom+json only); the body is empty besides.
EMPTY_MEDIA_TYPE = "application/x-exposcan-empty"
CREDENTIALS = frozenset({401, 403, 407})
#: Answers of an endpoint that took the request but cannot name an object
#: or store anything (no UID, no body).
STOW_TAKEN = frozenset({400, 409, 415})
WADO_TAKEN = frozenset({400})
QIDO_HEADERS = {"Accept": "application/dicom+json"}

Fetch = Callable[[str, dict[str, str]], Awaitable[HttpResponse | None]]


@dataclass(frozen=True)
class Target:
    """One PACS web service seen by a fingerprint, under its prefix."""

    product: str
    version: str | None
    prefix: str
    fingerprint: Fingerprint

    def dicomweb_roots(self) -> list[str]:
        """The DICOMweb roots its fingerprint's QIDO proofs name, else the
        common ``/dicom-web``."""
        roots = [
            proof.path.split("?", 1)[0].removesuffix("/studies")
            for proof in self.fingerprint.proofs
            if proof.counts.qido == "studies"
        ]
        return [self.prefix + root for root in dict.fromkeys(roots or [DEFAULT_ROOT])]


def sibling(path: str) -> str:
    """The same request on a path no server serves: its last segment
    replaced by a random one, the query kept."""
    bare, sep, query = path.partition("?")
    parent = bare.rsplit("/", 1)[0]
    return f"{parent}/exposcan-{secrets.token_hex(6)}{sep}{query}"


def taken(status: int, accepted: frozenset[int]) -> bool | None:
    """True: taken without credentials; False: credentials asked; None:
    not an answer of this endpoint."""
    if status in CREDENTIALS:
        return False
    if status in accepted or 200 <= status < 300:
        return True
    return None


async def _guarded(
    fetch: Fetch, path: str, headers: dict[str, str], accepted: frozenset[int]
) -> HttpResponse | None:
    """The answer at ``path``, or None when a random sibling answers alike."""
    resp = await fetch(path, headers)
    if resp is None or taken(resp.status, accepted) is not True:
        return resp
    other = await fetch(sibling(path), headers)
    if other is not None and other.status == resp.status:
        return None
    return resp


def cors_allowed(resp: HttpResponse) -> str | None:
    """How the answer allows our origin: "echoed", "*" or None."""
    allow = resp.header("Access-Control-Allow-Origin").strip()
    if allow == EVIL_ORIGIN:
        return "echoed"
    if allow == "*":
        return "*"
    return None


async def check(
    ctx: ProbeContext,
    service: ServiceState,
    get: Fetch,
    post: Fetch,
    targets: list[Target],
) -> None:
    """The three checks on each target; facts ``http.stow``, ``http.cors``
    and ``http.wado-uri`` when the endpoint answered as such."""
    done: set[str] = set()
    for target in targets:
        product = {"product": target.product, "version": target.version, "tls": service.tls}
        for root in target.dicomweb_roots():
            if root in done:
                continue
            done.add(root)
            stow = await _guarded(
                post, root + "/studies", {"Content-Type": EMPTY_MEDIA_TYPE}, STOW_TAKEN
            )
            verdict = taken(stow.status, STOW_TAKEN) if stow is not None else None
            if stow is not None and verdict is not None:
                ctx.fact(
                    "http.stow",
                    service.port,
                    "http",
                    **product,
                    endpoint=root + "/studies",
                    status=stow.status,
                    open=verdict,
                )
            qido = root + "/studies?limit=1&includefield=StudyInstanceUID"
            cors = await get(qido, {**QIDO_HEADERS, "Origin": EVIL_ORIGIN})
            if cors is not None:
                allowed = cors_allowed(cors)
                credentials = (
                    cors.header("Access-Control-Allow-Credentials").strip().lower() == "true"
                )
                if allowed is not None:
                    ctx.fact(
                        "http.cors",
                        service.port,
                        "http",
                        **product,
                        endpoint=root + "/studies",
                        origin_sent=EVIL_ORIGIN,
                        allow_origin=allowed,
                        allow_credentials=credentials,
                        status=cors.status,
                    )
        wado_path = target.prefix + "/wado?requestType=WADO"
        if wado_path in done:
            continue
        done.add(wado_path)
        wado = await _guarded(get, wado_path, {}, WADO_TAKEN)
        verdict = taken(wado.status, WADO_TAKEN) if wado is not None else None
        if wado is not None and verdict is not None:
            ctx.fact(
                "http.wado-uri",
                service.port,
                "http",
                **product,
                endpoint=target.prefix + "/wado",
                status=wado.status,
                open=verdict,
            )
