"""Directory listings of an FTP server: MLSD (RFC 3659 §7) when offered, else
LIST in the Unix ``ls -l`` form most servers use (vsftpd, ProFTPD, Pure-FTPd,
NAS boxes) or the DOS form (IIS, some FileZilla Server set-ups).

Names are parsed so that the walk can descend and classify; they never
leave the walk.  A line that fits no form is counted, not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["dir", "file", "other"]


@dataclass(frozen=True)
class Entry:
    name: str
    kind: Kind


_DOS = re.compile(
    r"^\d{2}-\d{2}-\d{2,4}\s+\d{1,2}:\d{2}\s*(?:[AP]M)?\s+(<DIR>|\d+)\s+(\S.*)$", re.IGNORECASE
)
_UNIX_TYPES: dict[str, Kind] = {"d": "dir", "-": "file"}


def _usable(name: str) -> bool:
    # "." and ".." would loop; a name with a control character could not be
    # sent back safely (and is not worth it); "/" cannot be in one component.
    return name not in ("", ".", "..") and not any(c in name for c in "\r\n\0/")


def parse_list(data: bytes) -> tuple[list[Entry], int]:
    """Entries of a LIST answer and the number of lines that fit no form."""
    entries: list[Entry] = []
    odd = 0
    for raw in data.split(b"\n"):
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line.strip() or line.startswith("total "):
            continue
        dos = _DOS.match(line)
        if dos:
            kind: Kind = "dir" if dos.group(1).upper() == "<DIR>" else "file"
            name = dos.group(2)
        else:
            # perms links owner group size month day time-or-year name
            parts = line.split(None, 8)
            if len(parts) < 9 or len(parts[0]) < 10 or not parts[4].isdigit():
                odd += 1
                continue
            kind = _UNIX_TYPES.get(parts[0][0], "other")  # l, c, b, p, s: not walked
            name = parts[8]
        if _usable(name):
            entries.append(Entry(name, kind))
    return entries, odd


def parse_mlsd(data: bytes) -> tuple[list[Entry], int]:
    """Entries of an MLSD answer (``fact=value;fact=value; name``)."""
    entries: list[Entry] = []
    odd = 0
    for raw in data.split(b"\n"):
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line.strip():
            continue
        facts, sep, name = line.partition(" ")
        if not sep:
            odd += 1
            continue
        kind: Kind = "other"
        for fact in facts.split(";"):
            key, _, value = fact.partition("=")
            if key.lower() == "type":
                value = value.lower()
                kind = "dir" if value == "dir" else "file" if value == "file" else "other"
        if _usable(name):  # type=cdir / pdir are "other": never walked
            entries.append(Entry(name, kind))
    return entries, odd
