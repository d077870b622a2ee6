"""Each protocol's options: named by its registry entry, validated when
built, read by its probe through ``ScanConfig.options_for``; the CLI's DICOM
flags build the DICOM ones."""

from __future__ import annotations

import dataclasses

import pytest

from exposcan.catalogue import default_catalogue
from exposcan.cli import _config, build_parser
from exposcan.config import ScanConfig
from exposcan.protocols import PROTOCOLS, default_options, options_types
from exposcan.protocols.dicom.options import DicomOptions
from exposcan.protocols.ftp.options import FtpOptions
from exposcan.protocols.ftp.probe import walk_limits as ftp_walk_limits
from exposcan.protocols.smb.options import SmbOptions
from exposcan.protocols.smb.probe import walk_limits as smb_walk_limits


def config(**options: object) -> ScanConfig:
    return ScanConfig(ports=[104], ports_spec="104", options=options)


def test_every_options_type_names_its_entry_and_builds_with_defaults() -> None:
    # Given the registry's options types
    kinds = options_types()
    # Then DICOM, SMB and FTP have one, each named after its entry, frozen,
    # every field with a default
    assert set(kinds) == {"dicom", "smb", "ftp"}
    assert {p.name for p in PROTOCOLS if p.options} == set(kinds)
    for name, kind in kinds.items():
        assert getattr(kind, "protocol") == name  # noqa: B009 (a ClassVar of any type)
        assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen  # type: ignore[attr-defined]
    # and a config built with no options holds each protocol's defaults
    assert ScanConfig(ports=[], ports_spec="").options == default_options()


def test_a_probe_reads_the_options_given_else_the_defaults() -> None:
    # Given a config with DICOM options and none for SMB
    given = config(dicom=DicomOptions(calling_ae="CABINET", find_cap=5))
    # Then DICOM's are those given, SMB's the defaults
    assert given.options_for(DicomOptions).calling_ae == "CABINET"
    assert given.options_for(DicomOptions).find_cap == 5
    assert given.options_for(SmbOptions) == SmbOptions()


def test_options_of_another_type_under_a_protocol_name_are_refused() -> None:
    # Given SMB options filed under the DICOM name
    wrong = config(dicom=SmbOptions())
    # Then reading DICOM's is a type error, not SMB's numbers taken as DICOM's
    with pytest.raises(TypeError, match="SmbOptions"):
        wrong.options_for(DicomOptions)


@pytest.mark.parametrize(
    "build",
    [
        lambda: DicomOptions(calling_ae="A\\B"),
        lambda: DicomOptions(calling_ae="    "),
        lambda: DicomOptions(calling_ae="X" * 17),
        lambda: DicomOptions(max_ae_guesses=0),
        lambda: DicomOptions(association_timeout=0.0),
        lambda: DicomOptions(find_cap=0),
        lambda: SmbOptions(max_depth=-1),
        lambda: FtpOptions(max_requests=-1),
    ],
)
def test_invalid_options_are_refused_when_built(build: object) -> None:
    # When options out of their range are built; Then a ValueError
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_the_walk_limits_are_the_scan_s_options() -> None:
    # Given SMB and FTP options other than the defaults
    smb = smb_walk_limits(SmbOptions(max_requests=7, max_bytes=1024, max_seconds=3, max_depth=2))
    ftp = ftp_walk_limits(FtpOptions(max_requests=9, max_depth=1), deadline=42.0)
    # Then the walks are bounded by them
    assert (smb.requests, smb.bytes, smb.seconds, smb.depth) == (7, 1024, 3.0, 2)
    assert (ftp.requests, ftp.depth, ftp.deadline) == (9, 1, 42.0)
    assert ftp.bytes == FtpOptions().max_bytes


def test_the_cli_s_dicom_flags_build_the_dicom_options() -> None:
    # Given the scan flags users know
    args = build_parser().parse_args(
        ["scan", "--calling-ae", "CABINET", "--association-timeout", "5", "127.0.0.1"]
    )
    # When the scan's config is built
    built = _config(args, default_catalogue())
    # Then they are the DICOM options, the other fields at their defaults
    assert built.options_for(DicomOptions) == DicomOptions(
        calling_ae="CABINET", association_timeout=5.0
    )


def test_the_cli_refuses_a_calling_ae_that_is_no_ae_title(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When --calling-ae holds a backslash (no AE title may, PS3.5 §6.2)
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["scan", "--calling-ae", "A\\B", "127.0.0.1"])
    # Then a usage error (exit 2) naming the flag
    assert exit_.value.code == 2
    assert "--calling-ae" in capsys.readouterr().err
