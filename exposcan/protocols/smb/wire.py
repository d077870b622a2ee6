"""SMB negotiation on the wire: byte builders and parsers, no I/O.

Only the first exchange of a connection lives here (NetBIOS session framing,
the SMB1 and SMB2 NEGOTIATE): it is what says which dialects a server speaks
and whether it requires signing, and it is small enough to do by hand with a
bounded asyncio exchange.  Sessions and share walks use scapy's client
(:mod:`exposcan.protocols.smb.session`).
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

# RFC 1002 §4.3.1: session service packet types.
NBSS_MESSAGE = 0x00
NBSS_REQUEST = 0x81
NBSS_POSITIVE = 0x82
NBSS_NEGATIVE = 0x83
NBSS_KEEPALIVE = 0x85

#: A NEGOTIATE response is a few hundred bytes; anything past this is not one.
NEGOTIATE_CAP = 65536

SMB1_MAGIC = b"\xffSMB"
SMB2_MAGIC = b"\xfeSMB"
SMB_COM_NEGOTIATE = 0x72

# [MS-SMB2] §2.2.3: the dialects a client may offer, oldest first.
SMB2_DIALECTS: dict[int, str] = {
    0x0202: "2.0.2",
    0x0210: "2.1",
    0x0300: "3.0",
    0x0302: "3.0.2",
    0x0311: "3.1.1",
}
# [MS-SMB2] §2.2.3: SecurityMode bits.
SIGNING_ENABLED = 0x0001
SIGNING_REQUIRED = 0x0002
# [MS-SMB2] §2.2.4: Capabilities.
CAP_ENCRYPTION = 0x00000040


class WireError(ValueError):
    """What the peer sent is not the SMB message expected."""


# -- NetBIOS session service (RFC 1002 §4.3; [MS-SMB2] §2.1 Direct TCP) -------


def frame(payload: bytes) -> bytes:
    """A session message: type 0, then a 24-bit big-endian length.

    Direct TCP on 445 uses the same 4-byte header with a zero first byte
    ([MS-SMB2] §2.1), so one framing serves both ports."""
    if len(payload) >= 1 << 24:
        raise ValueError("SMB message too long to frame")
    return bytes([NBSS_MESSAGE]) + len(payload).to_bytes(3, "big") + payload


def parse_frame_header(header: bytes) -> tuple[int, int]:
    """(packet type, payload length) of a 4-byte session service header."""
    if len(header) != 4:
        raise WireError("short NetBIOS header")
    kind = header[0]
    if kind not in (NBSS_MESSAGE, NBSS_POSITIVE, NBSS_NEGATIVE, NBSS_KEEPALIVE):
        raise WireError("not a NetBIOS session service packet")
    if kind == NBSS_MESSAGE:
        length = int.from_bytes(header[1:4], "big")
    else:
        # RFC 1002 §4.3.1: 7 reserved flag bits, then a 17-bit length.
        length = ((header[1] & 0x01) << 16) | int.from_bytes(header[2:4], "big")
    return kind, length


def netbios_name(name: str, suffix: int) -> bytes:
    """RFC 1001 §14.1 first-level encoding of a 16-byte NetBIOS name."""
    raw = name.upper().encode("ascii")[:15].ljust(15, b" ") + bytes([suffix])
    encoded = bytearray([32])
    for byte in raw:
        encoded += bytes([ord("A") + (byte >> 4), ord("A") + (byte & 0x0F)])
    return bytes(encoded) + b"\x00"


def session_request(calling: str = "EXPOSCAN") -> bytes:
    """RFC 1002 §4.3.2 SESSION REQUEST, needed before SMB on port 139.

    ``*SMBSERVER`` is the called name every SMB server accepts when the
    caller does not know its NetBIOS name (what smbclient sends too)."""
    body = netbios_name("*SMBSERVER", 0x20) + netbios_name(calling, 0x00)
    return bytes([NBSS_REQUEST, 0]) + len(body).to_bytes(2, "big") + body


# -- SMB1 ([MS-CIFS] §2.2.4.52) -------------------------------------------------

#: The one SMB1 dialect that matters: every SMB1 server since NT speaks it,
#: and it is what EternalBlue-era worms negotiate (CVE-2017-0144).
NT_LM_012 = "NT LM 0.12"


def smb1_negotiate_request() -> bytes:
    """An SMB1 NEGOTIATE offering only NT LM 0.12 (no SMB2 dialect strings,
    so an SMB2 server cannot upgrade the exchange: it must answer in SMB1)."""
    flags = 0x18  # case-insensitive paths, canonicalised paths
    flags2 = 0xC801  # unicode, NT status codes, extended security, long names
    header = (
        SMB1_MAGIC
        + bytes([SMB_COM_NEGOTIATE])
        + b"\x00" * 4  # status
        + bytes([flags])
        + struct.pack("<H", flags2)
        + b"\x00" * 12  # PIDHigh, SecurityFeatures, Reserved
        + struct.pack("<HHHH", 0xFFFF, 0xFEFF, 0, 0)  # TID, PIDLow, UID, MID
    )
    dialects = b"\x02" + NT_LM_012.encode("ascii") + b"\x00"
    body = b"\x00" + struct.pack("<H", len(dialects)) + dialects
    return header + body


@dataclass(frozen=True)
class Smb1Answer:
    accepted: bool  # the server chose NT LM 0.12: SMB1 is on
    signing_required: bool | None = None


def parse_smb1_negotiate(data: bytes) -> Smb1Answer:
    """An SMB1 NEGOTIATE response. Samba with SMB1 off still answers in SMB1,
    with DialectIndex 0xFFFF ("none of these"): only a chosen dialect and a
    success status mean SMB1 is accepted."""
    if data[:4] == SMB2_MAGIC:
        return Smb1Answer(False)
    if len(data) < 35 or data[:4] != SMB1_MAGIC or data[4] != SMB_COM_NEGOTIATE:
        raise WireError("not an SMB1 NEGOTIATE response")
    status = struct.unpack_from("<I", data, 5)[0]
    word_count = data[32]
    if status != 0 or word_count < 1:
        return Smb1Answer(False)
    index = struct.unpack_from("<H", data, 33)[0]
    if index != 0:  # 0xFFFF, or an index we never offered
        return Smb1Answer(False)
    signing: bool | None = None
    if word_count >= 17 and len(data) >= 36:
        # [MS-CIFS] §2.2.4.52.2: SecurityMode bit 0x08 = signatures required.
        signing = bool(data[35] & 0x08)
    return Smb1Answer(True, signing)


# -- SMB2/3 ([MS-SMB2] §2.2.3, §2.2.4) ---------------------------------------------


def _smb2_header(command: int) -> bytes:
    return (
        SMB2_MAGIC
        + struct.pack("<HHIHHIIQIIQ", 64, 0, 0, command, 1, 0, 0, 0, 0xFEFF, 0, 0)
        + b"\x00" * 16
    )


def _context(kind: int, data: bytes) -> bytes:
    return struct.pack("<HHI", kind, len(data), 0) + data


def _pad8(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 8)


def smb2_negotiate_request(dialects: tuple[int, ...] = tuple(SMB2_DIALECTS)) -> bytes:
    """An SMB2 NEGOTIATE offering ``dialects`` with signing enabled, not
    required (so the server's own SecurityMode decides)."""
    count = len(dialects)
    offer_311 = 0x0311 in dialects
    fixed_len = 64 + 36 + 2 * count
    context_offset = fixed_len + (-fixed_len % 8) if offer_311 else 0
    contexts = b""
    if offer_311:
        # §2.2.3.1.1: 3.1.1 requires a preauth integrity context (SHA-512);
        # §2.2.3.1.2: and we list the ciphers a client would.
        preauth = struct.pack("<HHH", 1, 32, 0x0001) + os.urandom(32)
        ciphers = struct.pack("<HHH", 2, 0x0002, 0x0001)  # AES-128-GCM, AES-128-CCM
        contexts = _pad8(_context(0x0001, preauth)) + _context(0x0002, ciphers)
    body = struct.pack(
        "<HHHHI16sIHH",
        36,
        count,
        SIGNING_ENABLED,
        0,
        # Claim encryption as any SMB3 client does: servers (Samba) only
        # say whether they can encrypt to a client that can.
        CAP_ENCRYPTION,
        os.urandom(16),  # ClientGuid
        context_offset,
        2 if offer_311 else 0,
        0,
    ) + b"".join(struct.pack("<H", d) for d in dialects)
    message = _smb2_header(0x0000) + body
    if offer_311:
        message = _pad8(message) + contexts
    return message


@dataclass(frozen=True)
class Smb2Answer:
    dialect: str  # "3.1.1", or "0x...." for a revision we do not name
    signing_required: bool
    signing_enabled: bool
    encryption: bool
    #: MS-SMB2 §2.2.4 ServerGuid: the same on every address and port of one
    #: server, what joins a share seen from outside to the NAS behind it.
    server_guid: str = ""


def parse_smb2_negotiate(data: bytes) -> Smb2Answer:
    if len(data) < 64 + 64 or data[:4] != SMB2_MAGIC:
        raise WireError("not an SMB2 response")
    status, command = struct.unpack_from("<IH", data, 8)
    if command != 0x0000:
        raise WireError("not an SMB2 NEGOTIATE response")
    if status != 0:
        raise WireError(f"SMB2 NEGOTIATE refused (status 0x{status:08x})")
    size, security_mode, revision, context_count = struct.unpack_from("<HHHH", data, 64)
    if size != 65:
        raise WireError("malformed SMB2 NEGOTIATE response")
    capabilities = struct.unpack_from("<I", data, 64 + 24)[0]
    server_guid = uuid.UUID(bytes_le=data[64 + 8 : 64 + 24])
    encryption = bool(capabilities & CAP_ENCRYPTION)
    if revision == 0x0311 and context_count:
        encryption = encryption or _has_cipher(data, context_count)
    dialect = SMB2_DIALECTS.get(revision, f"0x{revision:04x}")
    return Smb2Answer(
        dialect=dialect,
        signing_required=bool(security_mode & SIGNING_REQUIRED),
        signing_enabled=bool(security_mode & (SIGNING_ENABLED | SIGNING_REQUIRED)),
        encryption=encryption,
        server_guid="" if server_guid.int == 0 else str(server_guid),
    )


def _has_cipher(data: bytes, count: int) -> bool:
    """§2.2.4.1.2: an encryption context naming a cipher other than 0."""
    if len(data) < 64 + 64:
        return False
    offset = struct.unpack_from("<I", data, 64 + 60)[0]
    for _ in range(min(count, 16)):
        if offset + 8 > len(data):
            return False
        kind, length = struct.unpack_from("<HH", data, offset)
        if kind == 0x0002 and length >= 4 and offset + 12 <= len(data):
            cipher: int = struct.unpack_from("<H", data, offset + 10)[0]
            return cipher != 0
        offset += 8 + length
        offset += -offset % 8
    return False


# [MS-FSCC] §2.4.17 FILE_ID_BOTH_DIR_INFORMATION: NextEntryOffset at 0,
# FileAttributes at 56, FileNameLength at 60, FileName (UTF-16LE) at 104.
_DIR_NAME_AT = 104


def directory_entries(buf: bytes) -> Iterator[tuple[str, int]]:
    """(name, attributes) of a QUERY_DIRECTORY answer's entries, read in
    place: scapy's parse of the same buffer makes a packet object per entry,
    and a 5,000-entry walk of them held 120 MB more (measured in the lab).
    An entry that does not fit its buffer ends the listing."""
    offset = 0
    while offset + _DIR_NAME_AT <= len(buf):
        (next_offset,) = struct.unpack_from("<I", buf, offset)
        attributes, name_length = struct.unpack_from("<II", buf, offset + 56)
        start = offset + _DIR_NAME_AT
        if name_length % 2 or start + name_length > len(buf):
            return
        yield buf[start : start + name_length].decode("utf-16-le", "replace"), attributes
        if next_offset == 0:
            return
        if next_offset < _DIR_NAME_AT:
            return  # would loop or overlap: not a well-formed listing
        offset += next_offset
