"""Recognising health data that is not an image, by a file's first bytes.

The catalogue file ``probes/health-data-files.yaml`` (kind
``health-data-files``) lists the signatures: HL7 v2 (``MSH|``), HPRIM (the
French laboratory format: ``H|`` then ``P|``), HL7 CDA, FHIR JSON and
DICOMDIR.  The FTP, SMB and HTTP
listing walks read at most :attr:`HealthSignatures.read_size` bytes of a
candidate file and ask :meth:`HealthSignatures.classify`; they keep a count
per signature id, never the bytes and never the file's name.

Why: the CNIL's Dedalus Biologie decision (SAN-2022-009) was about laboratory
results left, unencrypted and without authentication, in a server's public
zone after a migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from exposcan.catalogue import Catalogue, CatalogueModel, catalogue_kind

#: Enough for an HPRIM header and its patient record, a CDA root element after
#: an XML declaration, and a DICOM file meta group.
DEFAULT_READ = 1024
#: Skipped before ``starts`` is tested: a UTF-8 BOM, MLLP's start block (0x0B,
#: HL7 v2 over MLLP saved as is), white space.
_LEAD = b"\xef\xbb\xbf\x0b \t\r\n"


def _base(name: str) -> str:
    return name.rstrip("/\\").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


@dataclass(frozen=True)
class HealthSignature:
    id: str
    label: str
    starts: tuple[bytes, ...] = ()
    contains_any: tuple[bytes, ...] = ()
    contains_all: tuple[bytes, ...] = ()
    at_offset: int = -1
    at_bytes: bytes = b""

    def holds(self, head: bytes) -> bool:
        if self.at_bytes:
            end = self.at_offset + len(self.at_bytes)
            if head[self.at_offset : end] != self.at_bytes:
                return False
        body = _strip_lead(head)
        if self.starts and not any(body.startswith(s) for s in self.starts):
            return False
        if self.contains_any and not any(s in head for s in self.contains_any):
            return False
        return all(s in head for s in self.contains_all)


def _strip_lead(head: bytes) -> bytes:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip(_LEAD[3:])


@dataclass(frozen=True)
class HealthSignatures:
    signatures: tuple[HealthSignature, ...]
    candidate_extensions: frozenset[str]
    read_size: int = DEFAULT_READ

    def classify(self, head: bytes) -> str | None:
        """The id of the first signature ``head`` (a file's first bytes) holds."""
        head = head[: self.read_size]
        for sig in self.signatures:
            if sig.holds(head):
                return sig.id
        return None

    def worth_reading(self, name: str) -> bool:
        """A name that may hide health data: no extension, an all-digit one
        (laboratory drops are numbered), or a candidate extension."""
        base = _base(name)
        if "." not in base.strip("."):
            return True
        ext = base.rsplit(".", 1)[1].lower()
        return ext.isdigit() or ext in self.candidate_extensions


def _ascii(text: str) -> str:
    text.encode("ascii")  # a UnicodeEncodeError is a ValueError: refused at load
    return text


NonEmpty = Annotated[str, Field(min_length=1)]


class At(CatalogueModel):
    offset: int = Field(ge=0, le=65536)
    bytes_: Annotated[str, AfterValidator(_ascii)] = Field(alias="bytes", min_length=1)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SignatureEntry(CatalogueModel):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    label: str = ""
    starts: list[NonEmpty] = Field(default_factory=list)
    contains_any: list[NonEmpty] = Field(default_factory=list)
    contains_all: list[NonEmpty] = Field(default_factory=list)
    at: At | None = None

    @model_validator(mode="after")
    def _one_clause(self) -> SignatureEntry:
        if not (self.starts or self.contains_any or self.contains_all or self.at):
            raise ValueError(f"signature {self.id}: needs at least one clause")
        return self


@catalogue_kind("health-data-files")
class HealthDataFiles(CatalogueModel):
    """``probes/health-data-files.yaml``: health data recognised by first bytes."""

    read: int = Field(default=DEFAULT_READ, ge=16, le=64 * 1024)
    signatures: list[SignatureEntry] = Field(default_factory=list)
    candidate_extensions: list[str] = Field(default_factory=list)


def _bytes(values: list[str]) -> tuple[bytes, ...]:
    return tuple(v.encode("utf-8") for v in values)


def health_signatures_from(catalogue: Catalogue) -> HealthSignatures:
    signatures: list[HealthSignature] = []
    extensions: set[str] = set()
    read = DEFAULT_READ
    for entry in catalogue.documents(HealthDataFiles):
        read = max(read, entry.read)
        extensions.update(e.lower().lstrip(".") for e in entry.candidate_extensions)
        for raw in entry.signatures:
            signatures.append(
                HealthSignature(
                    id=raw.id,
                    label=raw.label or raw.id,
                    starts=_bytes(raw.starts),
                    contains_any=_bytes(raw.contains_any),
                    contains_all=_bytes(raw.contains_all),
                    at_offset=raw.at.offset if raw.at else -1,
                    at_bytes=raw.at.bytes_.encode("ascii") if raw.at else b"",
                )
            )
    return HealthSignatures(tuple(signatures), frozenset(extensions), read)
