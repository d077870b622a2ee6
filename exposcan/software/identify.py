"""Once the probes are done: each service's CPE names, the toolkit it is
known through, and the advisories its versions fall in.

A service is known by its product and version (a web fingerprint, a DICOM
implementation, an FTP greeting, a ``Server`` header) and, for DICOM, by the
toolkit its A-ASSOCIATE-AC's implementation identifiers name when a web API
named another product (``details["implementation"]``, e.g. Orthanc's DICOM
port answering with DCMTK 3.6.7's identifiers).  Both get a CPE 2.3 name; an
advisory for either makes one ``software.known-vulnerable`` fact.  Nothing
here opens a connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from exposcan.catalogue import Catalogue
from exposcan.facts import validate_fact
from exposcan.software.advisories import Advisory, affecting, release
from exposcan.software.products import Product, cpe_name, product
from exposcan.state import Fact, ScanState, ServiceState

FACT = "software.known-vulnerable"


@dataclass(frozen=True)
class Identity:
    product: Product
    version: str | None
    #: Known through the implementation identifiers of a toolkit.
    via_toolkit: bool

    @property
    def label(self) -> str:
        return " ".join(x for x in (self.product.name, self.version) if x)


def _split(catalogue: Catalogue, text: str) -> Identity | None:
    """``dcmtk 3.6.7`` (a service detail) -> the product and its version."""
    whole = product(catalogue, text)
    if whole is not None:
        return Identity(whole, None, whole.toolkit)
    name, _, version = text.rpartition(" ")
    known = product(catalogue, name)
    return Identity(known, version or None, known.toolkit) if known else None


def identities(catalogue: Catalogue, service: ServiceState) -> list[Identity]:
    out: list[Identity] = []
    own = product(catalogue, service.product)
    if own is not None:
        out.append(Identity(own, service.version, own.toolkit))
    implementation = service.details.get("implementation")
    if isinstance(implementation, str):
        other = _split(catalogue, implementation)
        if other is not None and all(i.product != other.product for i in out):
            out.append(other)
    return out


def _fact_data(
    service: ServiceState, found: list[tuple[Identity, list[Advisory]]]
) -> dict[str, object]:
    advisories = [a for _, hits in found for a in hits]
    scores = [a.cvss.score for a in advisories if a.cvss is not None]
    toolkit = next((i.label for i, _ in found if i.via_toolkit), None)
    return {
        "service": service.protocol,
        "product": service.product,
        "version": service.version,
        "toolkit": toolkit,
        "advisories": list(dict.fromkeys(a.id for a in advisories)),
        "cves": list(dict.fromkeys(c for a in advisories for c in a.cves)),
        "fixed_in": _fixed_in(found),
        "cvss": max(scores) if scores else None,
        "known_exploited": any(a.known_exploited for a in advisories),
        "sources": list(dict.fromkeys(s for a in advisories for s in a.sources)),
    }


def _fixed_in(found: list[tuple[Identity, list[Advisory]]]) -> list[str]:
    """The highest first-fixed release per product: what an upgrade must reach."""
    best: dict[str, str] = {}
    for identity, hits in found:
        for adv in hits:
            fixed, current = release(adv.fixed), release(best.get(identity.product.name))
            if fixed is not None and (current is None or fixed > current):
                best[identity.product.name] = str(adv.fixed)
    return [f"{name} {version}" for name, version in best.items()]


def annotate(catalogue: Catalogue, state: ScanState) -> list[Fact]:
    """Set each service's ``cpe`` and ``toolkit``; return the
    ``software.known-vulnerable`` facts (one per vulnerable service).
    Idempotent: a report made twice gets the same."""
    facts: list[Fact] = []
    for host in state.hosts.values():
        for service in host.services.values():
            known = identities(catalogue, service)
            service.cpe = [
                cpe_name(i.product.cpe_prefix, i.version) for i in known if i.product.cpe_prefix
            ]
            service.toolkit = next((i.label for i in known if i.via_toolkit), None)
            found = [
                (i, hits)
                for i in known
                if (hits := affecting(catalogue, i.product.cpe_prefix, i.version))
            ]
            if found:
                data = validate_fact(FACT, _fact_data(service, found))
                facts.append(Fact(FACT, host.address, service.port, service.protocol, data))
    return facts
