"""Decoy signs (probes/decoys/) over the facts a scan records (no network),
and the label in the terminal and HTML reports. The honeypots themselves
are emulated in tests/inprocess/test_decoys.py."""

from __future__ import annotations

from typing import Any

from exposcan.catalogue import default_catalogue
from exposcan.models import DecoyLabel
from exposcan.report.decoy_text import decoy_text
from exposcan.report.i18n import Texts
from exposcan.software.decoys import label_for
from exposcan.state import Fact

CATALOGUE = default_catalogue()


def association(**data: Any) -> Fact:
    base = {"accepted": True, "classification": "open to any caller"}
    return Fact("dicom.association", "203.0.113.9", 11112, "dicom", {**base, **data})


def test_dicompot_identifiers_and_any_called_ae_make_a_likely_decoy() -> None:
    # Given dicompot's default answer: go-dicom's identifiers, any called AE
    facts = [
        association(
            implementation_class_uid="1.2.826.0.1.3680043.9.7133.1.1",
            implementation_version="GODICOM_1_1",
        )
    ]
    # Then the host is a likely decoy, with both signs
    label = label_for(CATALOGUE, facts)
    assert label is not None and label.honeypot == "dicompot"
    assert label.signs == ["decoy.dicompot.go-dicom-identifiers", "decoy.dicompot.any-called-ae"]
    assert label.label == "likely decoy"


def test_one_weak_sign_is_not_enough() -> None:
    # Given go-dicom's identifiers behind a called-AE check, or any AE with dcmtk's
    behind_a_check = association(
        implementation_class_uid="1.2.826.0.1.3680043.9.7133.1.1",
        classification="filtered on the called AE",
    )
    dcmtk_open = association(
        implementation_class_uid="1.2.276.0.7230010.3.0.3.6.7",
        implementation_version="OFFIS_DCMTK_367",
    )
    # Then no label
    assert label_for(CATALOGUE, [behind_a_check]) is None
    assert label_for(CATALOGUE, [dcmtk_open]) is None


def test_dicomhawk_web_page_settles_it_across_protocols() -> None:
    # Given a host whose DICOM port is behind a check but whose web page is DICOMHawk's
    facts = [
        association(classification="filtered on the called AE"),
        Fact(
            "http.fingerprint",
            "203.0.113.9",
            5000,
            "http",
            {"product": "DICOMHawk", "category": "honeypot"},
        ),
    ]
    label = label_for(CATALOGUE, facts)
    assert label is not None and label.honeypot == "DICOMHawk"
    assert label.signs == ["decoy.dicomhawk.own-web-page"]


def test_label_is_worded_in_french_and_english() -> None:
    label = DecoyLabel(
        honeypot="dicompot",
        signs=["decoy.dicompot.any-called-ae", "decoy.unknown.sign"],
        why=["it accepts any called AE title", "an English reason"],
    )
    fr = decoy_text(label, Texts("fr"), CATALOGUE)
    en = decoy_text(label, Texts("en"), CATALOGUE)
    assert fr.startswith("Leurre probable (dicompot) : il accepte tout AE title appelé")
    assert fr.endswith("an English reason")  # a sign this catalogue lacks keeps its English
    assert en.startswith("Likely decoy (dicompot): it accepts any called AE title")
