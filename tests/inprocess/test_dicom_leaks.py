"""What a DICOM node leaks beyond images: the worklist count and the
workflow and retrieve services accepted by negotiation, against pynetdicom
SCPs with and without those contexts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from exposcan.models import Vantage
from exposcan.protocols.dicom.probe import DicomProbe
from exposcan_lab.topology import CANARY_PATIENTS, CANARY_STRINGS, CANARY_UID_ROOT
from tests.helpers import scan_local


class Seen:
    """What the SCP was asked: every DIMSE request, and the worklist queries."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[str] = []
        self.queries: list[Dataset] = []
        self.yielded = 0
        self.cancelled = False


def scheduled_step(i: int) -> Dataset:
    """A worklist entry full of what must never leak (PS3.4 Table K.6-1)."""
    patient = CANARY_PATIENTS[i % len(CANARY_PATIENTS)]
    step = Dataset()
    step.Modality = "CT"
    step.ScheduledStationAETitle = "CTSCANNER1"
    step.ScheduledProcedureStepStartDate = "20261208"
    step.ScheduledProcedureStepID = f"CNRYSPS{i:03d}"
    ds = Dataset()
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.AccessionNumber = f"CNRYACC9{i:03d}"
    ds.StudyInstanceUID = f"{CANARY_UID_ROOT}.88.{i}"
    ds.ScheduledProcedureStepSequence = [step]
    return ds


@contextmanager
def workflow_scp(
    *,
    worklist: int | None = 4,
    mpps: bool = False,
    commitment: bool = False,
    retrieve: bool = False,
) -> Iterator[Seen]:
    """``worklist``: the scheduled steps it holds (None: no worklist context)."""
    seen = Seen()
    ae = AE(ae_title="ANY-SCP")
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage)
    if worklist is not None:
        ae.add_supported_context(ModalityWorklistInformationFind)
    if mpps:
        ae.add_supported_context(ModalityPerformedProcedureStep)
    if commitment:
        ae.add_supported_context(StorageCommitmentPushModel)
    if retrieve:
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelMove)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        seen.requests.append("C-FIND")
        seen.queries.append(event.identifier)
        for i in range(worklist or 0):
            if event.is_cancelled:
                seen.cancelled = True
                yield 0xFE00, None
                return
            seen.yielded += 1
            # A worklist server reads its steps from a database: 10 ms a
            # step, not a burst of all 300 into the socket before the
            # client's C-CANCEL can arrive (a busy machine's scheduling
            # then decided whether the SCP ever saw it).
            time.sleep(0.01)
            yield 0xFF00, scheduled_step(i)

    def refuse(name: str) -> Any:
        def handler(event: Any) -> Any:
            seen.requests.append(name)
            return 0xC000, None

        return handler

    handlers = [
        (evt.EVT_C_FIND, on_find),
        (evt.EVT_C_STORE, lambda e: seen.requests.append("C-STORE") or 0xC000),
        (evt.EVT_C_GET, refuse("C-GET")),
        (evt.EVT_C_MOVE, refuse("C-MOVE")),
        (evt.EVT_N_CREATE, refuse("N-CREATE")),
        (evt.EVT_N_SET, refuse("N-SET")),
        (evt.EVT_N_ACTION, refuse("N-ACTION")),
    ]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    seen.port = server.server_address[1]
    try:
        yield seen
    finally:
        server.shutdown()


def evidence(report: Any, rule: str) -> dict[str, Any]:
    [found] = [f for f in report.findings if f.rule == rule]
    return dict(found.evidence)


def rules(report: Any) -> set[str]:
    return {f.rule for f in report.findings}


def assert_no_canary(text: str) -> None:
    leaked = [s for s in CANARY_STRINGS if s in text]
    assert not leaked, f"patient data in output: {leaked}"
    assert "CNRYSPS" not in text and "CNRYACC9" not in text and ".88." not in text


async def test_an_open_worklist_gives_worklist_open_with_the_count() -> None:
    # Given a worklist SCP holding 4 scheduled steps of canary patients
    with workflow_scp(worklist=4) as seen:
        # When the DICOM probe scans it
        report = await scan_local([seen.port], [DicomProbe])
    # Then the worklist exposure is a finding with the count, uncapped
    found = evidence(report, "dicom.worklist-open")
    assert (found["scheduled_count"], found["capped"]) == (4, False)
    assert found["called_ae"] == "ANY-SCP"
    # And the query asked for the modality of each step, nothing else
    [query] = seen.queries
    assert [e.keyword for e in query] == ["ScheduledProcedureStepSequence"]
    assert [e.keyword for e in query.ScheduledProcedureStepSequence[0]] == ["Modality"]
    # And only that C-FIND was sent; the port is health data, not "queries refused"
    assert seen.requests == ["C-FIND"]
    assert "dicom.association-open" not in rules(report)
    # And nothing of the entries reached the report
    assert_no_canary(json.dumps(report.model_dump(mode="json")))


async def test_from_the_internet_an_open_worklist_is_health_data_exposure() -> None:
    # Given the same worklist, scanned from the internet vantage
    with workflow_scp(worklist=2) as seen:
        report = await scan_local([seen.port], [DicomProbe], vantage=Vantage.INTERNET)
    # Then it is health data reachable from the internet, named "worklist"
    found = evidence(report, "exposure.internet-health-data")
    assert found["kinds"] == ["worklist"] and found["service"] == "dicom-worklist"
    assert_no_canary(report.to_json())


async def test_the_worklist_count_is_capped_with_a_c_cancel() -> None:
    # Given a worklist of more steps than the cap (50)
    with workflow_scp(worklist=300) as seen:
        report = await scan_local([seen.port], [DicomProbe])
    # Then the count stops at the cap, says so, and the SCP saw the C-CANCEL
    found = evidence(report, "dicom.worklist-open")
    assert (found["scheduled_count"], found["capped"], found["find_cap"]) == (50, True, 50)
    assert seen.cancelled and seen.yielded < 300


async def test_no_worklist_context_no_worklist_finding() -> None:
    # Given a storage-only SCP (no worklist, no workflow, no retrieve context)
    with workflow_scp(worklist=None) as seen:
        report = await scan_local([seen.port], [DicomProbe])
    # Then none of the new findings, and it is still "association open"
    assert not rules(report) & {
        "dicom.worklist-open",
        "dicom.retrieve-open",
        "dicom.workflow-open",
    }
    assert "dicom.association-open" in rules(report)
    assert seen.requests == []


async def test_retrieve_and_workflow_accepted_by_negotiation_only() -> None:
    # Given an SCP accepting MPPS, storage commitment, C-MOVE and C-GET
    with workflow_scp(worklist=None, mpps=True, commitment=True, retrieve=True) as seen:
        report = await scan_local([seen.port], [DicomProbe])
    # Then each is recorded as accepted
    assert evidence(report, "dicom.retrieve-open") == {
        **evidence(report, "dicom.retrieve-open"),
        "move_accepted": True,
        "get_accepted": True,
    }
    workflow = evidence(report, "dicom.workflow-open")
    assert workflow["mpps_accepted"] is True and workflow["storage_commitment_accepted"] is True
    # And not one request of theirs was sent (nor any C-FIND: no query context)
    assert seen.requests == []


async def test_mpps_alone_is_workflow_open_not_retrieve_open() -> None:
    # Given an SCP accepting MPPS only
    with workflow_scp(worklist=None, mpps=True) as seen:
        report = await scan_local([seen.port], [DicomProbe])
    # Then workflow-open with MPPS, and no retrieve finding
    workflow = evidence(report, "dicom.workflow-open")
    assert (workflow["mpps_accepted"], workflow["storage_commitment_accepted"]) == (True, False)
    assert "dicom.retrieve-open" not in rules(report)
    assert seen.requests == []
