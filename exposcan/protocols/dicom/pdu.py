"""DICOM Upper Layer PDUs (PS3.8 §9.3): bounded framing and strict decoding.

pynetdicom's codecs encode what we send; what a peer sends is framed here
with a size cap *before* anything is allocated (pynetdicom's own reader calls
``recv(length)`` with the peer's 32-bit length, PS3.8 §9.3.1) and checked
structurally before pynetdicom decodes it.  Only a well-formed A-ASSOCIATE-AC
that echoes the DICOM application context name, or an A-ASSOCIATE-RJ whose
result/source/reason are values of PS3.8 Table 9-21, confirms DICOM: bytes
that merely start like a PDU (nmap's dicom-ping calls any of them a DICOM
server) are a protocol error.
"""

from __future__ import annotations

import asyncio
import logging
import re
import struct
import warnings
from dataclasses import dataclass, field
from enum import IntEnum

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID
from pynetdicom.pdu import A_ABORT_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RQ, A_RELEASE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import build_context

from exposcan import __version__
from exposcan.models import ErrorReason
from exposcan.net.netio import Connection, ProbeError
from exposcan.protocols.dicom.aetitle import valid_ae_title as valid_ae_title

# PS3.7 Annex A.2.1: the one application context name of DICOM.
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
TRANSFER_SYNTAXES = (IMPLICIT_VR_LE, EXPLICIT_VR_LE)

# What we announce in the Maximum Length sub-item (PS3.8 §D.1): a conforming
# peer never sends a P-DATA-TF longer than this.
OUR_MAX_PDU = 16384
# Caps on what we read.  An A-ASSOCIATE-AC for our ~20 contexts is under 2 KiB;
# a P-DATA-TF is capped a little above what we announced, for peers that
# count the header differently.
ASSOCIATION_PDU_CAP = 65536
DATA_PDU_CAP = OUR_MAX_PDU + 1024

OUR_VERSION_NAME = ("EXPOSCAN_" + __version__.replace(".", "_"))[:16]

# pynetdicom.utils logs a traceback at ERROR for every non-ASCII UID or AE
# title a peer sends before giving up: a hostile peer would fill stderr (and
# cron mail) with them. The failure itself becomes our PduError.
logging.getLogger("pynetdicom.utils").setLevel(logging.CRITICAL)


class PduType(IntEnum):
    """PS3.8 §9.3.1, Table 9-1."""

    ASSOCIATE_RQ = 0x01
    ASSOCIATE_AC = 0x02
    ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    RELEASE_RQ = 0x05
    RELEASE_RP = 0x06
    ABORT = 0x07


class PduError(ProbeError):
    """Bytes that are not a DICOM PDU; ``tls_alert`` when they look like a TLS
    record (a DICOM-over-TLS node answering our clear-text request)."""

    def __init__(self, detail: str, tls_alert: bool = False) -> None:
        super().__init__(ErrorReason.PROTOCOL, detail)
        self.tls_alert = tls_alert


class SilentPeer(ProbeError):
    """The peer closed or reset the connection without sending one byte."""

    def __init__(self) -> None:
        super().__init__(ErrorReason.RESET, "connection closed without an answer")


@dataclass(frozen=True)
class Pdu:
    type: PduType
    body: bytes  # without the 6-byte header


#: Once a PDU's first byte has come, the rest must follow at this rate at
#: least (plus PDU_REST_FLOOR), and never slower than the read deadline: a
#: peer sends a PDU in one go (PS3.8 §9.3.1), while a drip of one byte a
#: second kept each DICOM probe of the lab's hostile2 for a whole read
#: deadline.  Apache's mod_reqtimeout MinRate works the same way;
#: 8 KiB/s is slower than any practice's upload link.
PDU_MIN_RATE = 8 * 1024
PDU_REST_FLOOR = 1.0


def rest_deadline(size: int, read: float) -> float:
    """Seconds allowed for ``size`` more bytes of a PDU already started."""
    return min(read, PDU_REST_FLOOR + size / PDU_MIN_RATE)


async def read_pdu(conn: Connection, cap: int, header_timeout: float | None = None) -> Pdu:
    """One PDU, its announced length checked against ``cap`` before reading.
    ``header_timeout``: how long its first byte may take (default: the read
    deadline); the rest of the PDU then gets :func:`rest_deadline`."""
    read = conn.deadlines.read
    first = b""
    try:
        first = await conn.read_exactly(1, 1, header_timeout)
        header = first + await conn.read_exactly(5, 5, rest_deadline(5, read))
    except asyncio.IncompleteReadError as exc:
        partial = first + exc.partial
        if not partial:
            raise SilentPeer() from None
        raise PduError(
            f"truncated PDU header ({len(partial)} bytes)", tls_alert=partial[:1] == b"\x15"
        ) from None
    except ConnectionResetError:
        # A TLS-only peer may reset on our clear-text request.
        raise SilentPeer() from None
    except TimeoutError:
        if first:
            raise _dripped(6) from None
        raise
    kind, _reserved, length = struct.unpack(">BBL", header)
    if kind not in PduType.__members__.values():
        # 0x15 0x03: a TLS alert record (RFC 8446 §5.1) from a TLS-only port.
        raise PduError(f"not a DICOM PDU (type 0x{kind:02x})", tls_alert=header[:2] == b"\x15\x03")
    if length > cap:
        raise PduError(f"PDU type 0x{kind:02x} announces {length} bytes, cap {cap}")
    try:
        body = await conn.read_exactly(length, cap, rest_deadline(length, read))
    except asyncio.IncompleteReadError as exc:
        raise PduError(f"truncated PDU ({len(exc.partial)} of {length} bytes)") from None
    except TimeoutError:
        raise _dripped(6 + length) from None
    return Pdu(PduType(kind), body)


def _dripped(size: int) -> ProbeError:
    return ProbeError(
        ErrorReason.TIMEOUT,
        f"a PDU of {size} bytes started but did not follow at {PDU_MIN_RATE // 1024} KiB/s",
    )


# --- A-ASSOCIATE-RQ ------------------------------------------------------------


@dataclass(frozen=True)
class ProposedContext:
    context_id: int  # odd, 1..255 (PS3.8 §9.3.2.2)
    abstract_syntax: str


def build_associate_rq(called_ae: str, calling_ae: str, contexts: list[ProposedContext]) -> bytes:
    primitive = A_ASSOCIATE()
    primitive.application_context_name = APPLICATION_CONTEXT
    primitive.called_ae_title = called_ae
    primitive.calling_ae_title = calling_ae
    max_length = MaximumLengthNotification()
    max_length.maximum_length_received = OUR_MAX_PDU
    class_uid = ImplementationClassUIDNotification()
    # We speak through pynetdicom's codecs: its implementation class; our
    # version name says who is knocking (PS3.7 §D.3.3.2).
    class_uid.implementation_class_uid = PYNETDICOM_IMPLEMENTATION_UID
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = OUR_VERSION_NAME
    primitive.user_information = [max_length, class_uid, version]
    built = []
    for proposed in contexts:
        context = build_context(proposed.abstract_syntax, list(TRANSFER_SYNTAXES))
        context.context_id = proposed.context_id
        built.append(context)
    primitive.presentation_context_definition_list = built
    return bytes(A_ASSOCIATE_RQ(primitive).encode())


def build_release_rq() -> bytes:
    return bytes(A_RELEASE_RQ().encode())


def build_abort() -> bytes:
    pdu = A_ABORT_RQ()
    pdu.source = 0x00  # DICOM UL service-user (PS3.8 §9.3.8)
    pdu.reason_diagnostic = 0x00
    return bytes(pdu.encode())


# --- What the peer answered ------------------------------------------------------


class RejectReason(IntEnum):
    """(source, reason) of PS3.8 Table 9-21, flattened."""

    USER_NO_REASON = 0x0101
    APPLICATION_CONTEXT_NOT_SUPPORTED = 0x0102
    CALLING_AE_NOT_RECOGNISED = 0x0103
    CALLED_AE_NOT_RECOGNISED = 0x0107
    ACSE_NO_REASON = 0x0201
    PROTOCOL_VERSION_NOT_SUPPORTED = 0x0202
    TEMPORARY_CONGESTION = 0x0301
    LOCAL_LIMIT_EXCEEDED = 0x0302


_REJECT_TEXT = {
    RejectReason.USER_NO_REASON: "no reason given",
    RejectReason.APPLICATION_CONTEXT_NOT_SUPPORTED: "application context name not supported",
    RejectReason.CALLING_AE_NOT_RECOGNISED: "calling AE title not recognised",
    RejectReason.CALLED_AE_NOT_RECOGNISED: "called AE title not recognised",
    RejectReason.ACSE_NO_REASON: "no reason given",
    RejectReason.PROTOCOL_VERSION_NOT_SUPPORTED: "protocol version not supported",
    RejectReason.TEMPORARY_CONGESTION: "temporary congestion",
    RejectReason.LOCAL_LIMIT_EXCEEDED: "local limit exceeded",
}
_REJECT_SOURCE = {
    1: "DICOM UL service-user",
    2: "DICOM UL service-provider (ACSE)",
    3: "DICOM UL service-provider (presentation)",
}
_ABORT_REASON = {
    0: "reason not specified",
    1: "unrecognised PDU",
    2: "unexpected PDU",
    4: "unrecognised PDU parameter",
    5: "unexpected PDU parameter",
    6: "invalid PDU parameter value",
}


@dataclass(frozen=True)
class Rejected:
    """A-ASSOCIATE-RJ (PS3.8 §9.3.4)."""

    result: int  # 1 permanent, 2 transient
    source: int
    reason: RejectReason

    @property
    def permanent(self) -> bool:
        return self.result == 1

    @property
    def text(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return (
            f"rejected ({kind}) by the {_REJECT_SOURCE[self.source]}: {_REJECT_TEXT[self.reason]}"
        )


@dataclass(frozen=True)
class Aborted:
    """A-ABORT (PS3.8 §9.3.8)."""

    source: int  # 0 service-user, 2 service-provider
    reason: int
    #: As PS3.8 Table 9-26 writes it: reserved bytes 00H, source 0 or 2, a
    #: reason of Table 9-26 (0 from the service-user). Such an answer is a
    #: DICOM upper layer speaking; four random bytes rarely are all that.
    well_formed: bool = False

    @property
    def text(self) -> str:
        who = "service-user" if self.source == 0 else "service-provider"
        why = _ABORT_REASON.get(self.reason, "reason not specified") if self.source == 2 else ""
        return f"aborted by the DICOM UL {who}" + (f": {why}" if why else "")


@dataclass(frozen=True)
class Accepted:
    """A-ASSOCIATE-AC (PS3.8 §9.3.3): the peer's implementation and, per
    proposed context, the transfer syntax it accepted (None: refused)."""

    implementation_class_uid: str | None
    implementation_version: str | None
    max_pdu: int  # 0: no limit (PS3.8 §D.1)
    contexts: dict[int, str | None] = field(default_factory=dict)

    def accepted(self, context_id: int) -> str | None:
        return self.contexts.get(context_id)


Answer = Accepted | Rejected | Aborted

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# PS3.5 §6.2: an Implementation Version Name is an SH, at most 16 characters.
_VERSION_NAME = re.compile(r"^[\x20-\x7e]{1,16}$")


def decode_rejected(body: bytes) -> Rejected:
    if len(body) != 4:
        raise PduError(f"A-ASSOCIATE-RJ of {len(body)} bytes, 4 expected")
    _reserved, result, source, reason = body
    try:
        flat = RejectReason(source << 8 | reason)
    except ValueError:
        raise PduError(f"A-ASSOCIATE-RJ with invalid source/reason {source}/{reason}") from None
    if result not in (1, 2):
        raise PduError(f"A-ASSOCIATE-RJ with invalid result {result}")
    return Rejected(result, source, flat)


def decode_aborted(body: bytes) -> Aborted:
    if len(body) != 4:
        raise PduError(f"A-ABORT of {len(body)} bytes, 4 expected")
    source, reason = body[2], body[3]
    if source not in (0, 1, 2) or reason > 6:
        raise PduError(f"A-ABORT with invalid source/reason {source}/{reason}")
    well_formed = body[:2] == b"\x00\x00" and (
        (source == 0 and reason == 0) or (source == 2 and reason in _ABORT_REASON)
    )
    return Aborted(source, reason, well_formed)


def _check_items(body: bytes) -> None:
    """Walk the variable items of an A-ASSOCIATE-AC (PS3.8 Table 9-17): each
    must be of a known type and fit exactly; the application context must be
    DICOM's.  Random bytes fail here long before pynetdicom decodes them."""
    if len(body) < 68:
        raise PduError(f"A-ASSOCIATE-AC of {len(body)} bytes, 68 at least")
    if not body[1] & 0x01:  # protocol version: bit 0 set (PS3.8 §9.3.3)
        raise PduError("A-ASSOCIATE-AC without protocol version 1")
    offset, contexts, user_info = 68, 0, 0
    application_context: bytes | None = None
    while offset < len(body):
        if offset + 4 > len(body):
            raise PduError("A-ASSOCIATE-AC item header past the PDU end")
        kind, length = body[offset], struct.unpack(">H", body[offset + 2 : offset + 4])[0]
        end = offset + 4 + length
        if end > len(body):
            raise PduError(f"A-ASSOCIATE-AC item 0x{kind:02x} past the PDU end")
        if kind == 0x10:
            application_context = body[offset + 4 : end]
        elif kind == 0x21:
            contexts += 1
        elif kind == 0x50:
            user_info += 1
        else:
            raise PduError(f"A-ASSOCIATE-AC with unknown item type 0x{kind:02x}")
        offset = end
    if (
        application_context is None
        or application_context.rstrip(b"\x00 ").decode("ascii", "replace") != APPLICATION_CONTEXT
    ):
        raise PduError("A-ASSOCIATE-AC without the DICOM application context name")
    if user_info != 1:
        raise PduError(f"A-ASSOCIATE-AC with {user_info} user information items, 1 expected")


def decode_accepted(body: bytes) -> Accepted:
    _check_items(body)
    pdu = A_ASSOCIATE_AC()
    header = struct.pack(">BBL", PduType.ASSOCIATE_AC, 0, len(body))
    try:
        # pydicom warns on an invalid UID; the peer's mistakes are data here
        # (and the tests turn warnings into errors).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pdu.decode(header + body)
        info = pdu.user_information
        class_uid = str(info.implementation_class_uid or "") if info else ""
        version = str(info.implementation_version_name or "") if info else ""
        max_pdu = int(info.maximum_length or 0) if info else 0
        contexts: dict[int, str | None] = {}
        for item in pdu.presentation_context:
            syntax = item.transfer_syntax
            accepted = item.result_reason == 0 and syntax is not None
            if item.presentation_context_id is None:
                raise PduError("A-ASSOCIATE-AC presentation context without an ID")
            contexts[int(item.presentation_context_id)] = str(syntax) if accepted else None
    except Exception as exc:
        # pynetdicom's decoder trusts its input: random items also end in
        # AssertionError or KeyError (found by tests/unit/
        # test_properties_dicom.py). Whatever it raises, the bytes are no AC.
        raise PduError(f"undecodable A-ASSOCIATE-AC ({type(exc).__name__})") from None
    class_uid = class_uid.rstrip("\x00 ")
    version = version.rstrip("\x00 ")
    # Software identifiers only, and only when they look like one: a hostile
    # peer cannot put arbitrary text in a report through these fields.
    return Accepted(
        implementation_class_uid=class_uid
        if len(class_uid) <= 64 and _UID.match(class_uid)
        else None,
        implementation_version=version if _VERSION_NAME.match(version) else None,
        max_pdu=max_pdu,
        contexts=contexts,
    )


def decode_answer(pdu: Pdu) -> Answer:
    """The peer's answer to an A-ASSOCIATE-RQ."""
    if pdu.type is PduType.ASSOCIATE_AC:
        return decode_accepted(pdu.body)
    if pdu.type is PduType.ASSOCIATE_RJ:
        return decode_rejected(pdu.body)
    if pdu.type is PduType.ABORT:
        return decode_aborted(pdu.body)
    raise PduError(f"PDU type 0x{pdu.type:02x} in answer to an A-ASSOCIATE-RQ")
