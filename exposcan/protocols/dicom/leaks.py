"""The DICOM probe's step past images: the worklist count and the workflow
and retrieve services accepted (``workflow.py`` says what is proposed and
why nothing but the worklist C-FIND is ever sent).

Runs inside the association the probe already holds, after the study count:
no extra connection, so a single-threaded node is held no longer than by
the rest of the ladder plus one counted C-FIND.
"""

from __future__ import annotations

from typing import Any

from exposcan.probe import ProbeContext
from exposcan.proofs import declare_proof, proof_text
from exposcan.protocols.dicom.association import Ladder, Session
from exposcan.protocols.dicom.options import DicomOptions
from exposcan.protocols.dicom.pdu import TRANSFER_SYNTAXES
from exposcan.protocols.dicom.workflow import WORKFLOW_CONTEXTS, WORKLIST_CONTEXT

PROOF_WORKLIST = declare_proof("dicom.worklist")

#: How the evidence names each service accepted.
SERVICE_NAMES = {
    "worklist_accepted": "Modality Worklist",
    "mpps_accepted": "MPPS",
    "storage_commitment_accepted": "Storage Commitment",
    "move_accepted": "C-MOVE",
    "get_accepted": "C-GET",
}
WORKLIST_QUERY = "Modality Worklist C-FIND, key Scheduled Procedure Step Sequence > Modality only"


def worklist_responses(cap: int) -> int:
    """DIMSE responses a worklist count may add to an association: its
    pending ones up to the cap, what follows its C-CANCEL, the final one."""
    return cap + cap + 16 + 1


def read_negotiation(ladder: Ladder) -> None:
    """Which workflow and retrieve contexts the A-ASSOCIATE-AC accepted."""
    ladder.workflow = {
        name: ladder.accepted.accepted(cid) is not None for cid, _, name in WORKFLOW_CONTEXTS
    }


async def count_worklist(session: Session, ladder: Ladder, cap: int) -> None:
    """The worklist count, when its context was accepted with a transfer
    syntax we speak; sets ``ladder.lived`` once the node answered."""
    syntax = ladder.accepted.accepted(WORKLIST_CONTEXT)
    if syntax not in TRANSFER_SYNTAXES:
        return
    assert syntax is not None
    ladder.worklist = await session.count_worklist(syntax, cap)
    ladder.lived = True


def association_fields(ladder: Ladder | None) -> dict[str, Any]:
    """What the ``dicom.association`` fact says of the worklist."""
    worklist = ladder.worklist if ladder else None
    return {"worklist_answered": bool(worklist and worklist.answered)}


def record(
    ctx: ProbeContext, port: int, who: dict[str, Any], ladder: Ladder, product: str | None
) -> None:
    """``dicom.worklist`` (the count) and ``dicom.services`` (what was
    accepted), for an association that lived: an association aborted at once
    accepted nothing anyone could use. A worklist answered makes the port a
    health-data service (scheduled patients), joined with the internet view
    and the box's forwards as images are."""
    if not ladder.lived:
        return
    worklist = ladder.worklist
    if worklist is not None and worklist.answered:
        ctx.fact(
            "dicom.worklist",
            port,
            "dicom",
            **who,
            scheduled_count=worklist.count,
            capped=worklist.capped,
            find_cap=ctx.config.options_for(DicomOptions).find_cap,
            query=WORKLIST_QUERY,
        )
        ctx.health_data(
            port,
            "dicom",
            "dicom-worklist",
            product=product,
            kinds=["worklist"],
            proof=proof_text(ctx.catalogue, PROOF_WORKLIST, count=worklist.count),
        )
    accepted = {name: value for name, value in ladder.workflow.items() if value}
    if accepted:
        ctx.fact(
            "dicom.services",
            port,
            "dicom",
            **who,
            **ladder.workflow,
            retrieve_accepted=ladder.workflow.get("move_accepted", False)
            or ladder.workflow.get("get_accepted", False),
            workflow_accepted=ladder.workflow.get("mpps_accepted", False)
            or ladder.workflow.get("storage_commitment_accepted", False),
            accepted_services=[SERVICE_NAMES[name] for name in accepted],
        )
