"""One bounded, best-first walk of a file tree, for every protocol that lists
folders: SMB shares, FTP zones, HTTP directory listings.

The walk sees names (it must, to descend and to classify) but keeps none:
it returns :class:`WalkCounts`.  It does no I/O itself: :meth:`Walker.steps`
is a generator that yields what it wants done (:class:`ListFolder`,
:class:`ReadHead`) and is sent the answer, so the same walk runs in a thread
over a blocking client (:func:`walk_blocking`, SMB) and in the event loop
(:func:`walk_async`, FTP and HTTP).

Order: a heap of folders by score (:mod:`exposcan.walk.scores`): the
catalogue's folder names, what the parent was seen to hold, a share of the
parent's own score, minus depth and minus the barren siblings already
listed. A share whose images sit in the viewer's database folder after a few
hundred folders of reports is read there first, not after the reports.

Per folder, a few files that need their first bytes (no extension: DICM
magic; health-data candidates) are read at once; the rest wait for a last
pass that spends what is left of the budget once every folder is listed.

Bounds: requests (one folder listing or one file head each), bytes received,
seconds (and the caller's deadline), depth, entries per folder listing, the
size of the frontier.  Whichever stops the walk is named in ``cut_by``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Protocol

from exposcan.healthdata import HealthSignatures
from exposcan.imaging import ImagingSignatures, magic_worth_testing
from exposcan.walk.counts import WalkCounts
from exposcan.walk.frontier import Frontier, Group
from exposcan.walk.scores import FolderScores

#: Counts only: a name never reaches a log line.
log = logging.getLogger("exposcan.walk")


@dataclass(frozen=True)
class Entry:
    name: str
    is_folder: bool
    #: The reader's own path for it, when joining names cannot say it (an
    #: HTTP link); empty: the walk joins the folder's path and the name.
    ref: str = ""


@dataclass(frozen=True)
class Listing:
    entries: Sequence[Entry]
    #: The reader stopped at the walk's per-folder cap.
    partial: bool = False
    #: Bytes received for this listing (counted against the bytes bound).
    size: int = 0


class AccessDenied(Exception):
    """The server refused one folder or file: the walk goes on without it."""


class SessionLost(Exception):
    """No answer, or the session broke: the walk stops where it is."""


class TreeReader(Protocol):
    """A blocking reader of one tree (an SMB share)."""

    def join(self, folder: str, name: str) -> str: ...

    def list_folder(self, path: str, max_entries: int) -> Listing:
        """Entries of ``path`` without "." and "..", at most ``max_entries``."""
        ...

    def read_head(self, path: str, size: int) -> bytes:
        """At most ``size`` leading bytes of the file, opened read-only."""
        ...


class AsyncTreeReader(Protocol):
    """The same, from the event loop (an FTP zone, an HTTP listing)."""

    def join(self, folder: str, name: str) -> str: ...

    async def list_folder(self, path: str, max_entries: int) -> Listing: ...

    async def read_head(self, path: str, size: int) -> bytes: ...


@dataclass(frozen=True)
class WalkLimits:
    requests: int = 2000
    bytes: int = 32 * 1024 * 1024
    seconds: float = 20.0
    depth: int = 12
    #: Entries taken from one folder's listing (a folder of 10^5 files).
    folder_entries: int = 5000
    #: Files read per folder when it is listed; the rest in the last pass.
    samples_per_folder: int = 3
    #: Folders waiting their turn; past it new ones are counted, not kept.
    frontier: int = 50_000
    #: Files waiting for the last pass; past it they are counted only.
    deferred: int = 4096
    deadline: float = float("inf")  # time.monotonic() value, the caller's


@dataclass(frozen=True)
class ListFolder:
    path: str
    max_entries: int


@dataclass(frozen=True)
class ReadHead:
    path: str
    size: int


Step = ListFolder | ReadHead
#: What a step is answered with: a listing, a file's head, or None (refused).
Answer = Listing | bytes | None


class Walker:
    """One walk's state; :meth:`steps` drives it (see the module)."""

    def __init__(
        self,
        root: str,
        join: Callable[[str, str], str],
        imaging: ImagingSignatures,
        health: HealthSignatures,
        scores: FolderScores,
        limits: WalkLimits,
        result: WalkCounts | None = None,
    ) -> None:
        self.root = root
        self.join = join
        self.imaging = imaging
        self.health = health
        self.scores = scores
        self.limits = limits
        self.result = result if result is not None else WalkCounts()
        self.started = time.monotonic()
        self.stop_at = min(limits.deadline, self.started + limits.seconds)
        self.head_size = max(imaging.read_size, health.read_size)
        self._frontier = Frontier(scores.depth_cost, scores.barren_sibling_cost)
        self._imaging_in: set[int] = set()  # ids of folders with imaging, never names

    # -- bounds ------------------------------------------------------------------

    def _out_of_budget(self) -> bool:
        """Cut and say so when the next request would pass a bound."""
        result = self.result
        if time.monotonic() >= self.stop_at:
            result.cut("time")
        elif result.requests >= self.limits.requests:
            result.cut("requests")
        elif result.bytes_read >= self.limits.bytes:
            result.cut("bytes")
        else:
            return False
        return True

    def _push(self, group: Group, path: str, depth: int, base: int, named: bool) -> None:
        if len(self._frontier) >= self.limits.frontier:
            self.result.cut("frontier")
            self.result.folders_left += 1
            return
        self._frontier.push(group, path, depth, base, named)

    # -- the walk ----------------------------------------------------------------

    def steps(self) -> Generator[Step, Answer, None]:
        result = self.result
        top = self._frontier.group(0)
        self._push(top, self.root, 0, 0, False)
        deferred: list[tuple[str, str, int]] = []  # (path, name, folder id)
        exhausted = False
        while self._frontier:
            if self._out_of_budget():
                exhausted = True
                break
            item = self._frontier.pop()
            result.requests += 1
            answer = yield ListFolder(item.path, self.limits.folder_entries)
            if not isinstance(answer, Listing):
                result.unreadable += 1
                continue
            result.bytes_read += answer.size
            result.folders_listed += 1
            result.depth_reached = max(result.depth_reached, item.depth)
            if answer.partial:
                result.cut("folder-size")
            folders: list[Entry] = []
            bare = dicomdir = False
            by_name = 0
            for_magic: list[tuple[str, str]] = []
            for_health: list[tuple[str, str]] = []
            for entry in answer.entries:
                if entry.is_folder:
                    result.folders_seen += 1
                    folders.append(entry)
                    continue
                result.files_seen += 1
                kind = self.imaging.extension_of(entry.name)
                if kind is not None:
                    result.by_name += 1
                    by_name += 1
                    if kind == "DICOMDIR":
                        result.dicomdir += 1
                        dicomdir = True
                    continue
                # Exports name files by number, or by UID ("1.2.840..."): no
                # extension or a numeric one may hide DICOM (imaging.py).
                no_extension = "." not in entry.name.strip(".")
                bare = bare or no_extension
                if no_extension or entry.name.rsplit(".", 1)[1].isdigit():
                    for_magic.append((entry.ref or self.join(item.path, entry.name), entry.name))
                elif self.health.worth_reading(entry.name):
                    for_health.append((entry.ref or self.join(item.path, entry.name), entry.name))
            if by_name:
                self._found(item.order, by_name)
            # A few heads of each kind now (text files never starve the DICM
            # test): what they hold scores the subfolders.
            count = self.limits.samples_per_folder
            now = for_magic[:count] + for_health[:count]
            later = for_magic[count:] + for_health[count:]
            magic = health = 0
            for path, name in now:
                if self._out_of_budget():
                    break
                head = yield from self._read(path)
                found = None if head is None else self._classify(name, head)
                if found == "imaging":
                    magic += 1
                    self._found(item.order, 1)
                health += found == "health"
            room = max(0, self.limits.deferred - len(deferred))
            if len(later) > room:
                result.cut("samples")
            deferred += [(path, name, item.order) for path, name in later[:room]]
            held = self.scores.held(dicomdir, by_name + magic > 0, bare)
            if not held and not health:
                self._frontier.barren(item.group)
            group = self._frontier.group(item.base * self.scores.inherit_percent // 100 + held)
            for entry in folders:
                if item.depth + 1 > self.limits.depth:
                    result.cut("depth")
                    continue
                name_score = self.scores.of_name(entry.name)
                self._push(
                    group,
                    entry.ref or self.join(item.path, entry.name),
                    item.depth + 1,
                    group.base + name_score,
                    item.named or name_score > 0,
                )
        self._leave()
        if exhausted:
            return
        # The last pass: the heads the first one left, while the bounds allow.
        for path, name, folder in deferred:
            if self._out_of_budget():
                break
            head = yield from self._read(path)
            if head is not None and self._classify(name, head) == "imaging":
                self._found(folder, 1)

    def _found(self, folder: int, files: int) -> None:
        self.result.imaging_files += files
        self._imaging_in.add(folder)
        self.result.imaging_folders = len(self._imaging_in)

    def _leave(self) -> None:
        """Count what the frontier still holds, and let it go."""
        self.result.folders_left += len(self._frontier)
        self.result.imaging_named_folders_left += self._frontier.named_left()
        self._frontier.clear()

    def _read(self, path: str) -> Generator[Step, Answer, bytes | None]:
        self.result.requests += 1
        answer = yield ReadHead(path, self.head_size)
        if not isinstance(answer, bytes):
            self.result.unreadable += 1
            return None
        self.result.bytes_read += len(answer)
        return answer[: self.head_size]

    def _classify(self, name: str, head: bytes) -> str | None:
        """Say "imaging", "health" or None, and count it."""
        result = self.result
        if magic_worth_testing(name, self.imaging):
            result.sampled += 1
        else:
            result.health_sampled += 1
        found = self.health.classify(head)
        if found is not None:
            result.health_files += 1
            result.health_kinds[found] = result.health_kinds.get(found, 0) + 1
        # PS3.10 §7.1: a 128-byte preamble then "DICM"; only a name that may
        # hide DICOM (no extension, or digits) counts by its magic.
        if self.imaging.has_magic(head) and magic_worth_testing(name, self.imaging):
            result.by_magic += 1
            return "imaging"
        return "health" if found is not None else None

    def finish(self, cut: str | None = None) -> WalkCounts:
        """The counts, once the steps ended or were stopped (``cut``)."""
        result = self.result
        if cut is not None:
            result.cut(cut)
            self._leave()
        result.seconds = time.monotonic() - self.started
        log.debug(
            "walk: %d requests, %d bytes, %d folders listed, %.2f s, cut by %s",
            result.requests,
            result.bytes_read,
            result.folders_listed,
            result.seconds,
            ",".join(result.cut_by) or "nothing",
        )
        return result


def walk_blocking(
    reader: TreeReader,
    walker: Walker,
    stop: threading.Event | None = None,
) -> WalkCounts:
    """Run ``walker`` over a blocking reader (in a worker thread): ``stop``
    is how the event loop ends it, a thread cannot be cancelled."""
    steps = walker.steps()
    answer: Answer = None
    try:
        step = next(steps)
        while True:
            if stop is not None and stop.is_set():
                return walker.finish("cancelled")
            try:
                if isinstance(step, ListFolder):
                    answer = reader.list_folder(step.path, step.max_entries)
                else:
                    answer = reader.read_head(step.path, step.size)
            except AccessDenied:
                answer = None
            except SessionLost:
                return walker.finish("session")
            step = steps.send(answer)
    except StopIteration:
        return walker.finish()


async def walk_async(reader: AsyncTreeReader, walker: Walker) -> WalkCounts:
    """Run ``walker`` from the event loop; the caller's cancellation ends it
    (the counts so far stay in ``walker.result``)."""
    steps = walker.steps()
    answer: Answer = None
    try:
        step = next(steps)
        while True:
            try:
                if isinstance(step, ListFolder):
                    answer = await reader.list_folder(step.path, step.max_entries)
                else:
                    answer = await reader.read_head(step.path, step.size)
            except AccessDenied:
                answer = None
            except SessionLost:
                return walker.finish("session")
            step = steps.send(answer)
    except StopIteration:
        return walker.finish()
