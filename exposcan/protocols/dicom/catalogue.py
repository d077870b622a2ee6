"""The DICOM probe's catalogue entries: default AE titles and implementation
fingerprints (``probes/dicom/*.yaml``, ``probes/fingerprints/dicom-*.yaml``).

A new AE title or a new product is a catalogue edit, never a code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

from exposcan.catalogue import Catalogue, CatalogueModel, Regex, catalogue_kind
from exposcan.protocols.dicom.aetitle import valid_ae_title


def _ae_title(title: str) -> str:
    if not valid_ae_title(title):
        raise ValueError(f"invalid AE title {title!r} (PS3.5 §6.2: 16 characters, no backslash)")
    return title


@catalogue_kind("dicom-ae-titles")
class AeTitles(CatalogueModel):
    """Called AE titles tried when no other service disclosed one."""

    titles: list[Annotated[str, AfterValidator(_ae_title)]] = Field(min_length=1)


class ImplementationEntry(CatalogueModel):
    product: str
    class_uid: str | None = None
    class_uid_prefix: str | None = None
    # Its groups, joined by ".", are the version ("OFFIS_DCMTK_367" -> 3.6.7).
    version_name: Regex | None = None
    note: str = ""


@catalogue_kind("dicom-implementation")
class Implementations(CatalogueModel):
    """A-ASSOCIATE-AC implementation identifiers -> product (first match wins)."""

    implementations: list[ImplementationEntry] = Field(min_length=1)


def default_ae_titles(catalogue: Catalogue) -> list[str]:
    titles = [t for doc in catalogue.documents(AeTitles) for t in doc.titles]
    return list(dict.fromkeys(titles))


@dataclass(frozen=True)
class Implementation:
    product: str
    class_uid: str | None = None
    class_uid_prefix: str | None = None
    version_name: re.Pattern[str] | None = None
    note: str = ""

    def matches(self, class_uid: str | None, version_name: str | None) -> bool:
        if class_uid and self.class_uid and class_uid == self.class_uid:
            return True
        if class_uid and self.class_uid_prefix and class_uid.startswith(self.class_uid_prefix):
            return True
        return bool(version_name and self.version_name and self.version_name.search(version_name))

    def version(self, version_name: str | None) -> str | None:
        """The version, from the version name's regex groups ("367" -> 3.6.7)."""
        if not version_name or not self.version_name:
            return None
        m = self.version_name.search(version_name)
        if not m or not m.groups():
            return None
        parts = [g for g in m.groups() if g]
        return ".".join(parts) if parts else None


def implementations(catalogue: Catalogue) -> list[Implementation]:
    return [
        Implementation(
            product=e.product,
            class_uid=e.class_uid,
            class_uid_prefix=e.class_uid_prefix,
            version_name=re.compile(e.version_name) if e.version_name else None,
            note=e.note,
        )
        for doc in catalogue.documents(Implementations)
        for e in doc.implementations
    ]


def fingerprint(
    catalogue: Catalogue, class_uid: str | None, version_name: str | None
) -> tuple[str | None, str | None]:
    """(product, version) of an A-ASSOCIATE-AC's implementation identifiers."""
    for entry in catalogue.derived(implementations):
        if entry.matches(class_uid, version_name):
            return entry.product, entry.version(version_name)
    return None, None
