"""One DICOM association driven from asyncio (PS3.8 §7, PS3.7 §9).

The proof ladder runs inside a single association, so a fragile node sees
one connection per called AE tried: A-ASSOCIATE-RQ proposing Verification,
Study Root C-FIND and a list of storage classes -> C-ECHO -> a C-FIND that
only counts studies (C-CANCEL at the cap) -> A-RELEASE.  Storage is proven by
negotiation alone: no C-STORE is ever sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field

from exposcan.models import ErrorReason
from exposcan.net.netio import Connection, ProbeError
from exposcan.protocols.dicom.dimse import (
    C_ECHO_RSP,
    C_FIND_RSP,
    CANCELLED,
    PENDING,
    STUDY_ROOT_FIND,
    SUCCESS,
    VERIFICATION,
    Reassembler,
    Response,
    cancel_rq,
    echo_rq,
    find_rq,
)
from exposcan.protocols.dicom.pdu import (
    ASSOCIATION_PDU_CAP,
    DATA_PDU_CAP,
    OUR_MAX_PDU,
    Aborted,
    Accepted,
    Answer,
    Pdu,
    PduError,
    PduType,
    ProposedContext,
    build_abort,
    build_associate_rq,
    build_release_rq,
    decode_aborted,
    decode_answer,
    read_pdu,
)

# Storage SOP classes a practice's images come in (PS3.4 Annex B.5): proposing
# them and counting the accepted ones proves write exposure without a C-STORE.
STORAGE_CLASSES: tuple[str, ...] = (
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image
    "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image, for presentation
    "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography, for presentation
    "1.2.840.10008.5.1.4.1.1.1.3",  # Digital Intra-Oral X-Ray, for presentation
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
    "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angiographic Image
    "1.2.840.10008.5.1.4.1.1.20",  # Nuclear Medicine Image
    "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image
    "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic Image
    "1.2.840.10008.5.1.4.1.1.77.1.5.1",  # Ophthalmic Photography 8 Bit
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
)

VERIFICATION_CONTEXT = 1
FIND_CONTEXT = 3


def proposed_contexts() -> list[ProposedContext]:
    contexts = [
        ProposedContext(VERIFICATION_CONTEXT, VERIFICATION),
        ProposedContext(FIND_CONTEXT, STUDY_ROOT_FIND),
    ]
    # Context IDs are odd, 1..255 (PS3.8 §9.3.2.2).
    contexts += [ProposedContext(5 + 2 * i, uid) for i, uid in enumerate(STORAGE_CLASSES)]
    return contexts


def storage_context_ids() -> list[int]:
    return [5 + 2 * i for i in range(len(STORAGE_CLASSES))]


@dataclass
class FindResult:
    """A Study Root C-FIND that counted; no identifier was ever decoded."""

    answered: bool
    count: int
    capped: bool
    status: int | None
    aborted: bool = False


@dataclass
class Ladder:
    """How far one accepted association got (PS3.8 §7.1 then PS3.7 §9.1)."""

    accepted: Accepted
    echo_status: int | None = None
    find: FindResult | None = None
    storage_accepted: int = 0
    storage_proposed: int = len(STORAGE_CLASSES)
    steps: list[str] = field(default_factory=list)


class PeerAborted(ProbeError):
    def __init__(self, aborted: Aborted) -> None:
        super().__init__(ErrorReason.PROTOCOL, aborted.text)
        self.aborted = aborted


def _tune(conn: Connection, option: int) -> None:
    sock = conn.writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)


class Session:
    """Our side of one association on an open connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.accepted: Accepted | None = None
        self._reassembler = Reassembler()
        self._message_id = 0
        _tune(conn, socket.TCP_NODELAY)

    async def _read(self, cap: int, header_timeout: float | None = None) -> Pdu:
        # dcmtk (Orthanc, storescp) writes a PDU's header and body as two
        # segments with Nagle on: with our delayed ACK, every DIMSE round
        # trip would cost 40 ms (measured: 95 ms -> 5 ms per ladder).
        if hasattr(socket, "TCP_QUICKACK"):
            _tune(self.conn, socket.TCP_QUICKACK)
        return await read_pdu(self.conn, cap, header_timeout)

    @property
    def _send_pdu(self) -> int:
        peer = self.accepted.max_pdu if self.accepted else 0
        # 0 = no limit (PS3.8 §D.1); never fragment below a sane floor.
        return OUR_MAX_PDU if peer == 0 else max(256, min(peer, OUR_MAX_PDU))

    def _next_id(self) -> int:
        self._message_id += 1
        return self._message_id

    async def associate(
        self, called_ae: str, calling_ae: str, answer_timeout: float | None = None
    ) -> Answer:
        """A-ASSOCIATE-RQ, then its answer within ``answer_timeout`` (the
        requestor's ARTIM, PS3.8 §9.1.4; default: the read deadline)."""
        await self.conn.send(build_associate_rq(called_ae, calling_ae, proposed_contexts()))
        answer = decode_answer(await self._read(ASSOCIATION_PDU_CAP, answer_timeout))
        if isinstance(answer, Accepted):
            self.accepted = answer
        return answer

    async def _responses(self) -> list[Response]:
        """Read PDUs until at least one DIMSE response is complete."""
        while True:
            pdu = await self._read(DATA_PDU_CAP)
            if pdu.type is PduType.P_DATA_TF:
                done = self._reassembler.feed(pdu.body)
                if done:
                    return done
            elif pdu.type is PduType.ABORT:
                raise PeerAborted(decode_aborted(pdu.body))
            else:
                raise PduError(f"PDU type 0x{pdu.type:02x} inside an association")

    async def echo(self) -> int | None:
        """C-ECHO (PS3.7 §9.1.5); the status, None if the peer ended it."""
        message_id = self._next_id()
        await self.conn.send(echo_rq(message_id, VERIFICATION_CONTEXT, self._send_pdu))
        while True:
            for response in await self._responses():
                if response.command_field == C_ECHO_RSP and response.responding_to == message_id:
                    return response.status

    async def count_studies(self, transfer_syntax: str, cap: int) -> FindResult:
        """Count the pending C-FIND responses (PS3.4 §C.4.1), C-CANCEL at ``cap``."""
        message_id = self._next_id()
        await self.conn.send(find_rq(message_id, FIND_CONTEXT, self._send_pdu, transfer_syntax))
        count, cancelled, after_cancel = 0, False, 0
        # A node that ignores the C-CANCEL is not followed for ever.
        after_cancel_cap = cap + 16
        while True:
            try:
                responses = await self._responses()
            except PeerAborted:
                return FindResult(count > 0, count, cancelled, None, aborted=True)
            for response in responses:
                if response.command_field != C_FIND_RSP or response.responding_to != message_id:
                    continue
                if response.status in PENDING:
                    if cancelled:
                        after_cancel += 1
                        if after_cancel > after_cancel_cap:
                            await self.abort()
                            return FindResult(True, count, True, None, aborted=True)
                        continue
                    count += 1
                    if count >= cap:
                        await self.conn.send(cancel_rq(message_id, FIND_CONTEXT, self._send_pdu))
                        cancelled = True
                    continue
                answered = count > 0 or response.status in (SUCCESS, CANCELLED)
                return FindResult(answered, count, cancelled, response.status)

    async def release(self, timeout: float) -> None:
        """A-RELEASE (PS3.8 §7.2), briefly: a node that does not answer is
        aborted, never waited on."""
        try:
            await self.conn.send(build_release_rq())
            async with asyncio.timeout(timeout):
                for _ in range(8):
                    pdu = await self._read(DATA_PDU_CAP)
                    if pdu.type in (PduType.RELEASE_RP, PduType.ABORT):
                        return
        except (ProbeError, TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        await self.abort()

    async def abort(self) -> None:
        with contextlib.suppress(ProbeError, TimeoutError, OSError):
            await self.conn.send(build_abort())
