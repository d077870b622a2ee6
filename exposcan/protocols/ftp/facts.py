"""The FTP probe's facts (what the catalogue's ``ftp.*`` rules match)."""

from __future__ import annotations

from exposcan.facts import FactModel, fact_kind


@fact_kind("ftp.service")
class FtpService(FactModel):
    """What the server's greeting and FEAT said, and whether the anonymous
    login went over TLS (RFC 959, RFC 4217 AUTH TLS)."""

    product: str | None = None
    version: str | None = None
    implicit_tls: bool | None = False
    auth_tls: bool | None = False
    plain_login: bool | None = False
    anonymous: bool | None = False


@fact_kind("ftp.zone")
class FtpZone(FactModel):
    """The anonymous zone, walked: counts, never a file name."""

    anonymous: bool
    product: str | None = None
    tls: bool | None = False
    imaging_files: int | None = 0
    imaging_folders: int | None = 0
    imaging_by_name: int | None = 0
    imaging_by_magic: int | None = 0
    dicomdir: int | None = 0
    health_data_files: int | None = 0
    health_data_kinds: list[str] | None = []
    files_seen: int | None = 0
    folders_seen: int | None = 0
    folders_listed: int | None = 0
    sampled: int | None = 0
    unreadable: int | None = 0
    truncated: bool | None = False
    cut_by: list[str] | None = []
    #: What the walk spent and where it stopped (exposcan/walk).
    requests: int | None = 0
    bytes_read: int | None = 0
    depth_reached: int | None = 0
    folders_left: int | None = 0
    imaging_named_folders_left: int | None = 0
