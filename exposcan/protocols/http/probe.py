"""HTTP(S) probe: PACS web services, DICOMweb, viewers, NAS and box admin
pages, and directory listings that serve images.

What it does on one port, every step bounded (connect/read/total deadlines,
capped bodies, one connection slot of the host per request):

1. ``GET /`` over what the port catalogue guessed (plain or TLS); if that
   fails the way the other transport fails, switch once and record what
   answered, with the certificate's facts (never verified).
2. The catalogue's fingerprints (``probes/fingerprints/http/``): product,
   version, whether credentials are asked, configuration worth recording
   (Orthanc's DICOM AE title becomes a host hint for the DICOM probe); then
   the same under the sub-paths the root page redirects or links to, on this
   host (a PACS behind a reverse proxy at ``/pacs/``: subpaths.py).
3. Unauthenticated PACS data, proved by counts only (Orthanc /statistics,
   a QIDO-RS ``limit=1`` search parsed only to count); the DICOMweb hygiene
   of each PACS found (STOW-RS, CORS, WADO-URI: dicomweb.py), with nothing
   stored or fetched.
4. Directory listings walked for imaging, counts and extensions only.
5. With ``--intrusive`` only: the product's documented default account, one
   read-only GET.

Facts: ``http.fingerprint``, ``http.pacs-data``, ``http.listing``,
``http.cleartext``, ``http.tls``, ``http.default-credentials`` and
``imaging.service`` (through :meth:`ProbeContext.imaging`).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

from exposcan.healthdata import health_signatures_from
from exposcan.imaging import signatures_from
from exposcan.models import ErrorReason, EvidenceValue, Safety
from exposcan.net.netio import ProbeError
from exposcan.probe import ProbeContext, ServiceProbe
from exposcan.proofs import declare_proof, proof_text
from exposcan.protocols.http import dicomweb
from exposcan.protocols.http.client import HttpClient, HttpResponse, Method, TlsMismatch
from exposcan.protocols.http.fingerprints import (
    IMAGING_CATEGORIES,
    Fingerprint,
    ImplausibleCounts,
    count_from,
    detail_value,
    json_document,
    json_object,
    load_fingerprints,
)
from exposcan.protocols.http.listing import (
    ListingConfig,
    WalkResult,
    detect_listing,
    listing_config,
    walk,
)
from exposcan.protocols.http.subpaths import prefixes, same_host_paths
from exposcan.state import ServiceState
from exposcan.walk import folder_scores_from, unfinished, unfinished_detail

if TYPE_CHECKING:
    from exposcan.catalogue import Catalogue

log = logging.getLogger("exposcan.http")

PROOF_LISTING_IMAGING = declare_proof("http.listing-imaging")
PROOF_LISTING_HEALTH = declare_proof("http.listing-health")
PROOF_COUNTS = tuple(
    declare_proof(f"http.count-{k}") for k in ("patients", "studies", "series", "instances")
)
PROOF_QIDO_READABLE = declare_proof("http.qido-study-readable")
PROOF_QIDO_ANSWERED = declare_proof("http.qido-answered")
PROOF_READABLE = declare_proof("http.readable")

#: Hints read from an array answer at most (a list of AE titles).
MAX_LISTED_HINTS = 8
# A fingerprint that keeps timing out is a tarpit or a dying device: stop
# after this many timeouts rather than spend the whole deadline on it.
MAX_TIMEOUTS = 2
DEFAULT_CREDENTIALS = "default-credentials"
# nginx answers plain HTTP sent to its TLS port with this 400 page.
_PLAIN_TO_TLS = "The plain HTTP request was sent to HTTPS port"
# Order in which a matched fingerprint names the service.
_CATEGORY_RANK = {"pacs": 0, "dicomweb": 1, "viewer": 2, "nas": 3, "box-admin": 4, "honeypot": 5}


@dataclass
class ProductMatch:
    fingerprint: Fingerprint
    endpoint: str
    version: str | None = None
    auth_required: bool = False
    login: bool = False
    details: dict[str, EvidenceValue] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    #: Hints an array answer gave, one per element (dcm4chee's AE list).
    more_hints: list[tuple[str, str]] = field(default_factory=list)
    #: The sub-path it answered under ("" at the root).
    prefix: str = ""

    @property
    def product(self) -> str:
        return self.fingerprint.product


class WebSession:
    """One service's requests, de-duplicated, with a timeout budget."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client
        self._cache: dict[tuple[str, str, tuple[tuple[str, str], ...]], HttpResponse | None] = {}

    async def fetch(
        self,
        path: str,
        method: Method = "GET",
        headers: dict[str, str] | None = None,
        page_cap: int | None = None,
    ) -> HttpResponse | None:
        """``page_cap``: a page that may be a listing, read up to that cap and
        cut there (what the capped part holds still counts)."""
        key = (method, path, tuple(sorted((headers or {}).items())))
        if key in self._cache:
            return self._cache[key]
        try:
            resp: HttpResponse | None = await (
                self.client.request(path, method, headers=headers)
                if page_cap is None
                else self.client.request(path, method, cap=page_cap, truncate=True)
            )
        except TlsMismatch:
            resp = None
        except ProbeError as exc:
            if exc.reason is ErrorReason.TIMEOUT and self.client.budget.timeouts >= MAX_TIMEOUTS:
                raise
            resp = None
        self._cache[key] = resp
        return resp

    async def empty_post(self, path: str, headers: dict[str, str]) -> HttpResponse | None:
        """The client's POST with an empty body (dicomweb.py), failures as
        :meth:`fetch` has them; never cached (it is asked once)."""
        try:
            return await self.client.empty_post(path, headers)
        except TlsMismatch:
            return None
        except ProbeError as exc:
            if exc.reason is ErrorReason.TIMEOUT and self.client.budget.timeouts >= MAX_TIMEOUTS:
                raise
            return None

    def remember(self, path: str, resp: HttpResponse) -> None:
        self._cache[("GET", path, ())] = resp


class PrefixedSession(WebSession):
    """The same service seen under a sub-path: a product behind a reverse
    proxy answers its own paths there (``/pacs`` + ``/system``)."""

    def __init__(self, inner: WebSession, prefix: str) -> None:
        super().__init__(inner.client)
        self.inner, self.prefix = inner, prefix

    async def fetch(
        self,
        path: str,
        method: Method = "GET",
        headers: dict[str, str] | None = None,
        page_cap: int | None = None,
    ) -> HttpResponse | None:
        return await self.inner.fetch(self.prefix + path, method, headers, page_cap)


def session_for(session: WebSession, match: ProductMatch) -> WebSession:
    return PrefixedSession(session, match.prefix) if match.prefix else session


class HttpProbe(ServiceProbe):
    name = "http"
    protocols: ClassVar[frozenset[str]] = frozenset({"http"})
    phase = 20
    #: The fingerprints' documented default accounts (catalogue
    #: ``default_credentials``): a login, so intrusive.
    #: The DICOMweb hygiene checks send one POST, with an empty body: safe
    #: (dicomweb.py says why nothing can be stored).
    steps: ClassVar[Mapping[str, Safety]] = {
        DEFAULT_CREDENTIALS: Safety.INTRUSIVE,
        dicomweb.STEP: Safety.SAFE,
    }

    async def probe(self, ctx: ProbeContext, service: ServiceState) -> None:
        # aiohttp's own loggers may quote URLs (listed names): keep them quiet
        # even at -vv.
        logging.getLogger("aiohttp").setLevel(logging.WARNING)
        deadlines = ctx.config.deadlines
        # Leave room to record what was found before the engine's deadline.
        stop_at = time.monotonic() + deadlines.total * 0.8
        # One cap for every page that may be a listing, "/" included: a
        # listing over the cap is cut there and walked, never dropped (issue
        # 15: a 660 KB export listing at "/" ended the probe).
        listing_conf = ctx.catalogue.derived(listing_config)
        fingerprints = ctx.catalogue.derived(load_fingerprints)
        page_cap = listing_conf.limits.page_cap
        async with HttpClient(
            ctx.address, service.port, service.tls, deadlines, ctx.limits
        ) as client:
            root = await first_contact(client, page_cap)
            service.tls = client.tls
            service.protocol, service.confirmed = "http", True
            session = WebSession(client)
            session.remember("/", root)
            self._record_server(ctx, service, root)
            matches = await match_fingerprints(session, fingerprints)
            matches += await self._under_subpaths(
                session, root, matches, fingerprints, listing_conf
            )
            readable = await self._fingerprint_facts(ctx, service, session, matches)
            if ctx.step(dicomweb.STEP):
                await self._dicomweb(ctx, service, session, matches)
            listing = await self._listing(ctx, service, session, root, stop_at)
        if root.truncated and listing is None:
            # Nothing the capped part proved: say that the page was too large.
            ctx.error(
                service.port,
                ErrorReason.TOO_LARGE,
                f"HTTP body at / over {page_cap} bytes (the first {page_cap} read)",
            )
        if ctx.step(DEFAULT_CREDENTIALS):
            await self._default_credentials(ctx, service, matches)
        self._cleartext(ctx, service, matches, readable, listing)
        log.debug(
            "http %s:%d: %d requests, %d products, listing imaging %s",
            ctx.address,
            service.port,
            client.budget.requests,
            len(matches),
            listing.imaging_files if listing else None,
        )

    async def _under_subpaths(
        self,
        session: WebSession,
        root: HttpResponse,
        found: list[ProductMatch],
        catalogue_prints: tuple[Fingerprint, ...],
        listing_conf: ListingConfig,
    ) -> list[ProductMatch]:
        """The catalogue's fingerprints under the sub-paths the root page
        leads to; a product already found at the root is not looked for again."""
        if root.status >= 400 or detect_listing(root, listing_conf) is not None:
            return []  # an error page or a listing's folders are no portal
        fingerprints = [
            fp
            for fp in catalogue_prints
            if not fp.generic and all(m.fingerprint.id != fp.id for m in found)
        ]
        known = [req.path for fp in fingerprints for req in fp.requests]
        paths = [root.url.split("?", 1)[0]] if root.url not in ("", "/") else []
        if "html" in root.header("Content-Type").lower() or root.text.lstrip()[:1] == "<":
            paths += same_host_paths(root.url or "/", root.text)
        out: list[ProductMatch] = []
        for prefix in prefixes(paths, known):
            for match in await match_fingerprints(PrefixedSession(session, prefix), fingerprints):
                match.prefix = prefix
                match.endpoint = prefix + match.endpoint
                out.append(match)
            fingerprints = [fp for fp in fingerprints if all(m.fingerprint is not fp for m in out)]
        return out

    # -- step 1: what answered ------------------------------------------------

    def _record_server(self, ctx: ProbeContext, service: ServiceState, root: HttpResponse) -> None:
        server = root.header("Server")[:64]
        if server:
            service.details["server"] = server
            name, _, version = server.partition("/")
            service.product = service.product or name.strip() or None
            service.version = service.version or version.split(" ", 1)[0] or None
        if root.tls_facts is not None:
            facts = root.tls_facts.details()
            service.details.update(facts)
            ctx.fact("http.tls", service.port, "http", **facts)

    # -- steps 2 and 3: products and their data ----------------------------------

    async def _fingerprint_facts(
        self,
        ctx: ProbeContext,
        service: ServiceState,
        session: WebSession,
        matches: list[ProductMatch],
    ) -> list[ProductMatch]:
        readable: list[ProductMatch] = []
        ranked = sorted(matches, key=lambda m: _CATEGORY_RANK[m.fingerprint.category])
        if ranked:
            # The product a fingerprint names beats the Server header's.
            service.product, service.version = ranked[0].product, ranked[0].version
        for match in ranked:
            fp = match.fingerprint
            data: dict[str, Any] = dict(
                product=fp.product,
                version=match.version,
                category=fp.category,
                endpoint=match.endpoint,
                auth_required=match.auth_required,
                login=match.login,
                tls=service.tls,
                generic=fp.generic,
            )
            ctx.fact("http.fingerprint", service.port, "http", **data)
            service.details.update(match.details)
            for hint, value in [*match.hints.items(), *match.more_hints]:
                ctx.host.add_hint(hint, value)
            if any(h.startswith("dicom.") for h in match.hints) or match.more_hints:
                # The web API that disclosed the DICOM node's AE also names its
                # software, which DICOM itself cannot: Orthanc is built on
                # dcmtk and sends dcmtk's implementation UID (PS3.7 D.3.3.2).
                ctx.host.add_hint("dicom.product", fp.product)
                if match.version:
                    ctx.host.add_hint("dicom.version", match.version)
            if match.auth_required:
                continue
            refused: list[str] = []
            counts = await prove_data(session_for(session, match), fp, refused)
            for why in refused:
                ctx.error(service.port, ErrorReason.PROTOCOL, f"{fp.product} proof refused: {why}")
            if counts is None:
                continue
            readable.append(match)
            proof = _proof_text(ctx.catalogue, counts)
            ctx.fact(
                "http.pacs-data",
                service.port,
                "http",
                readable=True,
                product=fp.product,
                version=match.version,
                endpoint=match.prefix + counts.pop("_endpoint"),
                tls=service.tls,
                **counts,
            )
            ctx.imaging(
                service.port,
                "http",
                "pacs-web",
                product=fp.product,
                version=match.version,
                proof=proof,
            )
        return readable

    async def _dicomweb(
        self,
        ctx: ProbeContext,
        service: ServiceState,
        session: WebSession,
        matches: list[ProductMatch],
    ) -> None:
        """STOW-RS, CORS and WADO-URI of each PACS or DICOMweb root found."""
        targets = [
            dicomweb.Target(m.product, m.version, m.prefix, m.fingerprint)
            for m in matches
            if m.fingerprint.category in dicomweb.CATEGORIES
        ]
        if not targets:
            return

        async def get(path: str, headers: dict[str, str]) -> HttpResponse | None:
            return await session.fetch(path, "GET", headers or None)

        await dicomweb.check(ctx, service, get, session.empty_post, targets)

    # -- step 4: listings -------------------------------------------------------

    async def _listing(
        self,
        ctx: ProbeContext,
        service: ServiceState,
        session: WebSession,
        root: HttpResponse,
        stop_at: float,
    ) -> WalkResult | None:
        config: ListingConfig = ctx.catalogue.derived(listing_config)
        for start in config.start_paths:
            page = (
                root
                if start == "/"
                else await session.fetch(start, page_cap=config.limits.page_cap)
            )
            if page is None or page.status != 200:
                continue
            server = detect_listing(page, config)
            if server is None:
                continue
            result = WalkResult(server)
            remaining = stop_at - time.monotonic()
            try:
                async with asyncio.timeout(max(0.1, remaining)):
                    await walk(
                        session.client.request,
                        start,
                        page,
                        server,
                        config,
                        stop_at,
                        ctx.catalogue.derived(signatures_from),
                        ctx.catalogue.derived(health_signatures_from),
                        result=result,
                        scores=ctx.catalogue.derived(folder_scores_from),
                    )
            except TimeoutError:
                result.cut("time")
            except ProbeError:
                result.cut("error")
            ctx.fact("http.listing", service.port, "http", tls=service.tls, **result.evidence())
            reason = None if result.imaging_files else unfinished(result.cut_reasons)
            if reason is not None:
                ctx.error(
                    service.port,
                    reason,
                    unfinished_detail(
                        "directory listing walk",
                        result.cut_reasons,
                        result.folders_walked,
                        result.files_seen,
                    ),
                )
            if result.imaging_files:
                ctx.imaging(
                    service.port,
                    "http",
                    "listing",
                    product=server,
                    version=None,
                    proof=proof_text(
                        ctx.catalogue, PROOF_LISTING_IMAGING, files=result.imaging_files
                    ),
                )
            if result.health_files:
                ctx.health_data(
                    service.port,
                    "http",
                    "listing",
                    product=server,
                    kinds=sorted(result.health_kinds),
                    proof=proof_text(
                        ctx.catalogue, PROOF_LISTING_HEALTH, files=result.health_files
                    ),
                )
            return result
        return None

    # -- step 5: default account (intrusive) --------------------------------------

    async def _default_credentials(
        self, ctx: ProbeContext, service: ServiceState, matches: list[ProductMatch]
    ) -> None:
        for match in matches:
            if not match.auth_required:
                continue
            for cred in match.fingerprint.default_credentials:
                try:
                    async with HttpClient(
                        ctx.address,
                        service.port,
                        service.tls,
                        ctx.config.deadlines,
                        ctx.limits,
                        basic_auth=(cred.username, cred.password),
                    ) as client:
                        resp = await client.request(match.prefix + cred.path, "GET", follow=False)
                except (ProbeError, TlsMismatch):
                    continue
                if not cred.match.matches(resp):
                    continue
                version = match.version
                for req in match.fingerprint.requests:
                    if req.path == cred.path and req.version is not None:
                        version = req.version.extract(resp) or version
                ctx.fact(
                    "http.default-credentials",
                    service.port,
                    "http",
                    product=match.product,
                    version=version,
                    endpoint=match.prefix + cred.path,
                )
                if version and not service.version:
                    service.version = version
                break

    # -- cleartext ------------------------------------------------------------

    def _cleartext(
        self,
        ctx: ProbeContext,
        service: ServiceState,
        matches: list[ProductMatch],
        readable: list[ProductMatch],
        listing: WalkResult | None,
    ) -> None:
        if service.tls:
            return
        for match in readable:
            ctx.fact(
                "http.cleartext",
                service.port,
                "http",
                product=match.product,
                version=match.version,
                what="imaging data",
            )
        if listing is not None and listing.imaging_files:
            ctx.fact(
                "http.cleartext",
                service.port,
                "http",
                product=listing.server,
                version=None,
                what="imaging files",
            )
        for match in matches:
            if match.fingerprint.category in IMAGING_CATEGORIES:
                what = "login page" if match.login or match.auth_required else "web interface"
                ctx.fact(
                    "http.cleartext",
                    service.port,
                    "http",
                    product=match.product,
                    version=match.version,
                    what=what,
                )


async def first_contact(client: HttpClient, cap: int) -> HttpResponse:
    """``GET /`` over the guessed transport, else over the other one; the
    body cut at ``cap``."""
    first: TlsMismatch | None = None
    try:
        resp = await client.request("/", cap=cap, truncate=True)
        if not (resp.status == 400 and _PLAIN_TO_TLS in resp.text and not client.tls):
            return resp
    except TlsMismatch as exc:
        first = exc
    client.tls = not client.tls
    try:
        return await client.request("/", cap=cap, truncate=True)
    except (TlsMismatch, ProbeError) as exc:
        # A plain HTTP server may leave a TLS ClientHello unanswered (it
        # waits for a request line): a timeout here says nothing of TLS.
        client.tls = not client.tls
        if first is not None and not client.tls and await client.speaks_plain_http():
            # A status line came in clear text: the answer was malformed
            # HTTP (a header line past 8 KiB...), not TLS.
            raise ProbeError(
                ErrorReason.PROTOCOL,
                f"malformed HTTP answer ({first}): a status line, then headers "
                "past the 8 KiB line cap or unparsable",
            ) from None
        if isinstance(exc, ProbeError):
            raise
        raise ProbeError(
            ErrorReason.PROTOCOL, f"no HTTP answer over plain or TLS ({exc})"
        ) from None


async def echoes_paths(session: WebSession) -> bool:
    """A random path first: a server answering it 200 with the path in the
    page (a "soft 404") would make any fingerprint whose marker is in its own
    path match (dcm4chee found on every such server)."""
    token = secrets.token_hex(8)
    resp = await session.fetch(f"/{token}/exposcan-{token}.html")
    return resp is not None and resp.status == 200 and token in resp.text


def echoed_pieces(path: str) -> tuple[str, ...]:
    """What a soft 404 may copy of ``path``: itself, without its query,
    decoded, HTML-escaped, and each of its segments."""
    bare = path.split("?", 1)[0]
    pieces = {path, bare, unquote(path), unquote(bare), html.escape(path), html.escape(bare)}
    pieces.update(seg for seg in re.split(r"[/?&=]", unquote(path)) if len(seg) >= 3)
    # Longest first: a segment removed first would break the whole path.
    return tuple(sorted(pieces, key=len, reverse=True))


async def match_fingerprints(
    session: WebSession, fingerprints: tuple[Fingerprint, ...] | list[Fingerprint]
) -> list[ProductMatch]:
    matches: list[ProductMatch] = []
    soft_404 = await echoes_paths(session)
    for fp in fingerprints:
        if fp.generic and any(not m.fingerprint.generic for m in matches):
            continue
        found: ProductMatch | None = None
        for req in fp.requests:
            resp = await session.fetch(req.path, req.method, req.headers or None)
            echoed = echoed_pieces(req.path) if soft_404 and req.path != "/" else ()
            if resp is None or not req.match.matches(resp, echoed):
                continue
            if found is None:
                found = ProductMatch(fp, endpoint=req.path.split("?", 1)[0])
            found.auth_required |= req.auth
            found.login |= req.login
            if req.version is not None and found.version is None:
                found.version = req.version.extract(resp)
            doc = json_object(resp) if (req.details or req.hints) else None
            if doc is not None:
                for src, name in req.details.items():
                    value = detail_value(doc.get(src))
                    if value is not None:
                        found.details[name] = value
                for hint, src in req.hints.items():
                    value = detail_value(doc.get(src))
                    if value is not None:
                        found.hints[hint] = str(value)
            elif req.hints:
                # An array of objects (dcm4chee's /dcm4chee-arc/aets lists its
                # AEs): a hint from each of the first few.
                listed = json_document(resp)
                for item in listed[:MAX_LISTED_HINTS] if isinstance(listed, list) else []:
                    if not isinstance(item, dict):
                        continue
                    for hint, src in req.hints.items():
                        value = detail_value(item.get(src))
                        if value is not None:
                            found.more_hints.append((hint, str(value)))
        if found is not None:
            matches.append(found)
    return matches


async def prove_data(
    session: WebSession, fp: Fingerprint, refused: list[str] | None = None
) -> dict[str, Any] | None:
    """Counts from the fingerprint's proofs, or None if nothing was readable.
    Proofs whose numbers no archive can hold are refused (named in
    ``refused``, without their numbers)."""
    out: dict[str, Any] = {}
    for proof in fp.proofs:
        resp = await session.fetch(proof.path, "GET", proof.headers or None)
        if resp is None:
            continue
        try:
            counts = count_from(proof.counts, resp)
        except ImplausibleCounts as exc:
            if refused is not None:
                refused.append(f"{proof.path.split('?', 1)[0]}: {exc}")
            continue
        if counts is None:
            continue
        out.setdefault("_endpoint", proof.path.split("?", 1)[0])
        for key, value in counts.items():
            out.setdefault(key, value)
    return out or None


def _proof_text(catalogue: Catalogue, counts: dict[str, Any]) -> str:
    """The counts a PACS web API gave without credentials, as a proof of
    parts (each one of the catalogue's proof codes)."""
    parts = [
        proof_text(catalogue, f"http.count-{k}", count=counts[k])
        for k in ("patients", "studies", "series", "instances")
        if k in counts
    ]
    if counts.get("studies_readable"):
        parts.append(proof_text(catalogue, PROOF_QIDO_READABLE))
    elif "studies_readable" in counts:
        parts.append(proof_text(catalogue, PROOF_QIDO_ANSWERED))
    return ", ".join(parts) or proof_text(catalogue, PROOF_READABLE)
