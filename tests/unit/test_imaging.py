"""Imaging file recognition shared by the HTTP and SMB walks (exposcan.imaging)."""

from __future__ import annotations

import pytest

from exposcan.catalogue import default_catalogue
from exposcan.imaging import (
    MAGIC_READ,
    has_dicm_magic,
    has_no_extension,
    is_dicomdir,
    is_imaging_name,
    magic_worth_testing,
    signatures_from,
)

#: The shipped catalogue's signatures, as a scan gives them to the walks.
SIGS = default_catalogue().derived(signatures_from)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CT0001.dcm", "dcm"),
        ("archives/IM.DCM", "dcm"),
        ("share\\folder\\x.dicom", "dicom"),
        ("scan.IMA", "ima"),
        ("DICOMDIR", "DICOMDIR"),
        ("cd/dicomdir", "DICOMDIR"),
        ("LISEZMOI.txt", None),
        ("IM000001", None),
        ("planning.csv", None),
        (".dcm", None),  # a hidden file named ".dcm" has no extension
    ],
)
def test_is_imaging_name(name: str, expected: str | None) -> None:
    # Given a file name from a share or a listing
    # When it is judged by name alone
    # Then the catalogue's extensions and DICOMDIR decide
    assert is_imaging_name(name, SIGS) == expected


def test_dicm_magic_at_byte_128() -> None:
    # Given a DICOM Part 10 header (PS3.10 §7.1): 128-byte preamble + "DICM"
    head = b"\x00" * 128 + b"DICM"
    # Then the magic is recognised, and not one byte off or truncated
    assert MAGIC_READ == 132
    assert has_dicm_magic(head, SIGS)
    assert has_dicm_magic(head + b"\x02\x00", SIGS)
    assert not has_dicm_magic(b"\x00" * 127 + b"DICM", SIGS)
    assert not has_dicm_magic(head[:131], SIGS)
    assert not has_dicm_magic(b"DICM" + b"\x00" * 128, SIGS)


def test_names_that_need_the_magic_test() -> None:
    # Given names modalities give to exported files
    # Then no extension or an all-digit one (a UID as name) need the magic;
    # named files do not
    assert magic_worth_testing("IM000001", SIGS)
    assert magic_worth_testing("1.2.840.113619.2.55.3.604688119", SIGS)
    assert not magic_worth_testing("CT0001.dcm", SIGS)
    assert not magic_worth_testing("LISEZMOI.txt", SIGS)
    assert has_no_extension("a/b/00000001")
    assert not has_no_extension("a/b.c/file.txt")
    assert is_dicomdir("EXPORT/DICOMDIR")
    assert not is_dicomdir("DICOMDIR.txt")


def test_catalogue_file_is_loaded() -> None:
    # Given the shipped catalogue
    sigs = signatures_from(default_catalogue())
    # Then its extensions, names and magic are those of probes/imaging-files.yaml
    assert {"dcm", "dicom", "ima"} <= sigs.extensions
    assert "DICOMDIR" in sigs.names
    assert (sigs.magic_offset, sigs.magic, sigs.read_size) == (128, b"DICM", 132)
