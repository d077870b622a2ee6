"""Property tests: what a DICOM peer sends (PS3.8 §9.3 PDUs, PS3.7 DIMSE).

Random and mutated answers end in a value (Accepted / Rejected / Aborted,
a list of responses) or in a PduError / SilentPeer, which the probe turns
into an error record: never another exception.
"""

from __future__ import annotations

import asyncio
import struct

from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pynetdicom.dsutils import encode

from exposcan.limits import Deadlines
from exposcan.net.netio import Connection, ProbeError
from exposcan.protocols.dicom.dimse import Reassembler
from exposcan.protocols.dicom.pdu import (
    Accepted,
    Pdu,
    PduError,
    PduType,
    decode_answer,
    read_pdu,
)
from tests.unit.properties import examples, ran
from tests.unit.test_dicom_pdu import make_ac

AC = make_ac()
PDU_TYPES = st.sampled_from(list(PduType))


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


mutated_ac = st.builds(
    _mutate,
    st.just(AC[6:]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.none() | st.integers(0, len(AC)),
)
item = st.builds(
    lambda kind, body: bytes([kind, 0]) + struct.pack(">H", len(body)) + body,
    st.sampled_from([0x10, 0x20, 0x21, 0x50, 0x51, 0x52, 0x55, 0x99]),
    st.binary(max_size=40),
)
items_ac = st.builds(
    lambda head, items: head + b"".join(items),
    st.binary(min_size=68, max_size=68).map(lambda b: b"\x00\x01" + b[2:]),
    st.lists(item, max_size=6),
)


@examples(400)
@given(PDU_TYPES, mutated_ac | items_ac | st.binary(max_size=300))
def test_any_answer_decodes_or_is_a_protocol_error(kind: PduType, body: bytes) -> None:
    ran("dicom: decode an A-ASSOCIATE answer")
    # Given any PDU body, mutated from a real A-ASSOCIATE-AC or random
    try:
        answer = decode_answer(Pdu(kind, body))
    except PduError:
        return  # Then a protocol error ...
    # ... or a well-formed answer whose identifiers are bounded and printable
    if isinstance(answer, Accepted):
        assert answer.implementation_class_uid is None or len(answer.implementation_class_uid) <= 64
        assert answer.implementation_version is None or answer.implementation_version.isprintable()
        assert all(isinstance(k, int) for k in answer.contexts)


@examples(300)
@given(
    st.binary(max_size=64)
    | st.builds(
        lambda kind, length, rest: bytes([kind, 0]) + struct.pack(">L", length) + rest,
        st.integers(0, 255),
        st.integers(0, 2**32 - 1) | st.integers(0, 100),
        st.binary(max_size=100),
    ),
    st.booleans(),
)
def test_framing_reads_within_the_cap(data: bytes, eof: bool) -> None:
    ran("dicom: frame a PDU from the stream")

    async def read() -> Pdu:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        if eof:
            reader.feed_eof()
        # A 10 ms read deadline: silence costs nothing here.
        conn = Connection(reader, None, Deadlines(0.01, 0.01, 0.05))  # type: ignore[arg-type]
        return await read_pdu(conn, 65536)

    # Given any bytes on the wire, then EOF or silence
    try:
        pdu = asyncio.run(read())
    except (ProbeError, TimeoutError):
        return  # Then a typed error (PduError, SilentPeer) or the read deadline ...
    # ... or one PDU of a known type, within the cap and the bytes received
    assert len(pdu.body) <= min(65536, len(data) - 6)


def _command(field: int, dataset_type: int, status: int) -> bytes:
    ds = Dataset()
    ds.CommandGroupLength = 0
    ds.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.1"
    ds.CommandField = field
    ds.MessageIDBeingRespondedTo = 1
    ds.CommandDataSetType = dataset_type
    ds.Status = status
    raw = encode(ds, True, True)
    assert raw is not None
    return bytes(raw)


COMMANDS = [
    _command(0x8020, 0x0101, 0),
    _command(0x8020, 0x0000, 0xFF00),
    _command(0x8030, 0x0101, 0),
]


def _pdv(context: int, control: int, fragment: bytes) -> bytes:
    return struct.pack(">L", len(fragment) + 2) + bytes([context, control]) + fragment


pdv = st.builds(
    _pdv,
    st.integers(0, 255),
    st.integers(0, 3),
    st.sampled_from(COMMANDS)
    | st.binary(max_size=60)
    | st.builds(
        _mutate,
        st.sampled_from(COMMANDS),
        st.lists(st.tuples(st.integers(0, 500), st.integers(0, 255)), max_size=4),
        st.none(),
    ),
)


@examples(300)
@given(st.lists(st.lists(pdv, max_size=4).map(b"".join) | st.binary(max_size=40), max_size=5))
def test_p_data_reassembles_or_is_a_protocol_error(bodies: list[bytes]) -> None:
    ran("dicom: reassemble DIMSE from P-DATA-TF")
    # Given P-DATA-TF bodies: real command sets, mutated ones, random PDVs
    reassembler = Reassembler()
    for body in bodies:
        try:
            responses = reassembler.feed(body)
        except PduError:
            return  # Then a protocol error ...
        # ... or complete responses with integer fields, data sets only counted
        for r in responses:
            assert isinstance(r.command_field, int) and r.dataset_bytes >= 0
