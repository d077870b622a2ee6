"""The DICOM probe's catalogue entries: default AE titles and implementation
fingerprints (``probes/dicom/*.yaml``, ``probes/fingerprints/dicom-*.yaml``).

A new AE title or a new product is a catalogue edit, never a code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exposcan.catalogue import Catalogue, CatalogueError
from exposcan.protocols.dicom.pdu import valid_ae_title

AE_TITLES_KIND = "dicom-ae-titles"
IMPLEMENTATION_KIND = "dicom-implementation"


def default_ae_titles(catalogue: Catalogue) -> list[str]:
    titles: list[str] = []
    for doc in catalogue.entries(AE_TITLES_KIND):
        for title in doc.get("titles", []):
            if not isinstance(title, str) or not valid_ae_title(title):
                raise CatalogueError(f"{doc['_source']}: invalid AE title {title!r}")
            if title not in titles:
                titles.append(title)
    return titles


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
    found: list[Implementation] = []
    for doc in catalogue.entries(IMPLEMENTATION_KIND):
        for entry in doc.get("implementations", []):
            try:
                pattern = entry.get("version_name")
                found.append(
                    Implementation(
                        product=str(entry["product"]),
                        class_uid=entry.get("class_uid"),
                        class_uid_prefix=entry.get("class_uid_prefix"),
                        version_name=re.compile(pattern) if pattern else None,
                        note=str(entry.get("note", "")),
                    )
                )
            except (KeyError, re.error, TypeError, AttributeError) as exc:
                raise CatalogueError(f"{doc['_source']}: bad implementation entry: {exc}") from exc
    return found


def fingerprint(
    catalogue: Catalogue, class_uid: str | None, version_name: str | None
) -> tuple[str | None, str | None]:
    """(product, version) of an A-ASSOCIATE-AC's implementation identifiers."""
    for entry in implementations(catalogue):
        if entry.matches(class_uid, version_name):
            return entry.product, entry.version(version_name)
    return None, None
