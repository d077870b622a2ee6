"""FTP listing parsers (exposcan/protocols/ftp/listing.py) and the banner
fingerprints (probes/fingerprints/ftp-banners.yaml)."""

from __future__ import annotations

import pytest

from exposcan.catalogue import default_catalogue
from exposcan.protocols.ftp.catalogue import identify
from exposcan.protocols.ftp.listing import Entry, parse_list, parse_mlsd


def test_unix_list_as_vsftpd_writes_it() -> None:
    # Given vsftpd's LIST answer (numeric owners, a symlink, a name with spaces)
    data = (
        b"drwxr-xr-x    3 0        0            4096 Dec 01 10:00 Examens\r\n"
        b"-rw-r--r--    1 0        0             682 Dec 01 10:00 IM 000001\r\n"
        b"lrwxrwxrwx    1 0        0               4 Dec 01 10:00 last -> Examens\r\n"
        b"-rw-r--r--    1 0        0              10 Jan 02  2019 old.txt\r\n"
    )
    entries, odd = parse_list(data)
    # Then folders, files and the link (never walked) are told apart
    assert entries == [
        Entry("Examens", "dir"),
        Entry("IM 000001", "file"),
        Entry("last -> Examens", "other"),
        Entry("old.txt", "file"),
    ]
    assert odd == 0


def test_dos_list_and_odd_lines() -> None:
    data = (
        b"12-01-20  10:00AM       <DIR>          Export\r\n"
        b"12-01-20  10:00AM                  682 00000001\r\n"
        b"total 12\r\n"
        b"garbage that is no listing line\r\n"
    )
    entries, odd = parse_list(data)
    assert entries == [Entry("Export", "dir"), Entry("00000001", "file")]
    assert odd == 1


@pytest.mark.parametrize("name", [".", "..", "a\rDELE b", "a/b"])
def test_unusable_names_are_dropped(name: str) -> None:
    line = f"-rw-r--r-- 1 0 0 1 Jan 01 00:00 {name}\n".encode()
    assert parse_list(line)[0] == []


def test_mlsd() -> None:
    data = (
        b"type=cdir;modify=20240101000000; .\r\n"
        b"type=dir;modify=20240101000000; Examens\r\n"
        b"type=file;size=682;modify=20240101000000; IM000001\r\n"
        b"no-space-here\r\n"
    )
    entries, odd = parse_mlsd(data)
    assert entries == [Entry("Examens", "dir"), Entry("IM000001", "file")]
    assert odd == 1


@pytest.mark.parametrize(
    ("greeting", "product", "version"),
    [
        ("220 (vsFTPd 3.0.3)", "vsftpd", "3.0.3"),
        ("220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------", "Pure-FTPd", None),
        ("220 ProFTPD 1.3.8 Server (Debian) [::ffff:198.18.0.70]", "ProFTPD", "1.3.8"),
        ("220-FileZilla Server 1.8.0\n220 Please visit", "FileZilla Server", "1.8.0"),
        ("220 NAS FTP server ready.", "Synology FTP", None),
        ("220 Welcome", None, None),
    ],
)
def test_banners(greeting: str, product: str | None, version: str | None) -> None:
    assert identify(default_catalogue(), greeting) == (product, version)
