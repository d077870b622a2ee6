"""Directory listings that serve medical images: detection and a bounded walk.

A web server's automatic index (nginx autoindex, Apache mod_autoindex, IIS
directory browsing, lighttpd dir-listing, Python's ``http.server``) over an
export folder hands every image to anyone who asks.  The walk is bounded in
depth, folders, entries, sampled files and time; imaging is recognised by
extension, by DICOMDIR, or by the DICM magic of the first 132 bytes
(PS3.10 §7.1), fetched with ``Range: bytes=0-131`` and capped at 132 bytes even
when the server ignores the range.

Names seen in a listing are personal data (folders are often named after the
patient): they stay in this module's local variables and only counts and
extensions leave it.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from pydantic import Field
from yarl import URL

from exposcan.catalogue import Catalogue, CatalogueModel, Regex, catalogue_kind
from exposcan.healthdata import HealthSignatures
from exposcan.imaging import (
    ImagingSignatures,
    is_dicomdir,
    magic_worth_testing,
)
from exposcan.net.netio import ProbeError
from exposcan.protocols.http.response import HttpResponse, TlsMismatch


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
    folders: int = 40
    entries: int = 3000
    samples: int = 24
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
    folders: int = Field(default=WalkLimits.folders, ge=1, le=10_000)
    entries: int = Field(default=WalkLimits.entries, ge=1, le=1_000_000)
    samples: int = Field(default=WalkLimits.samples, ge=0, le=10_000)
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
) -> WalkResult:
    """Walk the listing from ``start`` (whose page is ``first_page``) breadth
    first, then sample extension-less files for the DICM magic.

    ``result`` is filled as the walk goes, so a caller that cancels the walk
    at its deadline still has the counts so far."""
    sigs = signatures
    head_size = max(sigs.read_size, health.read_size)
    limits = config.limits
    stop_at = min(deadline, time.monotonic() + limits.seconds)
    result = result if result is not None else WalkResult(server)
    queue: deque[tuple[str, int, HttpResponse | None]] = deque([(start, 0, first_page)])
    seen: set[str] = {start}
    to_sample: list[str] = []
    confirm: list[str] = []  # files with an imaging extension, to confirm a few
    # Health-data candidates (.hl7, .txt...): their own budget, so that a
    # folder of text files never starves the DICM test of extension-less ones.
    health_only: list[str] = []
    by_ext: dict[str, int] = {}
    entries = 0
    while queue:
        if time.monotonic() >= stop_at:
            result.cut("time")
            break
        if result.folders_walked >= limits.folders:
            result.cut("folders")
            break
        folder, depth, page = queue.popleft()
        if page is None:
            try:
                page = await fetch(folder, cap=limits.page_cap, truncate=True)
            except (ProbeError, TlsMismatch, ValueError):  # never let a listed name escape
                result.cut("error")
                continue
        if page.truncated:
            result.cut("page-size")
        if detect_listing(page, config) is None:
            continue
        result.folders_walked += 1
        for path in children(folder, page.text):
            entries += 1
            if entries > limits.entries:
                result.cut("entries")
                break
            if path.endswith("/"):
                if path in seen:
                    continue
                if depth + 1 > limits.depth:
                    result.cut("depth")
                    continue
                seen.add(path)
                queue.append((path, depth + 1, None))
                continue
            result.files_seen += 1
            ext = sigs.extension_of(path)
            if ext is not None and is_dicomdir(path):
                result.dicomdir += 1
            elif ext is not None:
                result.by_extension += 1
                result.extensions.add(ext)
                by_ext[ext] = by_ext.get(ext, 0) + 1
                confirm.append(path)
            elif magic_worth_testing(path, sigs):
                to_sample.append(path)
            elif health.worth_reading(path):
                health_only.append(path)
        if entries > limits.entries:
            break
    # Extension-less files need the magic; a few named ones are confirmed too,
    # each extension's first file before any second one (a .dic dictionary
    # must not hide behind a .dcm).
    budget = limits.samples
    firsts: dict[str, str] = {}
    for path in confirm:
        firsts.setdefault(sigs.extension_of(path) or "", path)
    ordered = list(firsts.values()) + [p for p in confirm if p not in firsts.values()]
    confirm_budget = max(0, min(max(4, len(firsts)), budget - len(to_sample)))
    sample = to_sample[:budget] + ordered[:confirm_budget] + health_only[:budget]
    verdicts: dict[str, list[bool]] = {}
    if len(to_sample) > budget or len(health_only) > budget:
        result.cut("samples")
    unknown = set(to_sample)
    named = set(confirm)
    for path in sample:
        if time.monotonic() >= stop_at:
            result.cut("time")
            break
        try:
            head = await fetch(
                path,
                cap=head_size,
                truncate=True,
                headers={"Range": f"bytes=0-{head_size - 1}"},
            )
        except (ProbeError, TlsMismatch, ValueError):  # never let a listed name escape
            result.cut("error")
            continue
        if head.status not in (200, 206):
            continue
        result.files_sampled += 1
        found = health.classify(head.body[:head_size])
        if found is not None:
            result.health_files += 1
            result.health_kinds[found] = result.health_kinds.get(found, 0) + 1
        magic = sigs.has_magic(head.body[: sigs.read_size])
        if magic:
            result.with_magic += 1
            if path in unknown:
                result.without_extension += 1
        elif path in named and not is_dicomdir(path):
            # The first bytes were read and are not DICOM: the name lied.
            result.refuted += 1
        if path in named:
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
