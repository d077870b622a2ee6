"""The DICOM probe's facts (what the catalogue's ``dicom.*`` rules match)."""

from __future__ import annotations

from exposcan.facts import FactModel, TlsFields, fact_kind


class _Who(FactModel):
    called_ae: str | None = None
    calling_ae: str | None = None
    #: How the called AE title was found (a hint, the catalogue's defaults...).
    ae_source: str | None = None


@fact_kind("dicom.association")
class DicomAssociation(_Who):
    """The outcome of the association ladder (PS3.8 §7.1 A-ASSOCIATE)."""

    accepted: bool
    classification: str
    ae_titles_tried: int | None = 0
    random_called_ae: str | None = None
    answer_seconds: float | None = None
    slow: bool | None = False
    rejection: str | None = None
    implementation_class_uid: str | None = None
    implementation_version: str | None = None
    product: str | None = None
    version: str | None = None
    tls: bool | None = False
    proof: list[str] | None = []
    echo_status: int | None = None
    query_answered: bool | None = False
    storage_contexts_accepted: int | None = 0
    #: A Modality Worklist C-FIND answered (the count is ``dicom.worklist``).
    worklist_answered: bool | None = False


@fact_kind("dicom.query")
class DicomQuery(_Who):
    """A Study Root C-FIND answered: counts only, never a UID (PS3.4 C.4.1)."""

    study_count: int
    #: C-FIND responses read (pending ones, before the cap's C-CANCEL).
    responses: int | None = None
    capped: bool | None = False
    find_cap: int | None = None
    query: str | None = None


@fact_kind("dicom.store")
class DicomStore(_Who):
    """Storage presentation contexts accepted, by negotiation alone."""

    storage_contexts_accepted: int
    storage_contexts_proposed: int | None = None


@fact_kind("dicom.transport")
class DicomTransport(TlsFields):
    """Clear text or TLS (PS3.15 Annex B)."""

    tls: bool
    classification: str | None = None
    #: The node asked for a client certificate (CertificateRequest) and
    #: refused our connection without one: unknown callers are kept out.
    client_certificate_required: bool | None = None


@fact_kind("dicom.worklist")
class DicomWorklist(_Who):
    """A Modality Worklist C-FIND answered (PS3.4 Annex K): the count of
    scheduled procedure steps, never a name, an ID or a UID."""

    scheduled_count: int
    capped: bool | None = False
    find_cap: int | None = None
    query: str | None = None


@fact_kind("dicom.services")
class DicomServices(_Who):
    """Workflow and retrieve SOP classes accepted at negotiation (PS3.8
    §9.3.3.2); no request of theirs was ever sent."""

    worklist_accepted: bool | None = False
    mpps_accepted: bool | None = False
    storage_commitment_accepted: bool | None = False
    move_accepted: bool | None = False
    get_accepted: bool | None = False
    #: C-MOVE or C-GET.
    retrieve_accepted: bool | None = False
    #: MPPS or storage commitment.
    workflow_accepted: bool | None = False
    accepted_services: list[str] | None = []
