"""The SMB probe's facts (what the catalogue's ``smb.*`` rules match)."""

from __future__ import annotations

from exposcan.facts import FactModel, fact_kind


@fact_kind("smb.negotiate")
class SmbNegotiate(FactModel):
    """The dialect negotiation (MS-SMB2 §2.2.3, MS-SMB §2.2.4.52)."""

    dialects_offered: list[str] | None = []
    smb1: bool | None = None
    dialect: str | None = None
    signing_required: bool | None = None
    signing_enabled: bool | None = None
    encryption: bool | None = None


@fact_kind("smb.sessions")
class SmbSessions(FactModel):
    """Which sessions opened and how many shares they listed and read."""

    anonymous: bool | None = False
    guest: bool | None = False
    shares_listed: int | None = 0
    disk_shares: int | None = 0
    shares_readable: int | None = 0
    shares_refused: int | None = 0
    problems: list[str] | None = []


@fact_kind("smb.share")
class SmbShare(FactModel):
    """One readable share, walked: counts, never a file name."""

    share: str
    session: str
    #: The dialect the share was read over ("NT LM 0.12" for SMB1).
    dialect: str | None = None
    #: False: the share is not in the listing (browseable = no), found by name.
    listed: bool | None = True
    readable: bool | None = True
    imaging_files: int | None = 0
    imaging_folders: int | None = 0
    imaging_by_name: int | None = 0
    imaging_by_magic: int | None = 0
    dicomdir: int | None = 0
    files_seen: int | None = 0
    folders_seen: int | None = 0
    sampled: int | None = 0
    unreadable: int | None = 0
    health_data_files: int | None = 0
    health_data_kinds: list[str] | None = []
    truncated: bool | None = False
    cut_by: list[str] | None = []
    #: What the walk spent (exposcan/walk): folders listed, requests (a
    #: listing or a file head each), bytes received.
    folders_listed: int | None = 0
    requests: int | None = 0
    bytes_read: int | None = 0
    #: Where a cut walk stopped: the deepest level listed, the folders left
    #: unlisted, how many of those bore a name the catalogue scores up.
    depth_reached: int | None = 0
    folders_left: int | None = 0
    imaging_named_folders_left: int | None = 0
    readable_shares: list[str] | None = []
    imaging_shares: list[str] | None = []
