"""Property tests: what an SMB server sends first (NetBIOS framing and the
SMB1 / SMB2 NEGOTIATE responses, [MS-SMB2] §2.2.4, [MS-CIFS] §2.2.4.52.2).

Random and mutated answers give an answer object or a WireError (the probe's
protocol error), never another exception; lengths are what the header says
and stay within 17 or 24 bits.
"""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from exposcan.protocols.smb import wire
from exposcan_lab.hostile import smb2_negotiate_response
from tests.unit.properties import examples, ran

REAL_SMB2 = smb2_negotiate_response()[4:]  # what the lab's hostile host answers
SMB1_ACCEPT = (
    wire.SMB1_MAGIC
    + bytes([wire.SMB_COM_NEGOTIATE])
    + b"\x00" * 27
    + bytes([17])
    + struct.pack("<H", 0)
    + b"\x0b"
    + b"\x00" * 40
)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


def mutations(base: bytes) -> st.SearchStrategy[bytes]:
    return st.builds(
        _mutate,
        st.just(base),
        st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=6),
        st.none() | st.integers(0, len(base)),
    )


# Negotiate contexts appended to a 3.1.1 answer: the cipher walk reads them.
smb311 = st.builds(
    lambda count, offset, tail: (
        REAL_SMB2[:64]
        + struct.pack("<HHHH", 65, 1, 0x0311, count)
        + REAL_SMB2[72:124]
        + struct.pack("<I", offset)
        + REAL_SMB2[128:]
        + tail
    ),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF) | st.integers(0, 400),
    st.binary(max_size=80),
)


@examples(400)
@given(mutations(REAL_SMB2) | mutations(SMB1_ACCEPT) | smb311 | st.binary(max_size=200))
def test_negotiate_answers_parse_or_are_wire_errors(data: bytes) -> None:
    ran("smb: NEGOTIATE answers")
    # Given any answer to our NEGOTIATE requests
    for parse in (wire.parse_smb2_negotiate, wire.parse_smb1_negotiate):
        try:
            answer = parse(data)
        except wire.WireError:
            continue  # Then a protocol error ...
        # ... or an answer with plain fields
        assert isinstance(answer, wire.Smb2Answer | wire.Smb1Answer)


@examples(300)
@given(st.binary(min_size=0, max_size=6))
def test_frame_headers_parse_or_are_wire_errors(header: bytes) -> None:
    ran("smb: NetBIOS frame header")
    try:
        kind, length = wire.parse_frame_header(header)
    except wire.WireError:
        return
    assert len(header) == 4 and 0 <= length < 1 << 24
    assert kind in (wire.NBSS_MESSAGE, wire.NBSS_POSITIVE, wire.NBSS_NEGATIVE, wire.NBSS_KEEPALIVE)


@examples(100)
@given(st.binary(max_size=2000))
def test_framing_round_trips(payload: bytes) -> None:
    ran("smb: frame round trip")
    framed = wire.frame(payload)
    assert wire.parse_frame_header(framed[:4]) == (wire.NBSS_MESSAGE, len(payload))
