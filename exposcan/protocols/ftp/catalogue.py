"""The FTP probe's catalogue kind: ``ftp-banner`` (probes/fingerprints/ftp-banners.yaml),
greetings -> product and version."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field

from exposcan.catalogue import Catalogue, CatalogueModel, Regex, catalogue_kind


class BannerEntry(CatalogueModel):
    product: str = Field(min_length=1)
    pattern: Regex
    note: str = ""


@catalogue_kind("ftp-banner")
class FtpBanners(CatalogueModel):
    banners: list[BannerEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class BannerFingerprint:
    product: str
    pattern: re.Pattern[str]


def banners(catalogue: Catalogue) -> tuple[BannerFingerprint, ...]:
    return tuple(
        BannerFingerprint(b.product, re.compile(b.pattern))
        for doc in catalogue.documents(FtpBanners)
        for b in doc.banners
    )


def identify(catalogue: Catalogue, greeting: str) -> tuple[str | None, str | None]:
    """(product, version) from a greeting, by the catalogue's fingerprints;
    first match wins, a ``version`` group gives the version."""
    for fp in catalogue.derived(banners):
        m = fp.pattern.search(greeting)
        if m:
            return fp.product, m.groupdict().get("version")
    return None, None
