"""The FTP probe's options: the bounds of the anonymous zone's walk (a zone
is smaller than a share, its server often a fragile appliance).  A leaf
(imports nothing of exposcan), named by the registry entry, read by the
probe through ``config.options_for(FtpOptions)``; the probe's deadline bounds
them all."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar


@dataclass(frozen=True)
class FtpOptions:
    protocol: ClassVar[str] = "ftp"

    #: FTP commands in the walk (listings and file reads).
    max_requests: int = 400
    #: Bytes read in the walk (file heads read for signatures).
    max_bytes: int = 16 * 1024 * 1024
    #: Seconds of walk.
    max_seconds: int = 20
    #: Folder levels below the login's root.
    max_depth: int = 6
    #: One listing's bytes at most: a listing past it is cut (its last line
    #: dropped).
    listing_cap: int = 1024 * 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"ftp {f.name}: a whole number, 0 or more")
