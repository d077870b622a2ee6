"""Directory listings that serve medical images: detection and a bounded walk.

A web server's automatic index (nginx autoindex, Apache mod_autoindex, IIS
directory browsing, lighttpd dir-listing, Python's ``http.server``) over an
export folder hands every image to anyone who asks.  The walk is the one
best-first walk (:mod:`exposcan.walk`) over the listing's pages, bounded in
requests, bytes, seconds and depth; imaging is recognised by extension, by
DICOMDIR, or by the DICM magic of the first 132 bytes (PS3.10 §7.1), fetched
with ``Range`` and capped even when the server ignores the range.  A few
files of each imaging extension are read too: a web server's ``.dic`` is
more often a spelling dictionary than DICOM.

Names seen in a listing are personal data (folders are often named after the
patient): they stay in this module's local variables and only counts and
extensions leave it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

from pydantic import Field
from yarl import URL

from exposcan.catalogue import Catalogue, CatalogueModel, Regex, catalogue_kind
from exposcan.healthdata import HealthSignatures
from exposcan.imaging import ImagingSignatures
from exposcan.net.netio import ProbeError
from exposcan.protocols.http.response import HttpResponse, TlsMismatch
from exposcan.walk import (
    AccessDenied,
    Entry,
    FolderScores,
    Listing,
    WalkCounts,
    Walker,
    walk_async,
)
from exposcan.walk import WalkLimits as TreeLimits


@dataclass(frozen=True)
class ListingSignature:
    server: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, resp: HttpResponse) -> bool:
        if resp.status != 200:
            return False
        for name, pattern in self.headers.items():
            if re.search(pattern, resp.header(name)) is None:
                return False
        return re.search(self.body, resp.text) is not None


@dataclass(frozen=True)
class WalkLimits:
    depth: int = 4
    requests: int = 200
    bytes: int = 16 * 1024 * 1024
    #: Files of an imaging extension read to confirm it, at most.
    confirm: int = 8
    seconds: float = 15.0
    page_cap: int = 1024 * 1024


@dataclass(frozen=True)
class ListingConfig:
    signatures: tuple[ListingSignature, ...]
    start_paths: tuple[str, ...]
    limits: WalkLimits


class ListingServer(CatalogueModel):
    server: str
    body: Regex
    headers: dict[str, Regex] = Field(default_factory=dict)


class ListingLimits(CatalogueModel):
    """Bounds of the walk (:class:`WalkLimits`); unset ones keep its default."""

    depth: int = Field(default=WalkLimits.depth, ge=0, le=32)
    requests: int = Field(default=WalkLimits.requests, ge=1, le=100_000)
    bytes: int = Field(default=WalkLimits.bytes, ge=1024, le=1024 * 1024 * 1024)
    confirm: int = Field(default=WalkLimits.confirm, ge=0, le=1000)
    seconds: float = Field(default=WalkLimits.seconds, gt=0, le=3600)
    page_cap: int = Field(default=WalkLimits.page_cap, ge=1024, le=64 * 1024 * 1024)


@catalogue_kind("http-listing")
class ListingFile(CatalogueModel):
    """``probes/http/listings.yaml``: automatic indexes and the walk's bounds."""

    start_paths: list[str] = Field(default_factory=list)
    limits: ListingLimits | None = None
    servers: list[ListingServer] = Field(default_factory=list)


def listing_config(catalogue: Catalogue) -> ListingConfig:
    signatures: list[ListingSignature] = []
    starts: list[str] = []
    limits = WalkLimits()
    for entry in catalogue.documents(ListingFile):
        signatures += [ListingSignature(s.server, s.body, dict(s.headers)) for s in entry.servers]
        starts += entry.start_paths
        if entry.limits is not None:
            limits = WalkLimits(**entry.limits.model_dump())
    return ListingConfig(tuple(signatures), tuple(dict.fromkeys(starts or ["/"])), limits)


def detect_listing(resp: HttpResponse, config: ListingConfig) -> str | None:
    """The server family whose automatic index this page is, else None."""
    for sig in config.signatures:
        if sig.matches(resp):
            return sig.server
    return None


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() != "a":
            return
        for name, value in attrs:
            if name.lower() == "href" and value:
                self.hrefs.append(value.strip())


def children(folder: str, html: str) -> list[str]:
    """Paths (percent-encoded, as served) listed under ``folder``: folders end
    with ``/``.  Parent links, sort links (``?C=N;O=D``) and anything leaving
    the folder or the host are dropped."""
    parser = _Links()
    try:
        parser.feed(html)
        parser.close()
    except (ValueError, AssertionError):
        pass
    base = URL("http://h" + folder)
    out: list[str] = []
    for href in parser.hrefs:
        if not href or href[0] in "?#" or ":" in href.split("/", 1)[0]:
            continue  # query, fragment, or a scheme (http:, mailto:, javascript:)
        if href.startswith("//"):
            continue  # network-path reference: another host
        try:
            target = base.join(URL(href))
        except ValueError:
            continue
        path = target.raw_path
        if target.host != "h" or not path.startswith(folder) or len(path) <= len(folder):
            continue
        out.append(path)
    return list(dict.fromkeys(out))


@dataclass
class WalkResult:
    server: str
    folders_walked: int = 0
    files_seen: int = 0
    by_extension: int = 0
    dicomdir: int = 0
    files_sampled: int = 0
    with_magic: int = 0
    without_extension: int = 0  # imaging found by magic alone
    #: Health data that is not an image (exposcan/healthdata.py).
    health_files: int = 0
    health_kinds: dict[str, int] = field(default_factory=dict)
    extensions: set[str] = field(default_factory=set)
    #: Files with an imaging extension whose first bytes were read and hold
    #: no DICM magic (hunspell's .dic dictionaries...): not imaging.
    refuted: int = 0
    #: Extensions every sampled file of which was refuted: their unsampled
    #: files are not counted either.
    extensions_refuted: set[str] = field(default_factory=set)
    cut_short: bool = False
    cut_reasons: set[str] = field(default_factory=set)

    @property
    def imaging_files(self) -> int:
        return self.by_extension + self.dicomdir + self.without_extension

    def evidence(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "imaging_files": self.imaging_files,
            "folders_walked": self.folders_walked,
            "files_seen": self.files_seen,
            "files_sampled": self.files_sampled,
            "with_magic": self.with_magic,
            "without_extension": self.without_extension,
            "dicomdir": self.dicomdir,
            "extensions": sorted(self.extensions),
            "not_imaging_by_content": self.refuted,
            "extensions_refuted": sorted(self.extensions_refuted),
            "health_data_files": self.health_files,
            "health_data_kinds": sorted(self.health_kinds),
            "cut_short": self.cut_short,
            "cut_reasons": sorted(self.cut_reasons),
        }

    def cut(self, reason: str) -> None:
        self.cut_short = True
        self.cut_reasons.add(reason)


Fetch = Callable[..., Awaitable[HttpResponse]]
_FETCH_ERRORS = (ProbeError, TlsMismatch, ValueError)  # never let a listed name escape


class _Site:
    """The listing's pages, as the walk reads them. Links with an imaging
    extension are kept here (this module's own state, never reported) for
    the confirmation reads."""

    def __init__(
        self,
        fetch: Fetch,
        start: str,
        first_page: HttpResponse,
        config: ListingConfig,
        signatures: ImagingSignatures,
        result: WalkResult,
    ) -> None:
        self.fetch = fetch
        self.first: tuple[str, HttpResponse] | None = (start, first_page)
        self.config = config
        self.signatures = signatures
        self.result = result
        self.seen: set[str] = {start}
        self.named: list[str] = []  # links with an imaging extension (not DICOMDIR)

    def join(self, folder: str, name: str) -> str:
        return folder + name  # unused: every entry carries its link

    async def list_folder(self, path: str, max_entries: int) -> Listing:
        if self.first is not None and self.first[0] == path:
            page = self.first[1]
            self.first = None
        else:
            try:
                page = await self.fetch(path, cap=self.config.limits.page_cap, truncate=True)
            except _FETCH_ERRORS:
                self.result.cut("error")
                raise AccessDenied("page") from None
        if page.truncated:
            self.result.cut("page-size")
        if detect_listing(page, self.config) is None:
            raise AccessDenied("not a listing")
        entries: list[Entry] = []
        for link in children(path, page.text):
            folder = link.endswith("/")
            if folder and link in self.seen:
                continue
            if folder:
                self.seen.add(link)
            name = unquote(link.rstrip("/").rsplit("/", 1)[-1])
            entries.append(Entry(name, folder, link))
        kept = entries[:max_entries]
        for entry in kept:
            kind = None if entry.is_folder else self.signatures.extension_of(entry.name)
            if kind is not None and kind != "DICOMDIR":
                self.named.append(entry.ref)
                self.result.extensions.add(kind)
        return Listing(kept, len(entries) > max_entries, len(page.body))

    async def read_head(self, path: str, size: int) -> bytes:
        try:
            head = await self.fetch(
                path, cap=size, truncate=True, headers={"Range": f"bytes=0-{size - 1}"}
            )
        except _FETCH_ERRORS:
            self.result.cut("error")
            raise AccessDenied("file") from None
        if head.status not in (200, 206):
            raise AccessDenied("file")
        self.result.files_sampled += 1
        return head.body[:size]


async def walk(
    fetch: Fetch,
    start: str,
    first_page: HttpResponse,
    server: str,
    config: ListingConfig,
    deadline: float,
    signatures: ImagingSignatures,
    health: HealthSignatures,
    result: WalkResult | None = None,
    scores: FolderScores | None = None,
) -> WalkResult:
    """Walk the listing from ``start`` (whose page is ``first_page``) best
    first, then read a few files of each imaging extension to confirm it.

    ``result`` is filled as the walk goes, so a caller that cancels the walk
    at its deadline still has the counts so far."""
    sigs = signatures
    limits = config.limits
    stop_at = min(deadline, time.monotonic() + limits.seconds)
    result = result if result is not None else WalkResult(server)
    site = _Site(fetch, start, first_page, config, sigs, result)
    counts = WalkCounts()
    tree_limits = TreeLimits(
        requests=limits.requests,
        bytes=limits.bytes,
        seconds=limits.seconds,
        depth=limits.depth,
        deadline=stop_at,
    )
    walker = Walker(start, site.join, sigs, health, scores or FolderScores(), tree_limits, counts)
    try:
        await walk_async(site, walker)
    finally:
        _take(result, counts)
    # A few files of each imaging extension, each extension's first before
    # any second one (a .dic dictionary must not hide behind a .dcm).
    by_ext: dict[str, int] = {}
    firsts: dict[str, str] = {}
    for path in site.named:
        ext = sigs.extension_of(path) or ""
        by_ext[ext] = by_ext.get(ext, 0) + 1
        firsts.setdefault(ext, path)
    ordered = list(firsts.values()) + [p for p in site.named if p not in firsts.values()]
    head_size = sigs.read_size
    verdicts: dict[str, list[bool]] = {}
    for path in ordered[: max(limits.confirm, len(firsts))]:
        if time.monotonic() >= stop_at or counts.requests >= limits.requests:
            result.cut("time" if time.monotonic() >= stop_at else "requests")
            break
        counts.requests += 1
        try:
            head = await site.read_head(path, head_size)
        except AccessDenied:
            continue
        magic = sigs.has_magic(head)
        result.with_magic += magic
        if not magic:
            # The first bytes were read and are not DICOM: the name lied.
            result.refuted += 1
        verdicts.setdefault(sigs.extension_of(path) or "", []).append(magic)
    for ext, seen_magic in verdicts.items():
        if any(seen_magic):
            result.by_extension -= seen_magic.count(False)
        else:
            # Every sampled file of this extension is something else: the
            # unsampled ones are not counted on their name either.
            result.by_extension -= by_ext.get(ext, 0)
            result.extensions.discard(ext)
            result.extensions_refuted.add(ext)
    return result


def _take(result: WalkResult, counts: WalkCounts) -> None:
    """The walk's counts under the listing fact's names."""
    result.folders_walked = counts.folders_listed
    result.files_seen = counts.files_seen
    result.dicomdir = counts.dicomdir
    result.by_extension = counts.by_name - counts.dicomdir
    result.without_extension = counts.by_magic
    result.with_magic += counts.by_magic
    result.health_files = counts.health_files
    result.health_kinds = dict(counts.health_kinds)
    for reason in counts.cut_by:
        result.cut(reason)
