"""Typed facts: one model per fact kind, registered by the module that
writes it (``exposcan/protocols/<proto>/facts.py``).

A probe writes a fact through :meth:`exposcan.probe.ProbeContext.fact`,
which validates it against its kind's model: a misspelt field or a value of
the wrong type is a bug caught where it is made.  The catalogue checks, when
it loads, that every rule names a registered fact kind and only fields of it
(in ``match.all`` and ``evidence``).

Registering a fact kind is one decorator on its model::

    @fact_kind("ftp.zone")
    class FtpZone(FactModel):
        anonymous: bool
        imaging_files: int = 0

and its module listed in the protocol registry (:mod:`exposcan.protocols`).  The
facts of the engine itself (a service that serves imaging or health data,
what the internet view and the box's forwards are joined on) are here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

from exposcan.sanitise import clean_value
from exposcan.vocabulary import Safety


class FactModel(BaseModel):
    """A fact's data: frozen, and a field nobody declared is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    #: Gathered by an intrusive step: the engine records it only with
    #: ``--intrusive``, and a rule over it must be declared intrusive.
    safety: ClassVar[Safety] = Safety.SAFE

    # What a probe read off the wire (a Server header, a page title, an AE
    # title, a UPnP string) is cleaned of control and format characters
    # before a rule, a report or a terminal sees it (exposcan.sanitise).
    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return clean_value(value)


F = TypeVar("F", bound=type[FactModel])

_FACTS: dict[str, type[FactModel]] = {}


class FactError(ValueError):
    """A probe wrote a fact of an unknown kind, or with undeclared fields."""


def fact_kind(kind: str) -> Callable[[F], F]:
    """Register the decorated model as the data of facts of ``kind``."""

    def register(model: F) -> F:
        if _FACTS.setdefault(kind, model) is not model:
            raise RuntimeError(f"fact kind {kind!r} registered twice")
        return model

    return register


def fact_model(kind: str) -> type[FactModel] | None:
    """The model of ``kind``; the declaring modules are imported first when
    it is not known yet (a lazily read catalogue has not imported them)."""
    if kind not in _FACTS:
        _declare_all()
    return _FACTS.get(kind)


def fact_kinds() -> dict[str, type[FactModel]]:
    _declare_all()
    return dict(_FACTS)


@cache
def _declare_all() -> None:
    # The registry is a leaf (module names only): no cycle back to here.
    from exposcan.protocols import declarations

    for module in declarations():
        importlib.import_module(module)


def validate_fact(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` checked against ``kind``'s model: the fields as written, with
    their values in the declared types."""
    model = fact_model(kind)
    if model is None:
        raise FactError(f"unknown fact kind {kind!r}: declare its model with @fact_kind")
    try:
        return model.model_validate(data).model_dump(exclude_unset=True)
    except ValueError as exc:
        raise FactError(f"fact {kind}: {' '.join(str(exc).split())}") from None


class TlsFields(FactModel):
    """What a TLS handshake showed (read, never verified): shared by every
    protocol that speaks TLS."""

    tls_version: str | None = None
    tls_cipher: str | None = None
    cert_subject_cn: str | None = None
    cert_issuer: str | None = None
    cert_not_before: str | None = None
    cert_not_after: str | None = None
    cert_expired: bool | None = None
    cert_self_signed: bool | None = None
    cert_key_type: str | None = None
    cert_key_bits: int | None = None


class _Served(FactModel):
    #: The way in (``dicom``, ``pacs-web``, ``listing``, ``share``, ``ftp``).
    service: str
    product: str | None = None
    version: str | None = None
    share: str | None = None
    proof: str | None = None


@fact_kind("imaging.service")
class ImagingService(_Served):
    """This port serves medical images to whoever reaches it."""


@fact_kind("health-data.service")
class HealthDataService(_Served):
    """This port serves health data that is not an image (HL7, HPRIM...)."""

    kinds: list[str] | None = []
