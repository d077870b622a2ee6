"""Web fingerprints from the catalogue (``probes/fingerprints/http/*.yaml``).

One file per product, as nuclei templates are: the requests to make (GET or
HEAD of a path), the matchers over each answer (status, header regex, body
regex, the 401 realm), how to read a version (regex or a JSON field), which
JSON fields are service configuration worth recording, and the read-only
requests that prove imaging data is readable without credentials (counts
only).  This module is pure: it validates entries and evaluates matchers over
responses; :mod:`exposcan.protocols.http.probe` makes the requests.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from exposcan.catalogue import Catalogue, Regex, catalogue_kind
from exposcan.protocols.http.response import HttpResponse

#: ``honeypot``: a published decoy's own pages (probes/decoys/ reads them).
Category = Literal["pacs", "dicomweb", "viewer", "nas", "box-admin", "honeypot"]
#: Categories whose pages or data are medical imaging (cleartext matters).
IMAGING_CATEGORIES: frozenset[str] = frozenset({"pacs", "dicomweb", "viewer"})
_VALUE_CAP = 64  # a version or a detail is server-chosen text


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Matcher(_Strict):
    """Every condition given must hold (an AND, as a nuclei matcher block)."""

    status: list[int] = Field(default_factory=list)
    headers: dict[str, Regex] = Field(default_factory=dict)  # name -> regex
    body: Regex | None = None  # regex over the (capped) body
    realm: Regex | None = None  # regex over the WWW-Authenticate realm
    json_fields: list[str] = Field(default_factory=list)  # top-level keys present
    # The body must parse as this JSON type (a QIDO-RS answer is an array).
    json_type: Literal["array", "object"] | None = None

    def matches(self, resp: HttpResponse, echoed: tuple[str, ...] = ()) -> bool:
        """``echoed``: strings the server is known to copy from our request
        into any page (a soft 404 echoing the path): not the product's own
        words, so removed before the body is matched."""
        if self.status and resp.status not in self.status:
            return False
        for name, pattern in self.headers.items():
            if re.search(pattern, resp.header(name)) is None:
                return False
        text = resp.text
        for piece in echoed:
            text = text.replace(piece, "")
        if self.body is not None and re.search(self.body, text) is None:
            return False
        if self.realm is not None:
            realm = resp.realm
            if realm is None or re.search(self.realm, realm) is None:
                return False
        if self.json_type is not None:
            want = list if self.json_type == "array" else dict
            if not isinstance(json_document(resp), want):
                return False
        if self.json_fields:
            doc = json_object(resp)
            if doc is None or any(k not in doc for k in self.json_fields):
                return False
        return True


class VersionRule(_Strict):
    json_field: str | None = Field(default=None, alias="json")
    regex: Regex | None = None  # first group is the version
    source: str = Field(default="body", alias="from")  # body | header:NAME

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def extract(self, resp: HttpResponse) -> str | None:
        if self.json_field is not None:
            doc = json_object(resp)
            value = doc.get(self.json_field) if doc else None
            return _clean(value)
        if self.regex is not None:
            text = resp.header(self.source[7:]) if self.source.startswith("header:") else resp.text
            m = re.search(self.regex, text)
            return _clean(m.group(1)) if m and m.groups() else None
        return None


class Probe(_Strict):
    path: str = Field(pattern=r"^/")
    # Read-only methods only: the catalogue cannot make the scan write.
    method: Literal["GET", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    match: Matcher
    auth: bool = False  # this answer means credentials are required
    login: bool = False  # this answer is a login page
    version: VersionRule | None = None
    # JSON field -> service detail name: configuration, never patient data.
    details: dict[str, str] = Field(default_factory=dict)
    # Host hint name -> JSON field (e.g. dicom.ae_title <- DicomAet).
    hints: dict[str, str] = Field(default_factory=dict)


class CountSpec(_Strict):
    # Evidence name -> top-level JSON integer field (Orthanc /statistics).
    json_fields: dict[str, str] = Field(default_factory=dict, alias="json")
    # QIDO-RS answer (PS3.18 §10.6): a JSON array; only its length is kept.
    qido: Literal["studies", "series", "instances"] | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Proof(_Strict):
    """A read-only request whose answer, reduced to counts, proves that
    imaging data or its index is readable without credentials."""

    path: str = Field(pattern=r"^/")
    headers: dict[str, str] = Field(default_factory=dict)
    counts: CountSpec


class DefaultCredential(_Strict):
    """Checked only with --intrusive, by one GET of ``path``; the account is
    never written to a report."""

    username: str
    password: str
    path: str = Field(pattern=r"^/")
    match: Matcher


@catalogue_kind("http-fingerprint")
class Fingerprint(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    product: str
    category: Category
    # Generic fingerprints (a bare DICOMweb root) count only when no specific
    # product matched the same service.
    generic: bool = False
    requests: list[Probe] = Field(min_length=1)
    proofs: list[Proof] = Field(default_factory=list)
    default_credentials: list[DefaultCredential] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)


def load_fingerprints(catalogue: Catalogue) -> tuple[Fingerprint, ...]:
    """The catalogue's web fingerprints, specific products first, generic
    roots last (build once per scan: ``catalogue.derived(load_fingerprints)``)."""
    return tuple(sorted(catalogue.documents(Fingerprint), key=lambda f: (f.generic, f.id)))


def json_object(resp: HttpResponse) -> dict[str, Any] | None:
    doc = json_document(resp)
    return doc if isinstance(doc, dict) else None


def json_document(resp: HttpResponse) -> Any:
    if resp.truncated or not resp.body:
        return None
    try:
        return json.loads(resp.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _clean(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:_VALUE_CAP] or None


#: No practice, nor any hospital, holds more than this of anything: a count
#: past it is a lie, not a proof.
MAX_COUNT = 10**10
#: Each level's resources have a parent at the level before (PS3.3 §A.1.2:
#: a study belongs to one patient, a series to one study...): counts of a
#: real archive never decrease down this order.
_HIERARCHY = ("patients", "studies", "series", "instances")


class ImplausibleCounts(ValueError):
    """Counts a real archive cannot hold: the proof is refused, not printed."""


def check_counts(counts: dict[str, int]) -> None:
    for name, value in counts.items():
        if value < 0 or value > MAX_COUNT:
            raise ImplausibleCounts(f"{name} count out of range")
    levels = [counts[name] for name in _HIERARCHY if name in counts]
    if any(a > b for a, b in itertools.pairwise(levels)):
        raise ImplausibleCounts("counts inconsistent (a level holds more than the next)")


def count_from(spec: CountSpec, resp: HttpResponse) -> dict[str, int | bool] | None:
    """Counts proving readable data, or None if the answer proves nothing.
    Nothing else of the answer is kept (a QIDO answer holds study UIDs).
    Raises :class:`ImplausibleCounts` for numbers no archive can hold."""
    if resp.status != 200:
        if spec.qido is not None and resp.status == 204:
            # PS3.18 §8.3.4.1: 204 = the search ran and matched nothing.
            return {f"{spec.qido}_readable": False, f"qido_{spec.qido}": 0}
        return None
    doc = json_document(resp)
    if spec.json_fields:
        if not isinstance(doc, dict):
            return None
        numbers: dict[str, int] = {}
        for name, key in spec.json_fields.items():
            value = doc.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                numbers[name] = value
        check_counts(numbers)
        return dict(numbers) or None
    if spec.qido is not None:
        if not isinstance(doc, list):
            return None
        return {f"{spec.qido}_readable": len(doc) > 0, f"qido_{spec.qido}": len(doc)}
    return None


def detail_value(value: object) -> str | int | bool | None:
    if isinstance(value, bool | int):
        return value
    return _clean(value)
