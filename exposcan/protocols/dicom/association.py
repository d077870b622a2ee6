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
import secrets
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
    study_key,
)
from exposcan.protocols.dicom.pdu import (
    ASSOCIATION_PDU_CAP,
    DATA_PDU_CAP,
    IMPLICIT_VR_LE,
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
from exposcan.protocols.dicom.workflow import (
    WORKFLOW_CONTEXTS,
    WORKLIST_CONTEXT,
    worklist_find_rq,
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
# A count of studies reads at most this many responses per study of its cap
# (per-instance servers answer once per image: a CT study is hundreds; the
# count then says "at least", capped, rather than read a flood's worth).
RESPONSES_PER_STUDY = 4

#: DIMSE responses read in one association at most: a C-FIND counted to its
#: cap, the ones a node sends after our C-CANCEL, an echo and some slack.
#: Past it the peer is flooding, not answering (a flood of C-ECHO
#: responses took 20 s of CPU from one event loop scanning every host).
RESPONSE_SLACK = 64
#: Responses to message IDs we never sent, tolerated before giving up.
MAX_STRAY_RESPONSES = 16
#: The smallest maximum PDU length we fragment for (PS3.8 §D.1 sets none):
#: a PDV item header is 6 bytes; below this a command set would take
#: hundreds of PDUs. A peer asking for less is aborted, not overrun.
MIN_PEER_PDU = 16


def proposed_contexts() -> list[ProposedContext]:
    contexts = [
        ProposedContext(VERIFICATION_CONTEXT, VERIFICATION),
        ProposedContext(FIND_CONTEXT, STUDY_ROOT_FIND),
    ]
    # Context IDs are odd, 1..255 (PS3.8 §9.3.2.2).
    contexts += [ProposedContext(5 + 2 * i, uid) for i, uid in enumerate(STORAGE_CLASSES)]
    contexts += [ProposedContext(cid, uid) for cid, uid, _ in WORKFLOW_CONTEXTS]
    return contexts


def storage_context_ids() -> list[int]:
    return [5 + 2 * i for i in range(len(STORAGE_CLASSES))]


@dataclass
class FindResult:
    """A Study Root C-FIND that counted; no identifier was ever decoded."""

    answered: bool
    #: Distinct studies (keyed StudyInstanceUIDs; a response without one
    #: counts as one study).
    count: int
    capped: bool
    status: int | None
    aborted: bool = False
    #: Pending responses, which per-instance servers make more of.
    responses: int = 0


@dataclass
class Ladder:
    """How far one accepted association got (PS3.8 §7.1 then PS3.7 §9.1)."""

    accepted: Accepted
    echo_status: int | None = None
    find: FindResult | None = None
    storage_accepted: int = 0
    storage_proposed: int = len(STORAGE_CLASSES)
    steps: list[str] = field(default_factory=list)
    #: The peer answered one of our requests inside the association (a
    #: C-ECHO, a C-FIND or the A-RELEASE): only then did it live long enough
    #: for its accepted contexts to be usable. A node that A-ABORTs at once
    #: accepted nothing anyone could use.
    lived: bool = False
    #: Whether the C-FIND was tried and how it ended: None when it was never
    #: sent or never ended (a facts-writer must not claim a refusal then).
    query_refused: bool | None = None
    #: The Modality Worklist count (workflow.py), when its context was accepted.
    worklist: FindResult | None = None
    #: Which workflow and retrieve contexts were accepted (fact field name
    #: -> accepted), by negotiation alone.
    workflow: dict[str, bool] = field(default_factory=dict)


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

    def __init__(self, conn: Connection, response_cap: int = 256) -> None:
        self.conn = conn
        self.accepted: Accepted | None = None
        self._reassembler = Reassembler()
        self._message_id = 0
        self.response_cap = response_cap
        self.responses = 0
        self.stray = 0
        _tune(conn, socket.TCP_NODELAY)

    async def _read(self, cap: int, header_timeout: float | None = None) -> Pdu:
        # dcmtk (Orthanc, storescp) writes a PDU's header and body as two
        # segments with Nagle on: with our delayed ACK, every DIMSE round
        # trip would cost 40 ms (measured: 95 ms -> 5 ms per ladder).
        if hasattr(socket, "TCP_QUICKACK"):
            _tune(self.conn, socket.TCP_QUICKACK)
        # A read from a full buffer does not suspend: give the loop a turn
        # per PDU, so that a flooding peer cannot hold it (other hosts'
        # connects would time out behind it).
        await asyncio.sleep(0)
        return await read_pdu(self.conn, cap, header_timeout)

    @property
    def _send_pdu(self) -> int:
        """Fragment size: the peer's Maximum Length Received (PS3.8 §D.1:
        the largest P-DATA-TF variable field it takes; 0 = no limit)."""
        peer = self.accepted.max_pdu if self.accepted else 0
        if 0 < peer < MIN_PEER_PDU:
            raise PduError(
                f"peer's maximum PDU length is {peer} bytes: too small to carry a "
                "DIMSE fragment, association aborted"
            )
        return OUR_MAX_PDU if peer == 0 else min(peer, OUR_MAX_PDU)

    def _count(self, response: Response, ours: bool) -> None:
        self.responses += 1
        if self.responses > self.response_cap:
            raise PduError(
                f"more than {self.response_cap} DIMSE responses in one association: a flood"
            )
        if not ours:
            self.stray += 1
            if self.stray > MAX_STRAY_RESPONSES:
                raise PduError(f"{self.stray} DIMSE responses to messages never sent, none to ours")

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
                ours = response.command_field == C_ECHO_RSP and response.responding_to == message_id
                self._count(response, ours)
                if ours:
                    return response.status

    async def count_studies(self, transfer_syntax: str, cap: int) -> FindResult:
        """Count the studies of the pending C-FIND responses (PS3.4 §C.4.1),
        C-CANCEL at ``cap`` studies or ``cap`` x RESPONSES_PER_STUDY responses."""
        key = secrets.token_bytes(16)  # dropped with this count: digests link nothing
        implicit = transfer_syntax == IMPLICIT_VR_LE
        self._reassembler.key_of = lambda data: study_key(data, implicit, key)
        try:
            return await self._count_studies(transfer_syntax, cap)
        finally:
            self._reassembler.key_of = None

    async def _count_studies(self, transfer_syntax: str, cap: int) -> FindResult:
        message_id = self._next_id()
        request = find_rq(message_id, FIND_CONTEXT, self._send_pdu, transfer_syntax)
        return await self._count_pending(
            message_id, request, FIND_CONTEXT, cap, RESPONSES_PER_STUDY
        )

    async def count_worklist(self, transfer_syntax: str, cap: int) -> FindResult:
        """Count the scheduled procedure steps of a Modality Worklist C-FIND
        (PS3.4 Annex K): one per pending response (no key: a worklist entry
        is a step, not a study), C-CANCEL at ``cap``."""
        message_id = self._next_id()
        request = worklist_find_rq(message_id, WORKLIST_CONTEXT, self._send_pdu, transfer_syntax)
        return await self._count_pending(message_id, request, WORKLIST_CONTEXT, cap, 1)

    async def _count_pending(
        self, message_id: int, request: bytes, context_id: int, cap: int, per_item: int
    ) -> FindResult:
        """Send a C-FIND ``request`` and count its pending responses: C-CANCEL
        at ``cap`` items or ``cap`` x ``per_item`` responses."""
        await self.conn.send(request)
        studies: set[bytes] = set()
        keyless = responses_seen = 0
        cancelled, after_cancel = False, 0
        # A node that ignores the C-CANCEL is not followed for ever.
        after_cancel_cap = cap + 16
        max_responses = cap * per_item

        def result(answered: bool, status: int | None, aborted: bool = False) -> FindResult:
            count = len(studies) + keyless
            return FindResult(answered, count, cancelled, status, aborted, responses_seen)

        while True:
            try:
                responses = await self._responses()
            except PeerAborted:
                return result(responses_seen > 0, None, aborted=True)
            for response in responses:
                ours = response.command_field == C_FIND_RSP and response.responding_to == message_id
                self._count(response, ours)
                if not ours:
                    continue
                if response.status in PENDING:
                    if cancelled:
                        after_cancel += 1
                        if after_cancel > after_cancel_cap:
                            await self.abort()
                            return result(True, None, aborted=True)
                        continue
                    responses_seen += 1
                    if response.key is None:
                        keyless += 1
                    else:
                        studies.add(response.key)
                    if len(studies) + keyless >= cap or responses_seen >= max_responses:
                        await self.conn.send(cancel_rq(message_id, context_id, self._send_pdu))
                        cancelled = True
                    continue
                answered = responses_seen > 0 or response.status in (SUCCESS, CANCELLED)
                return result(answered, response.status)

    async def release(self, timeout: float) -> bool:
        """A-RELEASE (PS3.8 §7.2), briefly: a node that does not answer is
        aborted, never waited on. True when the peer answered A-RELEASE-RP."""
        try:
            await self.conn.send(build_release_rq())
            async with asyncio.timeout(timeout):
                for _ in range(8):
                    pdu = await self._read(DATA_PDU_CAP)
                    if pdu.type is PduType.RELEASE_RP:
                        return True
                    if pdu.type is PduType.ABORT:
                        return False
        except (ProbeError, TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        await self.abort()
        return False

    async def abort(self) -> None:
        with contextlib.suppress(ProbeError, TimeoutError, OSError):
            await self.conn.send(build_abort())
