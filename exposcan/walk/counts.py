"""What a walk of a file tree counts, whatever the protocol (the SMB share
walk, the FTP zone walk, the HTTP listing walk): imaging files by name and by
magic, health data by first bytes, what the walk spent, and where and why it
was cut.  Counts only: never a name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from exposcan.models import EvidenceValue
from exposcan.vocabulary import ErrorReason

#: The cuts after which a walk that found no image has not said "none":
#: its time ran out (which depends on how busy the machine is: the same
#: walk on a quiet one may reach the images) or a read failed.  The other
#: cuts (requests, bytes, folder sizes, depth) are bounds the walk keeps by
#: design, the same on any machine: their counts are a bounded answer.
UNFINISHED = {"time": ErrorReason.TIMEOUT, "error": ErrorReason.PROTOCOL}


def unfinished(cut_by: Iterable[str]) -> ErrorReason | None:
    """The error reason of a walk cut before it could finish looking, or
    None (a walk that found images has its answer whatever cut it)."""
    return next((UNFINISHED[c] for c in sorted(cut_by) if c in UNFINISHED), None)


def unfinished_detail(what: str, cut_by: Iterable[str], folders: int, files: int) -> str:
    """The error record's words: counts only, never a name."""
    return (
        f"{what} cut short ({', '.join(sorted(cut_by))}) before it found an image: "
        f"{folders} folders and {files} files seen, the rest unread"
    )


@dataclass
class WalkCounts:
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
    #: What the walk spent: folders listed, requests (a folder listing or a
    #: file head each) and bytes received (listings and heads).
    folders_listed: int = 0
    requests: int = 0
    bytes_read: int = 0
    #: Where the walk stopped: the deepest level listed, the folders left
    #: unlisted, and how many of those bore a name the catalogue scores up.
    depth_reached: int = 0
    folders_left: int = 0
    imaging_named_folders_left: int = 0
    cut_by: list[str] = field(default_factory=list)
    #: How long the walk took (logged at -vv; not evidence: it depends on
    #: the machine's load as much as on the target).
    seconds: float = 0.0

    @property
    def truncated(self) -> bool:
        return bool(self.cut_by)

    def cut(self, reason: str) -> None:
        if reason not in self.cut_by:
            self.cut_by.append(reason)

    def evidence(self) -> dict[str, EvidenceValue]:
        """The counts under the fact names the share and zone facts share."""
        return {
            "imaging_files": self.imaging_files,
            "imaging_folders": self.imaging_folders,
            "imaging_by_name": self.by_name,
            "imaging_by_magic": self.by_magic,
            "dicomdir": self.dicomdir,
            "files_seen": self.files_seen,
            "folders_seen": self.folders_seen,
            "folders_listed": self.folders_listed,
            "sampled": self.sampled,
            "unreadable": self.unreadable,
            "health_data_files": self.health_files,
            "health_data_kinds": sorted(self.health_kinds),
            "requests": self.requests,
            "bytes_read": self.bytes_read,
            "depth_reached": self.depth_reached,
            "folders_left": self.folders_left,
            "imaging_named_folders_left": self.imaging_named_folders_left,
            "truncated": self.truncated,
            "cut_by": list(self.cut_by),
        }
