"""The DICOM probe against the lab's real nodes (Orthanc 1.10.1 in its 2020
state and well configured, dcmtk 3.6.7 storescp, the hostile host), through
the real CLI run on the workstation, at -vv."""

from __future__ import annotations

import json
import time

import pytest

from exposcan.protocols.dicom.probe import AE_FROM_HINT
from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.helpers import assert_valid_report
from tests.lab.conftest import run_exposcan
from tests.support.lab_scan import LabScan

pytestmark = pytest.mark.lab

# The DICOM ports of the lab, plus the open PACS's web API: the HTTP probe
# (phase 20) learns the called AE there before the DICOM probe (phase 60).
PORTS = f"{t.PACS_DICOM_PORT},{t.SECURE_DICOM_PORT},{t.MODALITY_PORT},{t.PACS_HTTP_PORT}"
DICOM_RULES = {"dicom.query-open", "dicom.store-open", "dicom.association-open", "dicom.cleartext"}
# What Debian's dcmtk 3.6.7 (storescp, and Orthanc 1.10.1 built on it) sends
# in its A-ASSOCIATE-AC, seen in this lab.
DCMTK_367 = ("1.2.276.0.7230010.3.0.3.6.7", "OFFIS_DCMTK_367")


@pytest.fixture(scope="module")
def dicom_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> LabScan:
    # One scan from the workstation of both PACS, the modality and the junk host
    out = tmp_path_factory.mktemp("dicom-lan") / "report.json"
    before = lab.orthanc_instance_count(t.PACS.name)
    targets = [str(h.ip) for h in (t.PACS, t.PACS_SECURE, t.MODALITY, t.QRSCP, t.JUNK)]
    start = time.monotonic()
    proc = run_exposcan(
        lab,
        "ws",
        [
            "scan",
            *targets,
            "-p",
            PORTS,
            "--no-discovery",
            "-o",
            str(out),
            "-vv",
            "--fail-on",
            "never",
        ],
        timeout=180,
    )
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert_valid_report(report)
    after = lab.orthanc_instance_count(t.PACS.name)
    stored = [p for p in lab.storescp_dir.rglob("*") if p.is_file()]
    return LabScan(
        report, proc.stdout, proc.stderr, seconds, proc.returncode, before, after, stored
    )


def test_the_2020_orthanc_answers_queries_once_its_ae_is_learned(dicom_scan: LabScan) -> None:
    # Given Orthanc 1.10.1 on 198.18.0.10:104, checking its called AE
    # (CABINETRADIO, which no default guess matches) and disclosing it at
    # GET /system without authentication
    found = dicom_scan.findings(t.PACS.ip, t.PACS_DICOM_PORT)
    # Then the query is proven with the AE learned from the web API
    query = found["dicom.query-open"]
    assert query["study_count"] == t.EXPECTED_PACS_STUDIES and query["capped"] is False
    assert query["called_ae"] == t.PACS_AET and query["calling_ae"] == "EXPOSCAN"
    assert query["ae_source"] == AE_FROM_HINT
    # And its defaults (DicomAlwaysAllowStore) take anyone's images
    assert found["dicom.store-open"]["storage_contexts_accepted"] >= 1
    assert "dicom.cleartext" in found
    # And the node is fingerprinted from its A-ASSOCIATE-AC
    service = dicom_scan.service(t.PACS.ip, t.PACS_DICOM_PORT)
    details = service["details"]
    assert service["protocol"] == "dicom"
    assert (details["implementation_class_uid"], details["implementation_version"]) == DCMTK_367
    assert details["ae_title"] == t.PACS_AET


def test_the_well_configured_orthanc_exposes_no_query(dicom_scan: LabScan) -> None:
    # Given Orthanc with a checked AE (SECUREPACS7), HTTP authentication on
    # (nothing disclosed) and nothing allowed to unknown callers
    found = dicom_scan.findings(t.PACS_SECURE.ip, t.SECURE_DICOM_PORT)
    # Then DICOM is confirmed by its rejections but nothing is exposed
    assert "dicom.query-open" not in found and "dicom.store-open" not in found
    assert "dicom.association-open" not in found
    service = dicom_scan.service(t.PACS_SECURE.ip, t.SECURE_DICOM_PORT)
    assert service["protocol"] == "dicom"
    assert service["details"]["classification"] == "filtered on the called AE"
    assert not dicom_scan.errors(t.PACS_SECURE.ip, t.SECURE_DICOM_PORT)


def test_retrieve_and_workflow_services_are_read_from_negotiation(dicom_scan: LabScan) -> None:
    # Given the 2020 Orthanc (DicomAlwaysAllowGet/Move false), pynetdicom's
    # qrscp app and dcmtk storescp
    pacs = dicom_scan.findings(t.PACS.ip, t.PACS_DICOM_PORT)
    qrscp = dicom_scan.findings(t.QRSCP.ip, t.QRSCP_PORT)
    modality = dicom_scan.findings(t.MODALITY.ip, t.MODALITY_PORT)
    # Then Orthanc 1.10.1 accepts the C-MOVE and C-GET contexts from anyone
    # (its Get/Move settings judge requests, and none is sent) and storage
    # commitment, but not MPPS
    retrieve = pacs["dicom.retrieve-open"]
    assert (retrieve["move_accepted"], retrieve["get_accepted"]) == (True, True)
    workflow = pacs["dicom.workflow-open"]
    assert (workflow["storage_commitment_accepted"], workflow["mpps_accepted"]) == (True, False)
    # And qrscp negotiates retrieval, and answers the worklist C-FIND with no
    # match (pynetdicom's app serves the model, empty): open, 0 scheduled
    assert "dicom.retrieve-open" in qrscp
    assert qrscp["dicom.worklist-open"]["scheduled_count"] == 0
    # And storescp none of it, Orthanc (no worklist plugin) no worklist
    new = {"dicom.retrieve-open", "dicom.workflow-open", "dicom.worklist-open"}
    assert not new & set(modality)
    assert "dicom.worklist-open" not in pacs


def test_storescp_accepts_anyones_images(dicom_scan: LabScan) -> None:
    # Given dcmtk storescp on 198.18.0.40:11112
    found = dicom_scan.findings(t.MODALITY.ip, t.MODALITY_PORT)
    # Then write exposure is proven, and queries are not
    assert found["dicom.store-open"]["storage_contexts_accepted"] >= 1
    assert "dicom.query-open" not in found
    service = dicom_scan.service(t.MODALITY.ip, t.MODALITY_PORT)
    assert (service["product"], service["version"]) == ("dcmtk", "3.6.7")
    assert service["details"]["implementation_version"] == DCMTK_367[1]


def test_dicom_looking_garbage_is_an_error_not_a_finding(dicom_scan: LabScan) -> None:
    # Given the junk host's port 104: a PDU-like header announcing 2 GiB
    found = dicom_scan.findings(t.JUNK.ip, t.HOSTILE_DICOM_PORT)
    # Then no DICOM finding, no confirmation, and one protocol error
    assert not set(found) & DICOM_RULES
    assert dicom_scan.service(t.JUNK.ip, t.HOSTILE_DICOM_PORT)["product"] is None
    errors = dicom_scan.errors(t.JUNK.ip, t.HOSTILE_DICOM_PORT)
    assert [(e["probe"], e["reason"]) for e in errors] == [("dicom", "protocol")]


def test_no_patient_data_in_any_output(dicom_scan: LabScan) -> None:
    # Given everything the scan printed, logged (-vv) and wrote
    everything = "\n".join([json.dumps(dicom_scan.report), dicom_scan.stdout, dicom_scan.stderr])
    # Then no canary patient, ID, birth date or UID appears
    leaked = [s for s in (*t.CANARY_STRINGS, *t.SECRET_STRINGS) if s in everything]
    assert not leaked


def test_the_targets_are_unchanged(dicom_scan: LabScan) -> None:
    # Given the scan is over
    # Then the PACS holds the same instances and storescp received nothing
    assert dicom_scan.after == dicom_scan.before == t.EXPECTED_PACS_INSTANCES
    assert dicom_scan.stored == []


def test_a_per_instance_qrscp_counts_studies_not_responses(dicom_scan: LabScan) -> None:
    # Given pynetdicom's qrscp app holding 3 studies of 6 instances, which
    # answers a STUDY-level C-FIND once per instance
    found = dicom_scan.findings(t.QRSCP.ip, t.QRSCP_PORT)
    query = found["dicom.query-open"]
    # Then the count is of studies, from as many responses as instances
    assert query["study_count"] == t.EXPECTED_QRSCP_STUDIES
    assert query["responses"] == t.EXPECTED_QRSCP_INSTANCES and query["capped"] is False
    # and the node is told apart from dcmtk by its implementation
    assert dicom_scan.service(t.QRSCP.ip, t.QRSCP_PORT)["product"] == "pynetdicom"
