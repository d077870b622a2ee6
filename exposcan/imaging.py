"""Recognising medical-image files by name or first bytes.

The catalogue file ``probes/imaging-files.yaml`` (kind ``imaging-files``) says
which extensions, names and magic make an imaging file; the HTTP listing walk
and the SMB share walk both ask here.  Nothing in this module keeps a name:
callers count, and report extensions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from exposcan.catalogue import Catalogue, CatalogueModel, catalogue_kind

# PS3.10 §7.1: a 128-byte preamble then "DICM".  Used when no catalogue entry
# says otherwise (and as the reading size the callers must request).
MAGIC_OFFSET = 128
MAGIC = b"DICM"
#: How many leading bytes a caller reads to test the magic (bytes 0..131).
MAGIC_READ = MAGIC_OFFSET + len(MAGIC)


def _base(name: str) -> str:
    """The last component of a share (``\\``) or URL (``/``) path."""
    return name.rstrip("/\\").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


@dataclass(frozen=True)
class ImagingSignatures:
    extensions: frozenset[str]
    names: frozenset[str]
    magic_offset: int = MAGIC_OFFSET
    magic: bytes = MAGIC
    #: Folder names (upper-case) that imaging exports use: the SMB probe
    #: tries them as share names a listing hides.  (The walk's order is
    #: the catalogue's folder scores: exposcan/walk/scores.py.)
    folders: frozenset[str] = frozenset()

    @property
    def read_size(self) -> int:
        return self.magic_offset + len(self.magic)

    def extension_of(self, name: str) -> str | None:
        """The imaging extension (lower-case, no dot) or the special name
        (upper-case, e.g. ``DICOMDIR``) ``name`` carries, else None."""
        base = _base(name)
        if base.upper() in self.names:
            return base.upper()
        if "." not in base.strip("."):
            return None
        ext = base.rsplit(".", 1)[1].lower()
        return ext if ext in self.extensions else None

    def has_magic(self, head: bytes) -> bool:
        end = self.magic_offset + len(self.magic)
        return len(head) >= end and head[self.magic_offset : end] == self.magic


def _ascii(text: str) -> str:
    text.encode("ascii")  # a UnicodeEncodeError is a ValueError: refused at load
    return text


class Magic(CatalogueModel):
    offset: int = Field(default=MAGIC_OFFSET, ge=0, le=4096)
    bytes_: Annotated[str, AfterValidator(_ascii)] = Field(
        default="DICM", alias="bytes", min_length=1, max_length=16
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


@catalogue_kind("imaging-files")
class ImagingFiles(CatalogueModel):
    """``probes/imaging-files.yaml``: what makes a file an imaging file."""

    magic: Magic | None = None
    extensions: list[str] = Field(default_factory=list)  # lower-case, no dot
    names: list[str] = Field(default_factory=list)  # file names, any case
    #: Folder names imaging exports use (any case): tried as hidden shares.
    folders: list[str] = Field(default_factory=list)


def signatures_from(catalogue: Catalogue) -> ImagingSignatures:
    extensions: set[str] = set()
    names: set[str] = set()
    folders: set[str] = set()
    offset, magic = MAGIC_OFFSET, MAGIC
    for entry in catalogue.documents(ImagingFiles):
        extensions.update(e.lower().lstrip(".") for e in entry.extensions)
        names.update(n.upper() for n in entry.names)
        folders.update(f.upper() for f in entry.folders)
        if entry.magic is not None:
            offset, magic = entry.magic.offset, entry.magic.bytes_.encode("ascii")
    if not extensions:  # a catalogue without the file still knows DICOM
        extensions = {"dcm"}
        names = names or {"DICOMDIR"}
    return ImagingSignatures(
        frozenset(extensions), frozenset(names), offset, magic, frozenset(folders)
    )


def is_imaging_name(name: str, signatures: ImagingSignatures) -> str | None:
    """The imaging extension of ``name`` (``"dcm"``) or ``"DICOMDIR"``, else None."""
    return signatures.extension_of(name)


def is_dicomdir(name: str) -> bool:
    """PS3.10 §8 media directory (a CD/USB export of whole exams)."""
    base = _base(name)
    return base.upper() == "DICOMDIR"


def has_no_extension(name: str) -> bool:
    """Exports often name files by number only: those need the magic test."""
    base = _base(name)
    return "." not in base.strip(".")


def magic_worth_testing(name: str, signatures: ImagingSignatures) -> bool:
    """A name that may hide a DICOM file: no extension, or an all-digit one
    (modalities name files by number or by SOP Instance UID, ``1.2.840...``).
    Such files need the 132-byte magic test; others are judged by name."""
    if is_imaging_name(name, signatures) is not None:
        return False
    base = _base(name)
    if has_no_extension(base):
        return True
    return base.rsplit(".", 1)[1].isdigit()


def has_dicm_magic(head: bytes, signatures: ImagingSignatures) -> bool:
    """True if the first 132 bytes of a file are a DICOM Part 10 header (PS3.10 §7.1)."""
    return signatures.has_magic(head)
