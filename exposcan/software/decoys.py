"""Decoys: published honeypots told by their signs (``probes/decoys/*.yaml``).

Seen from the internet, many "exposed PACS" are honeypots (DICOMHawk,
dicompot...).  Each published one has signs a scan already gathers: the
implementation class UID and version name of the DICOM library it is built
on, accepting any called AE title, a web page of its own on the same host
(a cross-protocol tell).  A sign is a fact kind and conditions over its
fields, like a rule's ``match``, and a weight; the signs of a host add up
and, at the decoy's ``threshold``, every service and finding of that host is
labelled ``likely decoy`` with the signs that matched.  Nothing is hidden: a
CERT scanning its constituency filters on the label, a practice sees why.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field, model_validator

from exposcan.catalogue import Catalogue, CatalogueModel, Condition, catalogue_kind
from exposcan.facts import fact_model
from exposcan.models import DecoyLabel, Finding
from exposcan.state import Fact, ScanState


class Sign(CatalogueModel):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    fact: str
    all: list[Condition] = Field(min_length=1)
    #: How much the sign says: a decoy's own page weighs its threshold alone.
    weight: int = Field(ge=1, le=10)
    en: str
    fr: str

    @model_validator(mode="after")
    def _names(self) -> Sign:
        model = fact_model(self.fact)
        if model is None:
            raise ValueError(f"unknown fact kind {self.fact!r}")
        for cond in self.all:
            if cond.field not in model.model_fields:
                raise ValueError(f"{self.fact} has no field {cond.field!r}")
        return self

    def holds(self, fact: Fact) -> bool:
        return fact.kind == self.fact and all(c.holds(fact.data) for c in self.all)


@catalogue_kind("decoy")
class Decoy(CatalogueModel):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    #: Signs whose weights add up to this label a host.
    threshold: int = Field(ge=1)
    signs: list[Sign] = Field(min_length=1)
    references: list[str] = Field(min_length=1)

    def code(self, sign: Sign) -> str:
        return f"decoy.{self.id}.{sign.id}"


def sign_texts(catalogue: Catalogue) -> dict[str, dict[str, str]]:
    """Sign code -> {lang: words}: how a report words a label's signs."""
    return {
        decoy.code(sign): {"en": sign.en, "fr": sign.fr}
        for decoy in catalogue.documents(Decoy)
        for sign in decoy.signs
    }


def label_for(catalogue: Catalogue, facts: Iterable[Fact]) -> DecoyLabel | None:
    """The label of one host's facts, or None: the decoy whose matched
    signs weigh most, if they reach its threshold."""
    facts = list(facts)
    if not facts:  # a sign is a fact: nothing to weigh (a port scan reads no decoy file)
        return None
    best: tuple[int, DecoyLabel] | None = None
    for decoy in catalogue.documents(Decoy):
        matched = [s for s in decoy.signs if any(s.holds(f) for f in facts)]
        weight = sum(s.weight for s in matched)
        if weight < decoy.threshold or (best is not None and weight <= best[0]):
            continue
        label = DecoyLabel(
            honeypot=decoy.name,
            signs=[decoy.code(s) for s in matched],
            why=[s.en for s in matched],
        )
        best = (weight, label)
    return best[1] if best else None


def label_hosts(catalogue: Catalogue, state: ScanState) -> dict[str, DecoyLabel]:
    """Label the services of every likely decoy; the labels by host address."""
    labels: dict[str, DecoyLabel] = {}
    for host in state.hosts.values():
        label = label_for(catalogue, host.facts)
        for service in host.services.values():
            service.decoy = label
        if label is not None:
            labels[host.address] = label
    return labels


def label_findings(findings: Iterable[Finding], labels: dict[str, DecoyLabel]) -> list[Finding]:
    return [
        f.model_copy(update={"decoy": labels[f.host]}) if f.host in labels else f for f in findings
    ]
