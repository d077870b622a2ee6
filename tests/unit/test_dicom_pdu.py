"""DICOM upper layer framing and decoding (PS3.8 §9.3): strict, bounded."""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

import pytest
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import build_context

from exposcan.limits import Deadlines
from exposcan.net.netio import Connection
from exposcan.protocols.dicom.association import proposed_contexts
from exposcan.protocols.dicom.pdu import (
    APPLICATION_CONTEXT,
    IMPLICIT_VR_LE,
    Aborted,
    Accepted,
    Pdu,
    PduError,
    PduType,
    Rejected,
    RejectReason,
    SilentPeer,
    build_associate_rq,
    decode_aborted,
    decode_accepted,
    decode_answer,
    decode_rejected,
    read_pdu,
    valid_ae_title,
)
from exposcan.protocols.dicom.workflow import (
    GET_CONTEXT,
    MOVE_CONTEXT,
    STUDY_ROOT_GET,
    STUDY_ROOT_MOVE,
)


def make_ac(
    *,
    app_context: str = APPLICATION_CONTEXT,
    class_uid: str = "1.2.276.0.7230010.3.0.3.6.7",
    version: str = "OFFIS_DCMTK_367",
) -> bytes:
    """An A-ASSOCIATE-AC as pynetdicom encodes it: context 1 accepted,
    context 3 refused (abstract syntax not supported)."""
    p = A_ASSOCIATE()
    p.application_context_name = app_context
    p.called_ae_title, p.calling_ae_title, p.result = "ANY-SCP", "EXPOSCAN", 0
    ml = MaximumLengthNotification()
    ml.maximum_length_received = 32768
    ic = ImplementationClassUIDNotification()
    ic.implementation_class_uid = class_uid
    iv = ImplementationVersionNameNotification()
    iv.implementation_version_name = version
    p.user_information = [ml, ic, iv]
    verification = build_context("1.2.840.10008.1.1", [IMPLICIT_VR_LE])
    verification.context_id, verification.result = 1, 0
    find = build_context("1.2.840.10008.5.1.4.1.2.2.1", [IMPLICIT_VR_LE])
    find.context_id, find.result = 3, 3
    p.presentation_context_definition_results_list = [verification, find]
    return bytes(A_ASSOCIATE_AC(p).encode())


def connection_over(data: bytes, eof: bool = True) -> tuple[Connection, asyncio.StreamReader]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return Connection(reader, None, Deadlines(1, 0.5, 2)), reader  # type: ignore[arg-type]


# --- A-ASSOCIATE-RQ ------------------------------------------------------------------


def test_the_request_names_the_aes_and_proposes_odd_contexts() -> None:
    # Given our A-ASSOCIATE-RQ
    raw = build_associate_rq("CABINETRADIO", "EXPOSCAN", proposed_contexts())
    # When pynetdicom decodes it
    rq = A_ASSOCIATE_RQ()
    rq.decode(raw)
    # Then it carries the AE titles, DICOM's application context, and odd
    # context IDs (PS3.8 §9.3.2.2): echo, Study Root find, storage classes
    assert rq.called_ae_title == "CABINETRADIO" and rq.calling_ae_title == "EXPOSCAN"
    assert rq.application_context_name == APPLICATION_CONTEXT
    ids = [c.context_id for c in rq.presentation_context]
    assert ids == list(range(1, 2 * len(ids), 2)) and len(ids) <= 128
    syntaxes = [str(c.abstract_syntax) for c in rq.presentation_context]
    assert syntaxes[:2] == ["1.2.840.10008.1.1", "1.2.840.10008.5.1.4.1.2.2.1"]
    # And the Get/Move models are proposed only where workflow.py reads their
    # acceptance (negotiation only: no message of theirs exists in dimse.py)
    retrieve = {
        c.context_id: str(c.abstract_syntax)
        for c in rq.presentation_context
        if str(c.abstract_syntax).startswith("1.2.840.10008.5.1.4.1.2.")
        and str(c.abstract_syntax).endswith((".2", ".3"))
    }
    assert retrieve == {MOVE_CONTEXT: STUDY_ROOT_MOVE, GET_CONTEXT: STUDY_ROOT_GET}


@pytest.mark.parametrize(
    "title,ok",
    [
        ("ANY-SCP", True),
        ("A" * 16, True),
        ("A" * 17, False),
        ("", False),
        ("   ", False),
        ("BAD\\AE", False),
        ("TAB\tAE", False),
    ],
)
def test_ae_titles_follow_the_ae_vr(title: str, ok: bool) -> None:
    assert valid_ae_title(title) is ok


# --- A-ASSOCIATE-AC ------------------------------------------------------------------


def test_an_accept_gives_the_implementation_and_the_accepted_contexts() -> None:
    accepted = decode_accepted(make_ac()[6:])
    assert accepted.implementation_class_uid == "1.2.276.0.7230010.3.0.3.6.7"
    assert accepted.implementation_version == "OFFIS_DCMTK_367"
    assert accepted.max_pdu == 32768
    assert accepted.accepted(1) == IMPLICIT_VR_LE and accepted.accepted(3) is None


def test_an_accept_without_dicoms_application_context_is_not_dicom() -> None:
    with pytest.raises(PduError, match="application context"):
        decode_accepted(make_ac(app_context="1.2.3.4")[6:])


def test_identifiers_that_are_no_software_identifiers_are_dropped() -> None:
    # Given an AC whose implementation fields carry arbitrary text
    accepted = decode_accepted(make_ac(class_uid="1.2.3.4.5", version="CANARY ALICE!")[6:])
    ok = decode_accepted(make_ac(class_uid="1.2.3.4.5", version="v1")[6:])
    # Then a UID is kept only if it is one; a version name only if it is an SH
    assert accepted.implementation_class_uid == "1.2.3.4.5"
    assert ok.implementation_version == "v1"
    with pytest.warns(UserWarning):  # pydicom, while the test encodes it
        raw = make_ac(class_uid="1.2.3.x")
    weird = decode_accepted(raw[6:])
    assert weird.implementation_class_uid is None


def test_random_bodies_never_decode_as_an_accept() -> None:
    # Given 300 random bodies behind a valid A-ASSOCIATE-AC header
    for size in (0, 4, 68, 200, 1000) * 60:
        body = os.urandom(size)
        # Then each is a PduError, never an Accepted or another exception
        with pytest.raises(PduError):
            decode_accepted(body)


def test_a_truncated_item_is_a_protocol_error() -> None:
    body = make_ac()[6:]
    with pytest.raises(PduError):
        decode_accepted(body[:-3])


# --- A-ASSOCIATE-RJ and A-ABORT (PS3.8 Table 9-21, §9.3.8) ------------------------


@pytest.mark.parametrize(
    "source,reason,expected,text",
    [
        (1, 1, RejectReason.USER_NO_REASON, "no reason given"),
        (1, 2, RejectReason.APPLICATION_CONTEXT_NOT_SUPPORTED, "application context"),
        (1, 3, RejectReason.CALLING_AE_NOT_RECOGNISED, "calling AE title not recognised"),
        (1, 7, RejectReason.CALLED_AE_NOT_RECOGNISED, "called AE title not recognised"),
        (2, 1, RejectReason.ACSE_NO_REASON, "no reason given"),
        (2, 2, RejectReason.PROTOCOL_VERSION_NOT_SUPPORTED, "protocol version"),
        (3, 1, RejectReason.TEMPORARY_CONGESTION, "temporary congestion"),
        (3, 2, RejectReason.LOCAL_LIMIT_EXCEEDED, "local limit exceeded"),
    ],
)
def test_every_reject_reason_is_decoded(
    source: int, reason: int, expected: RejectReason, text: str
) -> None:
    rejected = decode_rejected(bytes([0, 1, source, reason]))
    assert rejected == Rejected(1, source, expected)
    assert rejected.permanent and text in rejected.text


def test_a_transient_reject_is_not_permanent() -> None:
    rejected = decode_rejected(bytes([0, 2, 3, 1]))
    assert not rejected.permanent and "transient" in rejected.text


@pytest.mark.parametrize(
    "body",
    [
        bytes([0, 1, 1, 4]),
        bytes([0, 3, 1, 7]),
        bytes([0, 1, 4, 1]),
        bytes([0, 1, 1]),
        bytes([0, 1, 1, 7, 0]),
    ],
)
def test_impossible_rejects_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(PduError):
        decode_rejected(body)


def test_an_abort_is_decoded() -> None:
    aborted = decode_aborted(bytes([0, 0, 2, 1]))
    assert aborted == Aborted(2, 1, well_formed=True) and "unrecognised PDU" in aborted.text
    assert "service-user" in decode_aborted(bytes([0, 0, 0, 0])).text
    with pytest.raises(PduError):
        decode_aborted(bytes([0, 0, 2, 9]))


@pytest.mark.parametrize(
    "body,well_formed",
    [
        (bytes([0, 0, 0, 0]), True),  # service-user, reason not significant
        (bytes([0, 0, 2, 6]), True),  # provider: invalid PDU parameter value
        (bytes([0, 0, 1, 0]), False),  # source 1 is reserved (PS3.8 Table 9-26)
        (bytes([0, 0, 2, 3]), False),  # reason 3 is reserved
        (bytes([0, 0, 0, 2]), False),  # a service-user gives no reason
        (bytes([7, 0, 2, 0]), False),  # reserved byte not 00H
    ],
)
def test_only_a_standard_abort_is_well_formed(body: bytes, well_formed: bool) -> None:
    # Given A-ABORT bodies, standard and not
    # Then only those PS3.8 writes count as a DICOM answer
    assert decode_aborted(body).well_formed is well_formed


def test_only_association_answers_answer_a_request() -> None:
    assert isinstance(decode_answer(Pdu(PduType.ASSOCIATE_AC, make_ac()[6:])), Accepted)
    assert isinstance(decode_answer(Pdu(PduType.ASSOCIATE_RJ, bytes([0, 1, 1, 7]))), Rejected)
    assert isinstance(decode_answer(Pdu(PduType.ABORT, bytes(4))), Aborted)
    with pytest.raises(PduError):
        decode_answer(Pdu(PduType.P_DATA_TF, b"\x00" * 10))


# --- framing: bounded reads --------------------------------------------------------


async def test_a_4_gib_length_is_refused_before_any_read() -> None:
    # Given a header announcing 0xFFFFFFFF bytes, followed by some junk
    conn, reader = connection_over(
        b"\x02\x00" + struct.pack(">I", 0xFFFFFFFF) + b"x" * 100, eof=False
    )
    # Then the cap refuses it at once, without waiting for or allocating the body
    with pytest.raises(PduError, match="cap"):
        await read_pdu(conn, 65536)
    assert len(await reader.read(1000)) == 100  # the junk was never consumed


async def test_a_pdu_within_the_cap_is_read() -> None:
    conn, _ = connection_over(make_ac())
    pdu = await read_pdu(conn, 65536)
    assert pdu.type is PduType.ASSOCIATE_AC and len(pdu.body) == len(make_ac()) - 6


async def test_a_tls_alert_is_recognised_as_such() -> None:
    conn, _ = connection_over(bytes.fromhex("15030100020246"))
    with pytest.raises(PduError) as info:
        await read_pdu(conn, 65536)
    assert info.value.tls_alert


async def test_an_unknown_pdu_type_is_not_dicom() -> None:
    conn, _ = connection_over(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(PduError) as info:
        await read_pdu(conn, 65536)
    assert not info.value.tls_alert


@pytest.mark.parametrize(
    "data,error",
    [
        (b"", SilentPeer),
        (b"\x02\x00\x00", PduError),
        (b"\x02\x00\x00\x00\x00\xc8" + b"x" * 10, PduError),
    ],
)
async def test_a_peer_that_hangs_up_early_is_an_error(data: bytes, error: Any) -> None:
    conn, _ = connection_over(data)
    with pytest.raises(error):
        await read_pdu(conn, 65536)


async def test_a_silent_peer_costs_one_read_deadline() -> None:
    conn, _ = connection_over(b"", eof=False)
    with pytest.raises(TimeoutError):
        await read_pdu(conn, 65536)
