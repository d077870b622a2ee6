"""What a DICOM node serves beyond images, asked without reading a patient.

Proposed in the association the probe already makes (PS3.8 §9.3.2.2: one
presentation context each), so a fragile node sees no extra connection:

- Modality Worklist Information Model - FIND (PS3.4 Annex K): the scheduled
  procedure steps of the practice, i.e. who comes for which examination.
  Counted by a C-FIND whose identifier asks for one key that names nobody
  (the Modality of the Scheduled Procedure Step Sequence); every pending
  response counts as one scheduled step and its data set is counted, never
  decoded (dimse.Reassembler); C-CANCEL at the cap.
- Modality Performed Procedure Step (PS3.4 Annex F), Storage Commitment Push
  (PS3.4 Annex J), Study Root Q/R MOVE and GET (PS3.4 Annex C): accepted or
  not, by negotiation only. No N-CREATE, N-ACTION, C-MOVE nor C-GET is ever
  sent: a context's acceptance is all that is read.
"""

from __future__ import annotations

from io import BytesIO

from pydicom.dataset import Dataset
from pynetdicom.dimse_messages import C_FIND_RQ
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode

from exposcan.protocols.dicom.dimse import PRIORITY_LOW, encode_request
from exposcan.protocols.dicom.pdu import IMPLICIT_VR_LE

WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
MPPS = "1.2.840.10008.3.1.2.3.3"
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"

#: Presentation context IDs: odd (PS3.8 §9.3.2.2), following the 17 storage
#: contexts (5..37) without a gap (association.proposed_contexts; a unit test
#: checks the sequence).
WORKLIST_CONTEXT = 39
MPPS_CONTEXT = 41
COMMITMENT_CONTEXT = 43
MOVE_CONTEXT = 45
GET_CONTEXT = 47

#: Context ID -> (SOP class, the name of the fact field that says it was
#: accepted). Order is the A-ASSOCIATE-RQ's.
WORKFLOW_CONTEXTS: tuple[tuple[int, str, str], ...] = (
    (WORKLIST_CONTEXT, WORKLIST_FIND, "worklist_accepted"),
    (MPPS_CONTEXT, MPPS, "mpps_accepted"),
    (COMMITMENT_CONTEXT, STORAGE_COMMITMENT, "storage_commitment_accepted"),
    (MOVE_CONTEXT, STUDY_ROOT_MOVE, "move_accepted"),
    (GET_CONTEXT, STUDY_ROOT_GET, "get_accepted"),
)


def worklist_identifier(transfer_syntax: str) -> bytes:
    """The Scheduled Procedure Step Sequence with one item holding only an
    empty Modality (PS3.4 Table K.6-1): a return key that names nobody. No
    name, ID, birth date, accession number or UID is asked for; and an item
    that is not empty keeps a server from expanding the sequence to every
    key it supports (dcmtk's wlmscpfs does so with an empty sequence)."""
    item = Dataset()
    item.Modality = ""
    ds = Dataset()
    ds.ScheduledProcedureStepSequence = [item]
    data = encode(ds, transfer_syntax == IMPLICIT_VR_LE, True)
    assert data is not None  # one sequence of one plain element always encodes
    return bytes(data)


def worklist_find_rq(message_id: int, context_id: int, max_pdu: int, transfer_syntax: str) -> bytes:
    primitive = C_FIND()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = WORKLIST_FIND
    primitive.Priority = PRIORITY_LOW
    primitive.Identifier = BytesIO(worklist_identifier(transfer_syntax))
    return encode_request(C_FIND_RQ(), primitive, context_id, max_pdu)
