"""The DICOM probe's catalogue, AE strategy, classification and rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exposcan.catalogue import default_catalogue
from exposcan.config import ScanConfig
from exposcan.findings import evaluate
from exposcan.limits import Limits
from exposcan.models import Severity, Vantage
from exposcan.probe import ProbeContext
from exposcan.protocols.dicom.association import Ladder
from exposcan.protocols.dicom.catalogue import default_ae_titles, fingerprint
from exposcan.protocols.dicom.options import DicomOptions
from exposcan.protocols.dicom.pdu import Accepted, Rejected, RejectReason
from exposcan.protocols.dicom.probe import (
    AE_DEFAULT,
    AE_FROM_HINT,
    Classification,
    Node,
    called_ae_candidates,
)
from exposcan.state import Fact, HostState, ScanState

CATALOGUE = default_catalogue()


@pytest.fixture
def ctx() -> Iterator[ProbeContext]:
    limits = Limits(10, 2, 0)
    yield ProbeContext(
        HostState("198.18.0.10"),
        ScanState(),
        ScanConfig(
            ports=[104], ports_spec="104", options={"dicom": DicomOptions(max_ae_guesses=4)}
        ),
        CATALOGUE,
        limits,
        "dicom",
    )
    limits.close()


@pytest.mark.parametrize(
    "uid,name,expected",
    [
        # Debian's Orthanc 1.10.1 and dcmtk storescp alike (verified in the lab)
        ("1.2.276.0.7230010.3.0.3.6.7", "OFFIS_DCMTK_367", ("dcmtk", "3.6.7")),
        ("1.2.826.0.1.3680043.9.3811.3.0.4", "PYNETDICOM_304", ("pynetdicom", "3.0.4")),
        ("1.2.40.0.13.1.3", "dcm4che-5.25.1", ("dcm4che", "5.25.1")),
        ("1.2.826.0.1.3680043.2.135.1066.101", "1.5.0/WIN32", ("Conquest", "1.5.0")),
        # Device makers by their organisation root (no version derived)
        ("1.2.840.113619.6.286", "MR_DV26", ("GE Healthcare", None)),
        ("1.3.12.2.1107.5.2", "SIEMENS_SWFVE11C", ("Siemens Healthineers", None)),
        ("1.3.46.670589.30.41.0", "PHILIPS", ("Philips", None)),
        ("1.2.3.4", "SOMETHING", (None, None)),
        (None, None, (None, None)),
    ],
)
def test_implementations_map_to_products(
    uid: str | None, name: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert fingerprint(CATALOGUE, uid, name) == expected


def test_the_default_ae_titles_are_the_documented_ones() -> None:
    titles = default_ae_titles(CATALOGUE)
    assert titles[:7] == [
        "ANY-SCP",
        "ORTHANC",
        "DCM4CHEE",
        "CONQUESTSRV1",
        "OSIRIX",
        "HOROS",
        "STORESCP",
    ]


def test_a_disclosed_ae_title_is_tried_first_and_guesses_are_bounded(ctx: ProbeContext) -> None:
    # Given an AE title disclosed by the host's web API, and an invalid one
    ctx.host.add_hint("dicom.ae_title", "CABINETRADIO")
    ctx.host.add_hint("dicom.ae_title", "WAY-TOO-LONG-FOR-AN-AE")
    # Then the valid hint comes first, defaults follow, 4 in all (max_ae_guesses)
    assert called_ae_candidates(ctx) == [
        ("CABINETRADIO", AE_FROM_HINT),
        ("ANY-SCP", AE_DEFAULT),
        ("ORTHANC", AE_DEFAULT),
        ("DCM4CHEE", AE_DEFAULT),
    ]


def test_without_hint_defaults_are_tried(ctx: ProbeContext) -> None:
    assert [t for t, _ in called_ae_candidates(ctx)] == [
        "ANY-SCP",
        "ORTHANC",
        "DCM4CHEE",
        "CONQUESTSRV1",
    ]


CALLED = Rejected(1, 1, RejectReason.CALLED_AE_NOT_RECOGNISED)
CALLING = Rejected(1, 1, RejectReason.CALLING_AE_NOT_RECOGNISED)
BUSY = Rejected(2, 3, RejectReason.TEMPORARY_CONGESTION)
LADDER = Ladder(Accepted(None, None, 0))


@pytest.mark.parametrize(
    "node,expected",
    [
        (Node(ladder=LADDER), Classification.OPEN),
        (Node(ladder=LADDER, ae_source=AE_FROM_HINT), Classification.OPEN_KNOWN_AE),
        (Node(ladder=LADDER, rejections=[CALLED, CALLED]), Classification.CALLED_AE),
        (Node(rejections=[CALLED, CALLED]), Classification.CALLED_AE),
        (Node(rejections=[CALLED, CALLING]), Classification.CALLING_AE),
        (Node(rejections=[BUSY]), Classification.REFUSED),
    ],
)
def test_nodes_are_classified_by_what_they_rejected(node: Node, expected: Classification) -> None:
    assert node.classification() is expected


def _findings(kind: str, **data: object) -> dict[str, Severity]:
    fact = Fact(kind, "198.18.0.10", 104, "dicom", dict(data))
    return {f.rule: f.severity for f in evaluate(CATALOGUE, [fact], Vantage.LAN)}


def test_the_rules_turn_dicom_facts_into_findings() -> None:
    assert _findings("dicom.query", study_count=4, capped=False) == {
        "dicom.query-open": Severity.HIGH
    }
    assert _findings("dicom.store", storage_contexts_accepted=3) == {
        "dicom.store-open": Severity.MEDIUM
    }
    assert _findings("dicom.store", storage_contexts_accepted=0) == {}
    assert _findings(
        "dicom.association", accepted=True, query_answered=False, worklist_answered=False
    ) == {"dicom.association-open": Severity.LOW}
    # A worklist answered is a query answered: its own finding, not this one
    assert (
        _findings("dicom.association", accepted=True, query_answered=False, worklist_answered=True)
        == {}
    )
    assert _findings("dicom.worklist", scheduled_count=3) == {"dicom.worklist-open": Severity.HIGH}
    assert _findings("dicom.services", retrieve_accepted=True) == {
        "dicom.retrieve-open": Severity.MEDIUM
    }
    assert _findings("dicom.services", workflow_accepted=True) == {
        "dicom.workflow-open": Severity.LOW
    }
    assert _findings("dicom.services", retrieve_accepted=False, workflow_accepted=False) == {}
    assert _findings("dicom.association", accepted=True, query_answered=True) == {}
    assert _findings("dicom.association", accepted=False, query_answered=False) == {}
    assert _findings("dicom.transport", tls=False) == {"dicom.cleartext": Severity.LOW}
    assert _findings("dicom.transport", tls=True) == {}


def test_the_query_finding_copies_counts_and_aes_only() -> None:
    fact = Fact(
        "dicom.query",
        "198.18.0.10",
        104,
        "dicom",
        {
            "study_count": 50,
            "capped": True,
            "find_cap": 50,
            "called_ae": "X",
            "calling_ae": "EXPOSCAN",
            "ae_source": AE_FROM_HINT,
            "other": "dropped",
        },
    )
    [finding] = evaluate(CATALOGUE, [fact], Vantage.LAN)
    assert finding.evidence == {
        "study_count": 50,
        "capped": True,
        "find_cap": 50,
        "called_ae": "X",
        "calling_ae": "EXPOSCAN",
        "ae_source": AE_FROM_HINT,
    }
    assert any("part15" in r for r in finding.references)


def test_vendor_defaults_follow_the_documented_ones() -> None:
    # Given the catalogue's AE titles
    titles = default_ae_titles(CATALOGUE)
    # Then Dicoogle's and pynetdicom qrscp's defaults are among them, and the
    # default bound reaches them
    assert {"DICOOGLE-STORAGE", "QRSCP"} <= set(titles)
    assert ScanConfig(ports=[104], ports_spec="104").options_for(
        DicomOptions
    ).max_ae_guesses >= len(titles)


def test_an_unknown_implementation_keeps_its_uid_root() -> None:
    from exposcan.protocols.dicom.probe import uid_root

    # Given a class UID no maker of the table owns
    # Then its organisation root is what a reader can look up
    assert uid_root("1.2.999.12345.1.2.3.4.5") == "1.2.999.12345.1.2"
    assert uid_root("1.2.3") == "1.2.3"
