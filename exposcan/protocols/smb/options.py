"""The SMB probe's options: the bounds of one share's walk.  A leaf (imports
nothing of exposcan), named by the registry entry, read by the probe through
``config.options_for(SmbOptions)``; the probe's deadline bounds them all."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar


@dataclass(frozen=True)
class SmbOptions:
    protocol: ClassVar[str] = "smb"

    #: SMB requests per share (listings and file reads).
    max_requests: int = 2000
    #: Bytes read per share (file heads read for signatures).
    max_bytes: int = 32 * 1024 * 1024
    #: Seconds of walk per share.
    max_seconds: int = 10
    #: Folder levels below the share's root.
    max_depth: int = 12

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"smb {f.name}: a whole number, 0 or more")
