"""Health data that is not an image, told by a file's first bytes
(probes/health-data-files.yaml, exposcan/healthdata.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exposcan.catalogue import Catalogue, CatalogueError, default_catalogue
from exposcan.healthdata import health_signatures_from

DICOMDIR_HEAD = b"\x00" * 128 + b"DICM" + b"\x02\x00\x02\x00UI\x14\x00" + b"1.2.840.10008.1.3.10"
CT_HEAD = b"\x00" * 128 + b"DICM" + b"\x02\x00\x02\x00UI\x1a\x00" + b"1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"MSH|^~\\&|LAB|X|||20240101||ORU^R01|1|P|2.5\r", "hl7v2"),
        (b"\x0bMSH|^~\\&|LAB|X\r", "hl7v2"),  # saved with its MLLP start byte
        (b"\xef\xbb\xbfH|^~\\&|LABO|||\r\nP|1||X\r\nOBX|1\r\n", "hprim"),
        (b"H|^~\\&|LABO\nP|1\n", "hprim"),
        (b'<?xml version="1.0"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">', "cda"),
        (b' {"resourceType": "Observation", "id": "x"}', "fhir"),
        (DICOMDIR_HEAD, "dicomdir"),
    ],
)
def test_each_signature_recognises_its_format(head: bytes, kind: str) -> None:
    # Given the first bytes of a file in one of the formats
    # When classified
    # Then the signature id is the format's
    assert default_catalogue().derived(health_signatures_from).classify(head) == kind


@pytest.mark.parametrize(
    "head",
    [
        b"H| a header line and no patient record",  # HPRIM needs its P| record
        b"Some text mentioning MSH| in the middle",  # HL7 v2 starts with MSH
        b'<ClinicalDocument xmlns="urn:other">',  # not the HL7 v3 namespace
        b'{"kind": "settings"}',  # JSON, but no resourceType
        b'"resourceType" outside an object',
        CT_HEAD,  # an image is imaging, not a DICOMDIR
        b"",
    ],
)
def test_lookalikes_are_not_health_data(head: bytes) -> None:
    assert default_catalogue().derived(health_signatures_from).classify(head) is None


def test_a_signature_past_the_read_size_is_not_seen() -> None:
    # Given a FHIR key past the first read_size bytes
    sigs = default_catalogue().derived(health_signatures_from)
    head = b"{" + b" " * sigs.read_size + b'"resourceType": "Patient"}'
    # Then the classifier never looks that far
    assert sigs.classify(head) is None


@pytest.mark.parametrize(
    ("name", "worth"),
    [
        ("00042", True),
        ("RES.001", True),
        ("result.HPR", True),
        ("x/y/bundle.json", True),
        ("photo.jpg", False),
        ("planning.csv", False),
    ],
)
def test_which_names_are_worth_a_read(name: str, worth: bool) -> None:
    assert default_catalogue().derived(health_signatures_from).worth_reading(name) is worth


def test_a_signature_without_clause_is_refused(tmp_path: Path) -> None:
    # Given a catalogue entry whose signature has no clause
    doc = {"kind": "health-data-files", "signatures": [{"id": "empty"}]}
    # When loaded, then it is a catalogue error, not a signature matching everything
    with pytest.raises(CatalogueError, match="at least one clause"):
        health_signatures_from(Catalogue([(tmp_path / "x.yaml", doc)]))
