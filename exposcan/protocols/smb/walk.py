"""A bounded walk of one share, counting imaging files and nothing else.

The walk sees names (it must, to descend) but keeps none: it returns counts.
Bounds: depth, entries listed, magic samples (132-byte reads of files without
an extension) and a monotonic deadline, plus a stop flag the async side sets
when its task is cancelled (a thread cannot be cancelled).  The transport is
a :class:`ShareReader`, so the walk is tested without a server.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from exposcan.healthdata import HealthSignatures
from exposcan.imaging import ImagingSignatures, has_no_extension


@dataclass(frozen=True)
class Entry:
    name: str
    is_folder: bool


class ShareAccessDenied(Exception):
    """The server refused one folder or file: the walk goes on without it."""


class ShareSessionLost(Exception):
    """No answer, or the session broke: the walk stops where it is."""


class ShareReader(Protocol):
    def list_folder(self, path: str, max_entries: int) -> tuple[list[Entry], bool]:
        """Entries of ``path`` ("" = the share root) without "." and "..",
        at most ``max_entries``; the flag says the listing was cut."""
        ...

    def read_head(self, path: str, size: int) -> bytes:
        """At most ``size`` leading bytes of the file, opened read-only."""
        ...


@dataclass(frozen=True)
class WalkLimits:
    max_depth: int = 8
    max_entries: int = 5000
    max_samples: int = 64
    deadline: float = float("inf")  # time.monotonic() value


@dataclass
class WalkResult:
    folders_seen: int = 0
    files_seen: int = 0
    imaging_files: int = 0
    imaging_folders: int = 0
    dicomdir: int = 0
    by_name: int = 0
    by_magic: int = 0
    sampled: int = 0
    unreadable: int = 0
    #: Health data that is not an image (exposcan/healthdata.py): files, and
    #: files per signature id.
    health_files: int = 0
    health_kinds: dict[str, int] = field(default_factory=dict)
    #: Reads of files with an extension, for health data only: a budget of
    #: their own, so that text files never starve the DICM test.
    health_sampled: int = 0
    cut_by: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return bool(self.cut_by)

    def cut(self, reason: str) -> None:
        if reason not in self.cut_by:
            self.cut_by.append(reason)


def join(parent: str, name: str) -> str:
    # [MS-SMB2] §2.2.13: paths are relative to the share, "\" separated.
    return f"{parent}\\{name}" if parent else name


def walk_share(
    reader: ShareReader,
    signatures: ImagingSignatures,
    limits: WalkLimits,
    health: HealthSignatures,
    stop: threading.Event | None = None,
) -> WalkResult:
    """Breadth first, so that a deep tree still shows its top levels."""
    result = WalkResult()
    queue: deque[tuple[str, int]] = deque([("", 0)])
    budget = limits.max_entries
    while queue:
        if stop is not None and stop.is_set():
            result.cut("cancelled")
            break
        if time.monotonic() >= limits.deadline:
            result.cut("time")
            break
        if budget <= 0:
            result.cut("entries")
            break
        path, depth = queue.popleft()
        try:
            entries, partial = reader.list_folder(path, budget)
        except ShareAccessDenied:
            result.unreadable += 1
            continue
        except ShareSessionLost:
            result.cut("session")
            break
        if partial:
            result.cut("entries")
        budget -= len(entries)
        imaging_here = 0
        for entry in entries:
            if entry.is_folder:
                result.folders_seen += 1
                if depth + 1 > limits.max_depth:
                    result.cut("depth")
                else:
                    queue.append((join(path, entry.name), depth + 1))
                continue
            result.files_seen += 1
            verdict = _classify(
                reader, join(path, entry.name), entry.name, signatures, health, limits, result, stop
            )
            if verdict is None:  # the session broke while sampling
                queue.clear()
                break
            imaging_here += verdict
        if imaging_here:
            result.imaging_folders += 1
            result.imaging_files += imaging_here
    return result


def _classify(
    reader: ShareReader,
    path: str,
    name: str,
    signatures: ImagingSignatures,
    health: HealthSignatures,
    limits: WalkLimits,
    result: WalkResult,
    stop: threading.Event | None,
) -> int | None:
    """1 if imaging, 0 if not, None if the session was lost."""
    kind = signatures.extension_of(name)
    if kind is not None:
        result.by_name += 1
        if kind == "DICOMDIR":
            result.dicomdir += 1
        return 1
    bare = has_no_extension(name)
    if not (bare or health.worth_reading(name)):
        return 0
    # Exports often carry no extension (IM000001): PS3.10 §7.1 says the
    # 128-byte preamble then "DICM", so 132 bytes decide; laboratory results
    # (HPRIM, HL7) are told by their first records, within the health read.
    if (result.sampled if bare else result.health_sampled) >= limits.max_samples:
        result.cut("samples")
        return 0
    if (stop is not None and stop.is_set()) or time.monotonic() >= limits.deadline:
        result.cut("time")
        return 0
    if bare:
        result.sampled += 1
    else:
        result.health_sampled += 1
    try:
        head = reader.read_head(path, max(signatures.read_size, health.read_size))
    except ShareAccessDenied:
        result.unreadable += 1
        return 0
    except ShareSessionLost:
        result.cut("session")
        return None
    found = health.classify(head)
    if found is not None:
        result.health_files += 1
        result.health_kinds[found] = result.health_kinds.get(found, 0) + 1
    if signatures.has_magic(head) and has_no_extension(name):
        result.by_magic += 1
        return 1
    return 0
