"""The zone walk: the one best-first walk (:mod:`exposcan.walk`) over what
an FTP login sees, counting imaging and health data files and nothing else.

Only CWD, LIST/MLSD and RETR are used: never a write.  A listing is capped
in bytes (``listing_cap``), a file read at its first bytes.  The walk sees
names (it must, to descend and to classify) but keeps none: it returns
counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exposcan.healthdata import HealthSignatures
from exposcan.imaging import ImagingSignatures
from exposcan.models import ErrorReason
from exposcan.net.netio import ProbeError
from exposcan.protocols.ftp.client import FtpClient
from exposcan.protocols.ftp.listing import Entry, parse_list, parse_mlsd
from exposcan.protocols.ftp.options import FtpOptions
from exposcan.walk import (
    AccessDenied,
    FolderScores,
    Listing,
    SessionLost,
    WalkCounts,
    Walker,
    WalkLimits,
    walk_async,
)
from exposcan.walk import Entry as WalkEntry

#: One listing's bytes at most (the options' default): a listing past it is
#: cut (its last line dropped).
LISTING_CAP = FtpOptions().listing_cap
#: After these, the control connection is no longer usable.
_FATAL = (ErrorReason.TIMEOUT, ErrorReason.RESET, ErrorReason.TLS)


@dataclass
class WalkResult(WalkCounts):
    odd_lines: int = 0
    #: Errors met on the way (reason, detail without any name): the probe
    #: records each as an error record.
    errors: list[tuple[ErrorReason, str]] = field(default_factory=list)


def _join(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}"


class _Zone:
    """The FTP login's tree, as the walk reads it."""

    def __init__(
        self,
        ftp: FtpClient,
        use_mlsd: bool,
        listing_cap: int,
        result: WalkResult,
    ) -> None:
        self.ftp = ftp
        self.use_mlsd = use_mlsd
        self.listing_cap = listing_cap
        self.result = result
        self.unusable = False

    def join(self, folder: str, name: str) -> str:
        return _join(folder, name)

    def _failed(self, exc: ProbeError, what: str) -> Exception:
        self.result.cut("error")
        self.result.errors.append((exc.reason, f"{what}: {exc.detail}"))
        return SessionLost(exc.reason) if exc.reason in _FATAL else AccessDenied(exc.reason)

    async def list_folder(self, path: str, max_entries: int) -> Listing:
        if self.unusable:
            # A capped listing whose final reply never came: a late reply
            # could answer the next command. Stop with what was seen.
            raise SessionLost("control connection out of step")
        try:
            listed = await _list(self.ftp, path, self.listing_cap, self.use_mlsd, self.result)
        except ProbeError as exc:
            raise self._failed(exc, "listing") from None
        if listed is None:
            raise AccessDenied(path)
        entries, usable, size = listed
        self.unusable = not usable
        # Links and devices are never followed.
        kept = [WalkEntry(e.name, e.kind == "dir") for e in entries if e.kind in ("dir", "file")]
        return Listing(kept[:max_entries], len(kept) > max_entries, size)

    async def read_head(self, path: str, size: int) -> bytes:
        if self.unusable:
            raise SessionLost("control connection out of step")
        try:
            transfer = await self.ftp.transfer("RETR", path, size)
        except ProbeError as exc:
            raise self._failed(exc, "file head") from None
        if not transfer.data and not transfer.complete:
            raise AccessDenied(path)
        return transfer.data


async def walk_zone(
    ftp: FtpClient,
    imaging: ImagingSignatures,
    health: HealthSignatures,
    limits: WalkLimits,
    use_mlsd: bool,
    result: WalkResult | None = None,
    scores: FolderScores | None = None,
    listing_cap: int = LISTING_CAP,
) -> WalkResult:
    """Best first from the login's root.  ``result`` is filled as the walk
    goes: a caller whose task is cancelled still has the counts so far."""
    result = result if result is not None else WalkResult()
    walker = Walker("/", _join, imaging, health, scores or FolderScores(), limits, result)
    await walk_async(_Zone(ftp, use_mlsd, listing_cap, result), walker)
    return result


async def _list(
    ftp: FtpClient, path: str, listing_cap: int, use_mlsd: bool, result: WalkResult
) -> tuple[list[Entry], bool, int] | None:
    """The entries of ``path``, whether the control connection is still
    usable and the bytes received; None when the server refuses the folder."""
    # CWD then a bare LIST: a name is never parsed as ``ls`` options.
    if not (await ftp.command("CWD", path)).positive:
        return None
    transfer = await ftp.transfer("MLSD" if use_mlsd else "LIST", "", listing_cap)
    if transfer.capped:
        result.cut("listing-size")
        result.errors.append((ErrorReason.TOO_LARGE, f"a listing over {listing_cap} bytes, cut"))
        # The last line may be cut in the middle: drop it.
        data = transfer.data.rsplit(b"\n", 1)[0]
    elif not transfer.complete and not transfer.data:
        return None
    else:
        data = transfer.data
    entries, odd = (parse_mlsd if use_mlsd else parse_list)(data)
    result.odd_lines += odd
    return entries, transfer.final, len(transfer.data)
