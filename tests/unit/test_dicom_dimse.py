"""DIMSE encoding and response reassembly: counts only, never identifiers."""

from __future__ import annotations

import struct
from io import BytesIO

import pytest
from pydicom.dataset import Dataset
from pynetdicom.dimse_messages import C_ECHO_RSP, C_FIND_RQ, C_FIND_RSP
from pynetdicom.dimse_primitives import C_ECHO, C_FIND
from pynetdicom.dsutils import decode, encode
from pynetdicom.pdu import P_DATA_TF

from exposcan.protocols.dicom.dimse import (
    COMMAND_CAP,
    STUDY_ROOT_FIND,
    Reassembler,
    cancel_rq,
    echo_rq,
    find_rq,
    iter_pdvs,
    study_count_identifier,
    study_key,
)
from exposcan.protocols.dicom.pdu import EXPLICIT_VR_LE, IMPLICIT_VR_LE, PduError
from exposcan_lab.topology import CANARY_PATIENTS, CANARY_UID_ROOT


def split_pdus(raw: bytes) -> list[bytes]:
    """Bodies of concatenated P-DATA-TF PDUs, as the wire carries them."""
    bodies = []
    while raw:
        (length,) = struct.unpack(">L", raw[2:6])
        bodies.append(raw[6 : 6 + length])
        raw = raw[6 + length :]
    return bodies


def pdvs_of(raw: bytes) -> list[tuple[int, int, bytes]]:
    return [pdv for body in split_pdus(raw) for pdv in iter_pdvs(body)]


def p_data_bodies(message: object, primitive: object, max_pdu: int = 16384) -> list[bytes]:
    message.primitive_to_message(primitive)  # type: ignore[attr-defined]
    return [bytes(P_DATA_TF(p).encode())[6:] for p in message.encode_msg(1, max_pdu)]  # type: ignore[attr-defined]


def canary_find_response(message_id: int) -> list[bytes]:
    """A pending C-FIND-RSP whose identifier is a canary patient."""
    identifier = Dataset()
    identifier.PatientName = CANARY_PATIENTS[0].name
    identifier.PatientID = CANARY_PATIENTS[0].patient_id
    identifier.StudyInstanceUID = f"{CANARY_UID_ROOT}.1"
    primitive = C_FIND()
    primitive.MessageIDBeingRespondedTo = message_id
    primitive.AffectedSOPClassUID = STUDY_ROOT_FIND
    primitive.Status = 0xFF00
    primitive.Identifier = BytesIO(encode(identifier, True, True))
    return p_data_bodies(C_FIND_RSP(), primitive, max_pdu=64)  # many fragments


def test_the_query_asks_for_no_identity() -> None:
    # Given the identifier our C-FIND sends, in both transfer syntaxes
    for syntax, implicit in ((IMPLICIT_VR_LE, True), (EXPLICIT_VR_LE, False)):
        ds = decode(BytesIO(study_count_identifier(syntax)), implicit, True)
        # Then it is STUDY level with one empty key, StudyInstanceUID
        assert [e.keyword for e in ds] == ["QueryRetrieveLevel", "StudyInstanceUID"]
        assert ds.QueryRetrieveLevel == "STUDY" and ds.StudyInstanceUID == ""


def test_the_find_request_is_study_root_at_low_priority() -> None:
    raw = find_rq(7, 3, 16384, IMPLICIT_VR_LE)
    pdvs = pdvs_of(raw)
    command = decode(BytesIO(pdvs[0][2]), True, True)
    assert command.CommandField == 0x0020 and command.MessageID == 7
    assert command.AffectedSOPClassUID == STUDY_ROOT_FIND and command.Priority == 2
    assert all(context == 3 for context, _, _ in pdvs)


def test_echo_and_cancel_requests_carry_no_data_set() -> None:
    for raw, field in ((echo_rq(1, 1, 16384), 0x0030), (cancel_rq(2, 3, 16384), 0x0FFF)):
        [(_, control, fragment)] = pdvs_of(raw)
        command = decode(BytesIO(fragment), True, True)
        assert control == 0x03 and command.CommandField == field
        assert command.CommandDataSetType == 0x0101


def test_a_fragmented_response_is_counted_and_its_identifier_dropped() -> None:
    # Given a pending C-FIND-RSP holding a canary identifier, in 64-byte PDUs
    reassembler = Reassembler()
    done = []
    for body in canary_find_response(2):
        done += reassembler.feed(body)
    # Then one response is complete, with its status and no identifier kept
    [response] = done
    assert (response.command_field, response.status, response.responding_to) == (0x8020, 0xFF00, 2)
    assert response.dataset_bytes > 0
    assert "CANARY" not in repr(response) and "CANARY" not in repr(vars(reassembler))


def test_a_response_without_data_set_is_complete_at_its_command() -> None:
    primitive = C_ECHO()
    primitive.MessageIDBeingRespondedTo = 1
    primitive.AffectedSOPClassUID = "1.2.840.10008.1.1"
    primitive.Status = 0
    [body] = p_data_bodies(C_ECHO_RSP(), primitive)
    [response] = Reassembler().feed(body)
    assert response.command_field == 0x8030 and response.status == 0


@pytest.mark.parametrize(
    "body",
    [
        struct.pack(">L", 1) + b"\x01",  # PDV shorter than its header
        struct.pack(">L", 100) + b"\x01\x03abc",  # PDV past the PDU
        struct.pack(">L", 6) + b"\x01\x02abcd",  # data set fragment without command
        struct.pack(">L", 10) + b"\x01\x03" + b"\xff" * 8,  # undecodable command
    ],
)
def test_malformed_p_data_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(PduError):
        Reassembler().feed(body)


def test_an_endless_command_set_is_capped() -> None:
    reassembler = Reassembler()
    chunk = struct.pack(">L", 4002) + b"\x01\x01" + b"\x00" * 4000
    with pytest.raises(PduError, match="over"):
        for _ in range(COMMAND_CAP // 4000 + 2):
            reassembler.feed(chunk)


def test_find_requests_decode_as_pynetdicom_expects() -> None:
    # Given our C-FIND-RQ, reassembled by pynetdicom itself
    from pynetdicom.pdu_primitives import P_DATA

    raw = find_rq(3, 3, 16384, IMPLICIT_VR_LE)
    primitive = P_DATA()
    primitive.presentation_data_value_list = [[c, bytes([h]) + f] for c, h, f in pdvs_of(raw)]
    message = C_FIND_RQ()
    # Then pynetdicom reads a complete C-FIND-RQ from it
    assert message.decode_msg(primitive)
    assert message.command_set.MessageID == 3


def _element(group: int, elem: int, value: bytes, vr: bytes | None) -> bytes:
    head = struct.pack("<HH", group, elem)
    if vr is None:
        return head + struct.pack("<L", len(value)) + value
    return head + vr + struct.pack("<H", len(value)) + value


@pytest.mark.parametrize("implicit", [True, False])
def test_a_study_key_is_a_keyed_digest_of_the_study_uid(implicit: bool) -> None:
    # Given two identifiers of the same study (names differ: two instances
    # of a per-instance server) and one of another study
    def identifier(uid: bytes, name: bytes) -> bytes:
        vr = None if implicit else b"PN"
        return (
            _element(0x0008, 0x0052, b"STUDY ", None if implicit else b"CS")
            + _element(0x0010, 0x0010, name, vr)
            + _element(0x0020, 0x000D, uid, None if implicit else b"UI")
        )

    key = b"k" * 16
    a1 = study_key(identifier(b"1.2.3.4\x00", b"CANARY^ALICE"), implicit, key)
    a2 = study_key(identifier(b"1.2.3.4\x00", b"CANARY^BRUNO"), implicit, key)
    b = study_key(identifier(b"1.2.3.5\x00", b"CANARY^ALICE"), implicit, key)
    # Then the same study gives the same key, another study another, and no
    # key holds the UID
    assert a1 is not None and a1 == a2 and a1 != b
    assert b"1.2.3.4" not in a1
    # and another count's key links nothing
    assert study_key(identifier(b"1.2.3.4\x00", b""), implicit, b"x" * 16) != a1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        _element(0x0008, 0x0052, b"STUDY ", None),  # no UID at all
        _element(0x0020, 0x000D, b"", None),  # an empty UID
        _element(0x0040, 0x0001, b"x", None),  # past (0020,000D): not there
        struct.pack("<HHL", 0x0008, 0x1111, 0xFFFFFFFF),  # a sequence: not walked into
        struct.pack("<HHL", 0x0020, 0x000D, 900) + b"1.2",  # longer than the data
    ],
)
def test_no_study_key_without_a_top_level_study_uid(data: bytes) -> None:
    assert study_key(data, True, b"k" * 16) is None
