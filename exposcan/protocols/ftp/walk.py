"""A bounded, read-only walk of what an FTP login sees, counting imaging and
health data files and nothing else (as the SMB share walk does).

Bounds: depth, folders listed, entries, listing bytes, files sampled (the
first bytes only), and a monotonic deadline.  The walk sees names (it must,
to descend and to classify) but keeps none: it returns counts.  Only CWD,
LIST/MLSD and RETR are used: never a write.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from exposcan.healthdata import HealthSignatures
from exposcan.imaging import ImagingSignatures, magic_worth_testing
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError
from exposcan.protocols.ftp.client import FtpClient
from exposcan.protocols.ftp.listing import Entry, parse_list, parse_mlsd
from exposcan.walk import WalkCounts


@dataclass(frozen=True)
class WalkLimits:
    max_depth: int = 6
    max_folders: int = 100
    max_entries: int = 5000
    max_samples: int = 48
    listing_cap: int = 1024 * 1024
    deadline: float = float("inf")  # time.monotonic() value


@dataclass
class WalkResult(WalkCounts):
    folders_listed: int = 0
    odd_lines: int = 0
    #: Errors met on the way (reason, detail without any name): the probe
    #: records each as an error record.
    errors: list[tuple[ErrorReason, str]] = field(default_factory=list)


def _join(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}"


async def walk_zone(
    ftp: FtpClient,
    imaging: ImagingSignatures,
    health: HealthSignatures,
    limits: WalkLimits,
    use_mlsd: bool,
    result: WalkResult | None = None,
) -> WalkResult:
    """Breadth first from the login's root, so a deep tree still shows its
    top levels.  ``result`` is filled as the walk goes: a caller whose task
    is cancelled still has the counts so far."""
    result = result if result is not None else WalkResult()
    queue: deque[tuple[str, int]] = deque([("/", 0)])
    budget = limits.max_entries
    head_size = max(imaging.read_size, health.read_size)
    to_sample: list[str] = []  # may hide DICOM (no extension, digits)
    # Health-data candidates with an extension (.hpr, .hl7, .txt...): a
    # budget of their own, so that text files never starve the DICM test.
    health_only: list[str] = []
    while queue:
        if time.monotonic() >= limits.deadline:
            result.cut("time")
            break
        if result.folders_listed >= limits.max_folders:
            result.cut("folders")
            break
        if budget <= 0:
            result.cut("entries")
            break
        path, depth = queue.popleft()
        try:
            listed = await _list(ftp, path, limits, use_mlsd, result)
        except ProbeError as exc:
            result.cut("error")
            result.errors.append((exc.reason, f"listing: {exc.detail}"))
            if exc.reason in (ErrorReason.TIMEOUT, ErrorReason.RESET, ErrorReason.TLS):
                return result  # the control connection is no longer usable
            continue
        if listed is None:
            result.unreadable += 1
            continue
        entries, usable = listed
        result.folders_listed += 1
        if len(entries) > budget:
            entries = entries[:budget]
            result.cut("entries")
        budget -= len(entries)
        imaging_here = 0
        for entry in entries:
            if entry.kind == "dir":
                result.folders_seen += 1
                if depth + 1 > limits.max_depth:
                    result.cut("depth")
                else:
                    queue.append((_join(path, entry.name), depth + 1))
                continue
            if entry.kind != "file":
                continue  # links, devices: never followed
            result.files_seen += 1
            kind = imaging.extension_of(entry.name)
            if kind is not None:
                result.by_name += 1
                imaging_here += 1
                if kind == "DICOMDIR":
                    result.dicomdir += 1
            elif magic_worth_testing(entry.name, imaging):
                to_sample.append(_join(path, entry.name))
            elif health.worth_reading(entry.name):
                health_only.append(_join(path, entry.name))
        if imaging_here:
            result.imaging_folders += 1
            result.imaging_files += imaging_here
        if not usable:
            # A capped listing whose final reply never came: a late reply
            # could answer the next command. Stop here with what was seen.
            result.cut("session")
            return result
    if len(to_sample) > limits.max_samples or len(health_only) > limits.max_samples:
        result.cut("samples")
    for path in to_sample[: limits.max_samples] + health_only[: limits.max_samples]:
        if time.monotonic() >= limits.deadline:
            result.cut("time")
            break
        try:
            transfer = await ftp.transfer("RETR", path, head_size)
        except ProbeError as exc:
            result.cut("error")
            result.errors.append((exc.reason, f"file head: {exc.detail}"))
            if exc.reason in (ErrorReason.TIMEOUT, ErrorReason.RESET, ErrorReason.TLS):
                break
            continue
        if not transfer.data and not transfer.complete:
            result.unreadable += 1
            continue
        result.sampled += 1
        head = transfer.data
        found = health.classify(head)
        if found is not None:
            result.health_files += 1
            result.health_kinds[found] = result.health_kinds.get(found, 0) + 1
        name = path.rsplit("/", 1)[-1]
        if imaging.has_magic(head) and magic_worth_testing(name, imaging):
            # PS3.10 §7.1: "DICM" after the 128-byte preamble.
            result.by_magic += 1
            result.imaging_files += 1
    return result


async def _list(
    ftp: FtpClient, path: str, limits: WalkLimits, use_mlsd: bool, result: WalkResult
) -> tuple[list[Entry], bool] | None:
    """The entries of ``path`` and whether the control connection is still
    usable; None when the server refuses the folder."""
    # CWD then a bare LIST: a name is never parsed as ``ls`` options.
    if not (await ftp.command("CWD", path)).positive:
        return None
    transfer = await ftp.transfer("MLSD" if use_mlsd else "LIST", "", limits.listing_cap)
    if transfer.capped:
        result.cut("listing-size")
        result.errors.append(
            (ErrorReason.TOO_LARGE, f"a listing over {limits.listing_cap} bytes, cut")
        )
        # The last line may be cut in the middle: drop it.
        data = transfer.data.rsplit(b"\n", 1)[0]
    elif not transfer.complete and not transfer.data:
        return None
    else:
        data = transfer.data
    entries, odd = (parse_mlsd if use_mlsd else parse_list)(data)
    result.odd_lines += odd
    return entries, transfer.final
