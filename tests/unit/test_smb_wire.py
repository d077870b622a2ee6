"""SMB negotiation bytes: builders checked by scapy's dissector, parsers fed
by scapy-built answers and by bytes a real Samba 4.17 sent."""

from __future__ import annotations

import struct
import uuid

import pytest
from scapy.layers.smb import SMB_Header, SMBNegotiate_Request
from scapy.layers.smb2 import (
    SMB2_Encryption_Capabilities,
    SMB2_Header,
    SMB2_Negotiate_Context,
    SMB2_Negotiate_Protocol_Request,
    SMB2_Negotiate_Protocol_Response,
    SMB2_Preauth_Integrity_Capabilities,
)

from exposcan.protocols.smb import wire

# What Samba 4.17 (server min protocol SMB2_02, the default) answered the
# lab's SMB1 NEGOTIATE offering only NT LM 0.12: an SMB1 reply choosing
# DialectIndex 0xFFFF ("none"), NetBIOS header removed.
SAMBA_SMB1_REFUSAL = bytes.fromhex(
    "ff534d4272000000008803c0000000000000000000000000fffffffe0000000001ffff0000"
)


def smb1_accept(word_count: int = 17, security_mode: int = 0x03) -> bytes:
    header = b"\xffSMBr" + b"\x00" * 4 + b"\x88" + struct.pack("<H", 0xC801) + b"\x00" * 12
    header += struct.pack("<HHHH", 0xFFFF, 0xFEFF, 0, 0)
    params = struct.pack("<HB", 0, security_mode) + b"\x00" * (2 * word_count - 3)
    return header + bytes([word_count]) + params + b"\x00\x00"


def smb2_answer(
    dialect: int,
    security_mode: int,
    status: int = 0,
    cipher: int | None = None,
    guid: uuid.UUID | None = None,
) -> bytes:
    contexts = []
    if cipher is not None:
        contexts = [
            SMB2_Negotiate_Context()
            / SMB2_Preauth_Integrity_Capabilities(HashAlgorithms=["SHA-512"], Salt=b"s" * 32),
            SMB2_Negotiate_Context() / SMB2_Encryption_Capabilities(Ciphers=[cipher]),
        ]
    packet = SMB2_Header(
        Flags="SMB2_FLAGS_SERVER_TO_REDIR", Status=status
    ) / SMB2_Negotiate_Protocol_Response(
        DialectRevision=dialect,
        SecurityMode=security_mode,
        NegotiateContexts=contexts,
        GUID=(guid or uuid.UUID(int=0)).bytes_le,
    )
    return bytes(packet)


def test_frame_roundtrip_and_cap_is_announced_length():
    # Given an SMB message
    # When it is framed
    framed = wire.frame(b"abc")
    # Then the 4-byte Direct TCP header carries its length
    assert framed == b"\x00\x00\x00\x03abc"
    assert wire.parse_frame_header(framed[:4]) == (wire.NBSS_MESSAGE, 3)


def test_frame_header_rejects_garbage_type():
    # Given a header whose type is no session service packet
    # Then it is a wire error, not a length to read
    with pytest.raises(wire.WireError):
        wire.parse_frame_header(b"\x47\xff\xff\xff")


def test_netbios_name_first_level_encoding():
    # Given RFC 1001 §14.1's example "FRED" (padded with spaces, suffix 0x20)
    # Then each nibble becomes a letter from 'A'
    encoded = wire.netbios_name("FRED", 0x20)
    assert encoded == b"\x20" + b"EGFCEFEE" + b"CA" * 12 + b"\x00"


def test_session_request_is_rfc1002_type_0x81():
    request = wire.session_request()
    assert request[0] == 0x81
    assert int.from_bytes(request[2:4], "big") == len(request) - 4 == 68


def test_smb1_request_offers_only_nt_lm_012():
    # Given our SMB1 NEGOTIATE, dissected by scapy
    packet = SMB_Header(wire.smb1_negotiate_request())
    # Then it is a NEGOTIATE with the one dialect NT LM 0.12
    assert packet.Command == 0x72
    dialects = [d.DialectString for d in packet[SMBNegotiate_Request].Dialects]
    assert dialects == [b"NT LM 0.12"]


def test_smb1_refusal_by_samba_is_not_accepted():
    # Given the answer a real Samba with SMB1 off gave
    answer = wire.parse_smb1_negotiate(SAMBA_SMB1_REFUSAL)
    # Then SMB1 is not accepted, though the reply is SMB1
    assert answer.accepted is False


def test_smb1_chosen_dialect_is_accepted_with_signing_bit():
    answer = wire.parse_smb1_negotiate(smb1_accept(security_mode=0x0B))
    assert answer.accepted is True
    assert answer.signing_required is True


def test_smb1_error_status_and_smb2_reply_are_not_acceptance():
    refused = bytearray(smb1_accept())
    refused[5:9] = struct.pack("<I", 0xC0000022)
    assert wire.parse_smb1_negotiate(bytes(refused)).accepted is False
    assert wire.parse_smb1_negotiate(b"\xfeSMB" + b"\x00" * 100).accepted is False


def test_smb1_garbage_is_a_wire_error():
    with pytest.raises(wire.WireError):
        wire.parse_smb1_negotiate(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 2)


def test_smb2_request_dissects_with_all_dialects_and_contexts():
    # Given our SMB2 NEGOTIATE, dissected by scapy
    packet = SMB2_Header(wire.smb2_negotiate_request())
    request = packet[SMB2_Negotiate_Protocol_Request]
    # Then it offers the five dialects and the 3.1.1 preauth/cipher contexts
    assert list(request.Dialects) == [0x0202, 0x0210, 0x0300, 0x0302, 0x0311]
    assert sorted(c.ContextType for c in request.NegotiateContexts) == [1, 2]
    assert not request.SecurityMode.SIGNING_REQUIRED


@pytest.mark.parametrize(
    ("mode", "required", "enabled"),
    [(0x01, False, True), (0x03, True, True), (0x00, False, False)],
)
def test_smb2_answer_signing(mode, required, enabled):
    answer = wire.parse_smb2_negotiate(smb2_answer(0x0302, mode))
    assert answer.dialect == "3.0.2"
    assert (answer.signing_required, answer.signing_enabled) == (required, enabled)


def test_smb2_answer_311_cipher_context_means_encryption():
    with_cipher = wire.parse_smb2_negotiate(smb2_answer(0x0311, 1, cipher=0x0002))
    without = wire.parse_smb2_negotiate(smb2_answer(0x0311, 1, cipher=0x0000))
    assert with_cipher.dialect == "3.1.1" and with_cipher.encryption is True
    assert without.encryption is False


def test_smb2_answer_carries_the_server_guid():
    # Given two NEGOTIATE answers, one naming a server GUID, one all zeroes
    guid = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    named = wire.parse_smb2_negotiate(smb2_answer(0x0311, 1, guid=guid))
    blank = wire.parse_smb2_negotiate(smb2_answer(0x0311, 1))
    # Then the GUID reads back as the server wrote it (MS-SMB2 §2.2.4, little-endian
    # fields), and a zero GUID counts as none
    assert named.server_guid == str(guid)
    assert blank.server_guid == ""


def test_smb2_error_status_and_short_answer_are_wire_errors():
    with pytest.raises(wire.WireError):
        wire.parse_smb2_negotiate(smb2_answer(0x0311, 1, status=0xC0000022))
    with pytest.raises(wire.WireError):
        wire.parse_smb2_negotiate(b"\xfeSMB" + b"\x00" * 20)


def _dir_entry(name: str, attributes: int, last: bool) -> bytes:
    encoded = name.encode("utf-16-le")
    size = 104 + len(encoded)
    size += (-size) % 8  # entries are 8-byte aligned ([MS-FSCC] §2.4)
    body = bytearray(size)
    struct.pack_into("<I", body, 0, 0 if last else size)
    struct.pack_into("<II", body, 56, attributes, len(encoded))
    body[104 : 104 + len(encoded)] = encoded
    return bytes(body)


def test_directory_entries_are_read_in_place() -> None:
    # Given a QUERY_DIRECTORY answer of a folder and a file (FileIdBothDirectoryInformation)
    from exposcan.protocols.smb.wire import directory_entries

    buf = _dir_entry("Examens", 0x10, False) + _dir_entry("IM000001", 0x20, True)
    # Then both come out with their attributes
    assert list(directory_entries(buf)) == [("Examens", 0x10), ("IM000001", 0x20)]
    # and a cut buffer or a looping offset ends the listing, without a crash
    assert list(directory_entries(buf[:150])) == [("Examens", 0x10)]
    looping = bytearray(_dir_entry("a", 0x20, False))
    struct.pack_into("<I", looping, 0, 8)
    assert list(directory_entries(bytes(looping))) == [("a", 0x20)]
    assert list(directory_entries(b"\x00" * 50)) == []
