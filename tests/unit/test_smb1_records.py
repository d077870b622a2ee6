"""The SMB1 session's FIND reply parser (exposcan/protocols/smb/session_smb1.py):
records are read within the reply, at most the count the server announced."""

from __future__ import annotations

import pytest
from impacket import smb

from exposcan.protocols.smb.session_smb1 import _no_match, _records
from exposcan.protocols.smb.walk import ShareSessionLost


def record(name: str, attributes: int, last: bool = False) -> bytes:
    """One SMB_FIND_FILE_BOTH_DIRECTORY_INFO ([MS-CIFS] §2.2.8.1.7), in
    Unicode, its terminator counted in its length as Samba sends it."""
    item = smb.SMBFindFileBothDirectoryInfo(smb.SMB.FLAGS2_UNICODE)
    item["FileName"] = (name + "\x00").encode("utf-16le")
    item["ExtFileAttributes"] = attributes
    item["ShortName"] = b"\x00" * 24
    for field in ("CreationTime", "LastAccessTime", "LastWriteTime", "LastChangeTime"):
        item[field] = 0
    size = len(item.getData())
    item["NextEntryOffset"] = 0 if last else size
    return bytes(item.getData())


def test_records_are_read_in_order_up_to_the_announced_count() -> None:
    # Given a reply of three records (a folder, two files)
    data = record("Examens", 0x10) + record("a.txt", 0x20) + record("b.txt", 0x20, last=True)
    # When it is parsed with the count the server announced, then with less
    names = [r["FileName"].decode("utf-16le").rstrip("\x00") for r in _records(data, 3, True)]
    fewer = _records(data, 2, True)
    # Then every record is read, in order, and never more than the count
    assert names == ["Examens", "a.txt", "b.txt"]
    assert len(fewer) == 2


def test_a_record_pointing_past_the_reply_ends_the_parse() -> None:
    # Given a record whose NextEntryOffset points far past the reply's end
    data = bytearray(record("a.txt", 0x20))
    data[0:4] = (1 << 20).to_bytes(4, "little")
    # When it is parsed with a large announced count
    records = _records(bytes(data), 512, True)
    # Then the one record inside the reply is read, and the parse stops
    assert len(records) == 1


def test_a_truncated_record_is_a_lost_session() -> None:
    # Given a reply cut in the middle of its first record's header
    data = record("a.txt", 0x20)[:20]
    # When it is parsed, Then it is refused as malformed, not half-read
    with pytest.raises(ShareSessionLost):
        _records(data, 1, True)


def test_a_search_matching_nothing_is_told_from_a_refusal() -> None:
    # Given the errors a FIND can end with: no match in NT status form
    # (Windows, an empty share root) and in DOS form, and a refusal
    nothing_nt = smb.SessionError("", 0x0F, 0xC000, nt_status=1)
    nothing_dos = smb.SessionError("", 0x01, 18)
    denied = smb.SessionError("", 0x22, 0xC000, nt_status=1)
    # Then the first two are an empty listing, the refusal is not
    assert _no_match(nothing_nt) and _no_match(nothing_dos)
    assert not _no_match(denied)
