"""DIMSE messages over P-DATA-TF (PS3.7 §9.3, PS3.8 Annex E), counts only.

Requests are encoded with pynetdicom's message classes.  Responses are
reassembled here: command sets (always Implicit VR Little Endian, PS3.7 §6.3)
are decoded, data set fragments are *counted, never decoded*: a C-FIND
response identifier is a patient's record, and the proof of exposure needs
only how many came back.

How many *studies*: some servers answer a STUDY-level C-FIND once per
instance (pynetdicom's own qrscp app does, docs/lab.md), so responses are not
studies.  While a count runs, each identifier's StudyInstanceUID
(0020,000D) is walked to at the top level and replaced at once by a keyed
digest (a key drawn for that count and dropped with it): distinct digests
are counted, and neither the UID nor anything else of the identifier is
kept.
"""

from __future__ import annotations

import hashlib
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO

from pydicom.dataset import Dataset
from pynetdicom.dimse_messages import C_CANCEL_RQ, C_ECHO_RQ, C_FIND_RQ, DIMSEMessage
from pynetdicom.dimse_primitives import C_CANCEL, C_ECHO, C_FIND
from pynetdicom.dsutils import decode, encode
from pynetdicom.pdu import P_DATA_TF

from exposcan.protocols.dicom.pdu import IMPLICIT_VR_LE, PduError

VERIFICATION = "1.2.840.10008.1.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"

# PS3.7 Annex E: command field values.
C_FIND_RSP = 0x8020
C_ECHO_RSP = 0x8030
NO_DATASET = 0x0101  # CommandDataSetType (0000,0800): no data set follows

# PS3.4 Table C.4-2 / PS3.7 Annex C: C-FIND statuses.
PENDING = frozenset({0xFF00, 0xFF01})
SUCCESS = 0x0000
CANCELLED = 0xFE00

# A command set is a few hundred bytes; far more is not DIMSE.
COMMAND_CAP = 8192
# PRIORITY LOW (PS3.7 §9.3.1.1): a scan must not delay a clinic's own work.
PRIORITY_LOW = 2
# An identifier holding only what we asked for is a few hundred bytes; one
# past this is not looked into (it counts as one study, with no key).
IDENTIFIER_CAP = 16384
STUDY_INSTANCE_UID = (0x0020, 0x000D)
# Explicit VR Little Endian: VRs with a 4-byte length (PS3.5 §7.1.2).
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)

#: Reads an identifier's bytes, returns its key (a digest) or None.
KeyOf = Callable[[bytes], bytes | None]


def study_key(data: bytes, implicit: bool, key: bytes) -> bytes | None:
    """A keyed digest of the top-level StudyInstanceUID of a C-FIND response
    identifier (Little Endian, PS3.5 §7.1), or None when it has none; the
    walk reads element headers only, and the one value it reads becomes a
    digest before it returns."""
    offset = 0
    while offset + 8 <= len(data):
        tag = struct.unpack_from("<HH", data, offset)
        if implicit:
            (length,) = struct.unpack_from("<L", data, offset + 4)
            header = 8
        elif data[offset + 4 : offset + 6] in _LONG_VRS:
            if offset + 12 > len(data):
                return None
            (length,) = struct.unpack_from("<L", data, offset + 8)
            header = 12
        else:
            (length,) = struct.unpack_from("<H", data, offset + 6)
            header = 8
        if tag == STUDY_INSTANCE_UID:
            value = data[offset + header : offset + header + length]
            if len(value) != length or not value.strip(b"\x00 "):
                return None
            return hashlib.blake2b(value.strip(b"\x00 "), key=key, digest_size=16).digest()
        if tag > STUDY_INSTANCE_UID or length == 0xFFFFFFFF:
            return None  # elements are in tag order (PS3.5 §7.1); no walking into sequences
        offset += header + length
    return None


def encode_request(
    message: DIMSEMessage, primitive: C_ECHO | C_FIND | C_CANCEL, context_id: int, max_pdu: int
) -> bytes:
    message.primitive_to_message(primitive)
    return b"".join(bytes(P_DATA_TF(p).encode()) for p in message.encode_msg(context_id, max_pdu))


def echo_rq(message_id: int, context_id: int, max_pdu: int) -> bytes:
    primitive = C_ECHO()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = VERIFICATION
    return encode_request(C_ECHO_RQ(), primitive, context_id, max_pdu)


def study_count_identifier(transfer_syntax: str) -> bytes:
    """Study Root, STUDY level, one empty key: StudyInstanceUID.  Asks for
    no name, ID or date (docs/imaging-exposure.md: prove read exposure without identities)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = ""
    data = encode(ds, transfer_syntax == IMPLICIT_VR_LE, True)
    assert data is not None  # two plain elements always encode
    return bytes(data)


def find_rq(message_id: int, context_id: int, max_pdu: int, transfer_syntax: str) -> bytes:
    primitive = C_FIND()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = STUDY_ROOT_FIND
    primitive.Priority = PRIORITY_LOW
    primitive.Identifier = BytesIO(study_count_identifier(transfer_syntax))
    return encode_request(C_FIND_RQ(), primitive, context_id, max_pdu)


def cancel_rq(message_id: int, context_id: int, max_pdu: int) -> bytes:
    """C-CANCEL-RQ (PS3.7 §9.3.2.3): stop a C-FIND once the count is capped."""
    primitive = C_CANCEL()
    primitive.MessageIDBeingRespondedTo = message_id
    return encode_request(C_CANCEL_RQ(), primitive, context_id, max_pdu)


@dataclass(frozen=True)
class Response:
    """A complete DIMSE response: its command, never its data set."""

    context_id: int
    command_field: int
    status: int | None
    responding_to: int | None
    dataset_bytes: int
    #: The identifier's key (KeyOf) while a count asks for keys, else None.
    key: bytes | None = None


def iter_pdvs(body: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(context id, message control header, fragment) of a P-DATA-TF body
    (PS3.8 §9.3.5, Annex E.2); lengths checked against the body."""
    offset = 0
    while offset < len(body):
        if offset + 6 > len(body):
            raise PduError("PDV header past the P-DATA-TF end")
        (length,) = struct.unpack(">L", body[offset : offset + 4])
        if length < 2 or offset + 4 + length > len(body):
            raise PduError(f"PDV of {length} bytes does not fit its P-DATA-TF")
        yield body[offset + 4], body[offset + 5], body[offset + 6 : offset + 4 + length]
        offset += 4 + length


def _decode_command(raw: bytes) -> Dataset:
    # pydicom warns on odd input (and the tests turn warnings into errors);
    # a peer's malformed command is a protocol error, not a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            command = decode(BytesIO(raw), True, True)
            _ = [elem.value for elem in command]  # force lazy values now
        except Exception as exc:
            raise PduError(f"undecodable DIMSE command set ({type(exc).__name__})") from None
    if not isinstance(command, Dataset) or "CommandField" not in command:
        raise PduError("DIMSE command set without a command field")
    return command


class Reassembler:
    """Feeds on P-DATA-TF bodies, yields complete responses."""

    def __init__(self) -> None:
        self._command = bytearray()
        self._pending: Dataset | None = None
        self._context = 0
        self._dataset_bytes = 0
        #: Set for the duration of a count: data sets are then held (up to
        #: IDENTIFIER_CAP) just long enough to be turned into their key.
        self.key_of: KeyOf | None = None
        self._dataset = bytearray()

    def feed(self, body: bytes) -> list[Response]:
        done: list[Response] = []
        for context_id, control, fragment in iter_pdvs(body):
            is_command, is_last = bool(control & 0x01), bool(control & 0x02)
            if is_command:
                if self._pending is not None:
                    raise PduError("DIMSE command fragment inside a data set")
                self._command += fragment
                if len(self._command) > COMMAND_CAP:
                    raise PduError(f"DIMSE command set over {COMMAND_CAP} bytes")
                if not is_last:
                    continue
                command = _decode_command(bytes(self._command))
                self._command.clear()
                self._context = context_id
                if _int_field(command, "CommandDataSetType", NO_DATASET) == NO_DATASET:
                    done.append(self._response(command))
                else:
                    self._pending, self._dataset_bytes = command, 0
            else:
                if self._pending is None:
                    raise PduError("DIMSE data set fragment without a command")
                # Counted, never kept: this is patient data.
                self._dataset_bytes += len(fragment)
                if self.key_of is not None and self._dataset_bytes <= IDENTIFIER_CAP:
                    self._dataset += fragment
                if is_last:
                    key = None
                    if self.key_of is not None and self._dataset_bytes <= IDENTIFIER_CAP:
                        key = self.key_of(bytes(self._dataset))
                    self._dataset.clear()
                    done.append(self._response(self._pending, key))
                    self._pending = None
        return done

    def _response(self, command: Dataset, key: bytes | None = None) -> Response:
        field = _int_field(command, "CommandField", None)
        if field is None:
            raise PduError("DIMSE command set with an empty command field")
        return Response(
            context_id=self._context,
            command_field=field,
            status=_int_field(command, "Status", None),
            responding_to=_int_field(command, "MessageIDBeingRespondedTo", None),
            dataset_bytes=self._dataset_bytes if self._pending is not None else 0,
            key=key,
        )


def _int_field(command: Dataset, keyword: str, default: int | None) -> int | None:
    """A US/UL command element as an int (PS3.7 §E.1); an empty, multi-valued
    or odd one from a hostile peer is a protocol error, not a crash."""
    value = command.get(keyword)
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise PduError(f"DIMSE command element {keyword} is not a number") from None
