"""Recognising health data that is not an image, by a file's first bytes.

The catalogue file ``probes/health-data-files.yaml`` (kind
``health-data-files``) lists the signatures: HL7 v2 (``MSH|``), HPRIM Santé
(``H|`` then ``P|``), HL7 CDA, FHIR JSON and DICOMDIR.  The FTP, SMB and HTTP
listing walks read at most :attr:`HealthSignatures.read_size` bytes of a
candidate file and ask :meth:`HealthSignatures.classify`; they keep a count
per signature id, never the bytes and never the file's name.

Why: the CNIL's Dedalus Biologie decision (SAN-2022-009) was about laboratory
results left, unencrypted and without authentication, in a server's public
zone after a migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from exposcan.catalogue import Catalogue, CatalogueError, default_catalogue

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


def _strings(value: Any, where: str) -> tuple[bytes, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CatalogueError(f"{where}: expected a list of non-empty strings")
    return tuple(v.encode("utf-8") for v in value)


def health_signatures_from(catalogue: Catalogue) -> HealthSignatures:
    signatures: list[HealthSignature] = []
    extensions: set[str] = set()
    read = DEFAULT_READ
    for entry in catalogue.entries("health-data-files"):
        source = str(entry.get("_source", "health-data-files"))
        read = max(read, int(entry.get("read", DEFAULT_READ)))
        extensions.update(str(e).lower().lstrip(".") for e in entry.get("candidate_extensions", []))
        for raw in entry.get("signatures", []):
            if not isinstance(raw, dict) or not raw.get("id"):
                raise CatalogueError(f"{source}: a signature without an id")
            where = f"{source}: {raw['id']}"
            at = raw.get("at") or {}
            sig = HealthSignature(
                id=str(raw["id"]),
                label=str(raw.get("label", raw["id"])),
                starts=_strings(raw.get("starts"), where),
                contains_any=_strings(raw.get("contains_any"), where),
                contains_all=_strings(raw.get("contains_all"), where),
                at_offset=int(at.get("offset", -1)) if at else -1,
                at_bytes=str(at.get("bytes", "")).encode("ascii") if at else b"",
            )
            if not (sig.starts or sig.contains_any or sig.contains_all or sig.at_bytes):
                raise CatalogueError(f"{where}: a signature needs at least one clause")
            signatures.append(sig)
    return HealthSignatures(tuple(signatures), frozenset(extensions), read)


@cache
def default_health_signatures() -> HealthSignatures:
    return health_signatures_from(default_catalogue())
