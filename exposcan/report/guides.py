"""Product remediation steps: catalogue files of kind ``remediation``
(``probes/remediation/*.yaml``), one per product a practice runs (Orthanc,
Horos, Samba/Windows shares, the internet box), each in every language.

A guide applies to a finding when its rule matches one of ``applies.rules``
(shell patterns), when a product the finding or its service names matches
one of ``applies.products`` (regular expressions), or when the DICOM AE
title is one of ``applies.ae_titles`` (Horos answers as HOROS or OSIRIX).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field, field_validator

from exposcan.catalogue import LANGUAGES, Catalogue, Regex, catalogue_kind
from exposcan.models import Finding, Service


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GuideText(_Strict):
    title: str
    steps: list[str] = Field(min_length=1)


class Applies(_Strict):
    rules: list[str] = Field(default_factory=list)
    products: list[Regex] = Field(default_factory=list)
    ae_titles: list[str] = Field(default_factory=list)


@catalogue_kind("remediation")
class Guide(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    applies: Applies
    i18n: dict[str, GuideText]

    @field_validator("i18n")
    @classmethod
    def _has_english(cls, value: dict[str, GuideText]) -> dict[str, GuideText]:
        if "en" not in value:
            raise ValueError("no English text (i18n.en)")
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            raise ValueError(f"unknown language(s) {', '.join(unknown)}")
        return value

    def text(self, lang: str) -> GuideText:
        return self.i18n.get(lang) or self.i18n["en"]

    def applies_to(self, finding: Finding, service: Service | None) -> bool:
        if any(fnmatchcase(finding.rule, pattern) for pattern in self.applies.rules):
            return True
        products = [finding.evidence.get(k) for k in ("product", "internal_product", "server")]
        if service is not None:
            products.append(service.product)
        names = [p for p in products if isinstance(p, str) and p]
        if any(re.search(rx, name) for rx in self.applies.products for name in names):
            return True
        aes = [finding.evidence.get("called_ae")]
        if service is not None:
            aes.append(service.details.get("ae_title"))
        wanted = {a.upper() for a in self.applies.ae_titles}
        return any(isinstance(ae, str) and ae.strip().upper() in wanted for ae in aes)


def load_guides(catalogue: Catalogue) -> list[Guide]:
    return sorted(catalogue.documents(Guide), key=lambda g: g.id)


def guides_for(
    findings: Iterable[tuple[Finding, Service | None]], guides: list[Guide]
) -> list[Guide]:
    """The guides that apply to any of ``findings``, in catalogue order."""
    pairs = list(findings)
    return [g for g in guides if any(g.applies_to(f, s) for f, s in pairs)]
