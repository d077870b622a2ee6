"""The share walk: the one best-first walk (:mod:`exposcan.walk`) over an SMB
share.

Any session object plugs in through :class:`ShareReader`: a blocking
``list_folder(path, max_entries) -> (entries, cut)`` and
``read_head(path, size) -> bytes`` over one connected share, raising
:class:`ShareAccessDenied` for a refused folder or file and
:class:`ShareSessionLost` when the session is gone.  The scapy SMB2 session
(:mod:`exposcan.protocols.smb.session`) is one; an SMB1 session is another.
"""

from __future__ import annotations

import threading
from typing import Protocol

from exposcan.healthdata import HealthSignatures
from exposcan.imaging import ImagingSignatures
from exposcan.walk import (
    AccessDenied,
    Entry,
    FolderScores,
    Listing,
    SessionLost,
    WalkCounts,
    Walker,
    WalkLimits,
    walk_blocking,
)

__all__ = [
    "Entry",
    "ShareAccessDenied",
    "ShareReader",
    "ShareSessionLost",
    "WalkLimits",
    "WalkResult",
    "join",
    "walk_share",
]

ShareAccessDenied = AccessDenied
ShareSessionLost = SessionLost
WalkResult = WalkCounts

#: [MS-FSCC] §2.4.17 FILE_ID_BOTH_DIR_INFORMATION: 104 bytes before the
#: UTF-16 name; what a listing of these entries received, near enough.
DIRECTORY_ENTRY_SIZE = 104


class ShareReader(Protocol):
    def list_folder(self, path: str, max_entries: int) -> tuple[list[Entry], bool]:
        """Entries of ``path`` ("" = the share root) without "." and "..",
        at most ``max_entries``; the flag says the listing was cut."""
        ...

    def read_head(self, path: str, size: int) -> bytes:
        """At most ``size`` leading bytes of the file, opened read-only."""
        ...


def join(parent: str, name: str) -> str:
    # [MS-SMB2] §2.2.13: paths are relative to the share, "\" separated.
    return f"{parent}\\{name}" if parent else name


class _Tree:
    """A :class:`ShareReader` as the walk's tree reader."""

    def __init__(self, share: ShareReader) -> None:
        self.share = share

    def join(self, folder: str, name: str) -> str:
        return join(folder, name)

    def list_folder(self, path: str, max_entries: int) -> Listing:
        entries, cut = self.share.list_folder(path, max_entries)
        size = sum(DIRECTORY_ENTRY_SIZE + 2 * len(e.name) for e in entries)
        return Listing(entries, cut, size)

    def read_head(self, path: str, size: int) -> bytes:
        return self.share.read_head(path, size)


def walk_share(
    reader: ShareReader,
    signatures: ImagingSignatures,
    limits: WalkLimits,
    health: HealthSignatures,
    stop: threading.Event | None = None,
    scores: FolderScores | None = None,
) -> WalkCounts:
    """Walk one connected share from its root, best first (see the module)."""
    walker = Walker("", join, signatures, health, scores or FolderScores(), limits)
    return walk_blocking(_Tree(reader), walker, stop)
