"""The one walk of a file tree every protocol shares (SMB shares, FTP
zones, HTTP directory listings): best-first by the catalogue's folder scores,
bounded in requests, bytes and seconds, counts only (see
:mod:`exposcan.walk.walker`)."""

from exposcan.walk.counts import WalkCounts, unfinished, unfinished_detail
from exposcan.walk.scores import FolderScores, folder_scores_from
from exposcan.walk.walker import (
    AccessDenied,
    AsyncTreeReader,
    Entry,
    Listing,
    SessionLost,
    TreeReader,
    Walker,
    WalkLimits,
    walk_async,
    walk_blocking,
)

__all__ = [
    "AccessDenied",
    "AsyncTreeReader",
    "Entry",
    "FolderScores",
    "Listing",
    "SessionLost",
    "TreeReader",
    "WalkCounts",
    "WalkLimits",
    "Walker",
    "folder_scores_from",
    "unfinished",
    "unfinished_detail",
    "walk_async",
    "walk_blocking",
]
