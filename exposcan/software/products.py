"""Products -> CPE 2.3 names (``probes/products.yaml``, kind ``products``).

Every product exposcan names (a web fingerprint's ``product``, a DICOM
implementation's, an FTP greeting's, a web server's ``Server`` header) has
one entry: the name as exposcan writes it, its CPE vendor and product
(NIST IR 7695, the CPE 2.3 formatted string), and whether it is a *toolkit*
that other products embed.  A DICOM node identified only by DCMTK's
implementation class UID may be storescp, dcmqrscp, Orthanc or Horos: its
report names the toolkit, and says so (:attr:`Service.toolkit`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field

from exposcan.catalogue import Catalogue, CatalogueModel, catalogue_kind

#: ``cpe:2.3:<part>:<vendor>:<product>``: the version and the rest are added
#: per service (CPE 2.3 §6.2, formatted string binding).
CPE_PREFIX = r"^cpe:2\.3:[aho]:[a-z0-9_\-.]+:(?:[a-z0-9_\-.]+|\*)$"


class ProductEntry(CatalogueModel):
    name: str = Field(min_length=1)
    #: None: a name that is not a product (a bare DICOMweb root), said in ``note``.
    cpe: str | None = Field(pattern=CPE_PREFIX)
    #: A library other products are built on (DCMTK, pynetdicom...): a node
    #: known only by it is named by the toolkit, and reported as such.
    toolkit: bool = False
    #: The toolkit this product is built on (a ``name`` of another entry).
    built_on: str | None = None
    note: str = ""


@catalogue_kind("products")
class Products(CatalogueModel):
    products: list[ProductEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Product:
    name: str
    cpe_prefix: str | None
    toolkit: bool
    built_on: str | None


def products(catalogue: Catalogue) -> dict[str, Product]:
    """Every product the catalogue knows, by the name exposcan gives it
    (case-insensitive key).  A ``built_on`` naming no entry is a catalogue
    error caught by the unit tests."""
    out: dict[str, Product] = {}
    for doc in catalogue.documents(Products):
        for e in doc.products:
            out[e.name.casefold()] = Product(e.name, e.cpe, e.toolkit, e.built_on)
    return out


def product(catalogue: Catalogue, name: str | None) -> Product | None:
    if not name:
        return None
    return catalogue.derived(products).get(name.strip().casefold())


# CPE 2.3 §5.3.2: in a formatted string, every character other than
# letters, digits, "_", "-" and "." is quoted with a backslash.
_UNQUOTED = re.compile(r"[A-Za-z0-9_\-.]")


def _quote(value: str) -> str:
    return "".join(c if _UNQUOTED.fullmatch(c) else "\\" + c for c in value)


def cpe_name(prefix: str, version: str | None) -> str:
    """``cpe:2.3:a:offis:dcmtk`` + ``3.6.7`` -> the full formatted string;
    an unknown version is ANY (``*``)."""
    ver = _quote(version.strip().lower()) if version and version.strip() else "*"
    return f"{prefix}:{ver}:*:*:*:*:*:*:*"


def cpe_prefix_of(cpe: str) -> str | None:
    """``cpe:2.3:a:offis:dcmtk:*:...`` -> ``cpe:2.3:a:offis:dcmtk`` (None: not a CPE 2.3 name)."""
    parts = cpe.split(":")
    if len(parts) < 5 or parts[0] != "cpe" or parts[1] != "2.3":
        return None
    return ":".join(parts[:5]).lower()
