"""The catalogue: ``probes/``, one declarative YAML file per check.

As in nuclei-templates, a rule is an id, an info block and matchers over
*facts* that protocol modules gathered; adding a rule, a fingerprint, an AE
title or an imaging signature is a catalogue edit, never an engine change.

Every file carries a ``kind``, and every kind is registered: a pydantic model
that validates the whole file when the catalogue loads, owned by the module
that interprets it (:func:`catalogue_kind`).  ``rule`` and ``ports`` are the
engine's own (here); ``http-fingerprint`` belongs to
:mod:`exposcan.protocols.http.fingerprints`, ``dicom-implementation`` to
:mod:`exposcan.protocols.dicom.catalogue`, and so on
(the protocol registry, :mod:`exposcan.protocols`, lists the modules).  An unknown
kind, a misspelt field or a regular expression that does not compile is a
:class:`CatalogueError` of one line naming the file: the CLI prints it and
exits 2 before any packet.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from exposcan.catalogue_files import CatalogueError as CatalogueError
from exposcan.catalogue_files import catalogue_dir as catalogue_dir
from exposcan.catalogue_files import catalogue_files as catalogue_files
from exposcan.catalogue_files import error_line, kind_line, read_document
from exposcan.facts import fact_kinds, fact_model
from exposcan.vocabulary import LANGUAGES as LANGUAGES
from exposcan.vocabulary import Safety, Severity, Vantage


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


#: The base of a catalogue kind's model: frozen, and a misspelt field is an
#: error (``extra="forbid"``), not a silently ignored key.
CatalogueModel = _Strict

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_KINDS: dict[str, type[BaseModel]] = {}
_KIND_OF: dict[type[BaseModel], str] = {}


def catalogue_kind(kind: str) -> Callable[[type[M]], type[M]]:
    """Register ``kind``: every catalogue file of that kind is validated with
    the decorated model when the catalogue loads (its ``kind`` key removed).
    The module must be listed in the protocol registry (an entry's
    ``declarations``, or :data:`exposcan.protocols.CORE_DECLARATIONS`) so that
    it is imported before a load."""

    def register(model: type[M]) -> type[M]:
        if _KINDS.setdefault(kind, model) is not model:
            raise RuntimeError(f"catalogue kind {kind!r} registered twice")
        _KIND_OF[model] = kind
        return model

    return register


@cache
def _declared() -> None:
    # The registry is a leaf (names only): importing it loads no probe.
    from exposcan.protocols import declarations

    for module in declarations():
        importlib.import_module(module)


def registered_kinds() -> dict[str, type[BaseModel]]:
    """Every catalogue kind and the model that validates it."""
    _declared()
    return dict(_KINDS)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc}): {pattern!r}") from None
    return pattern


#: A regular expression of the catalogue: checked to compile at load.
Regex = Annotated[str, AfterValidator(_compiles)]


class RuleText(_Strict):
    """The words of a rule in one language (the report renders these)."""

    name: str
    description: str
    remediation: str


#: Languages a report is written in; English is the rule's own ``info``.


class RuleInfo(_Strict):
    name: str
    severity: Severity
    description: str
    remediation: str
    references: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    #: Translations: ``i18n: {fr: {name, description, remediation}}``.
    i18n: dict[str, RuleText] = Field(default_factory=dict)

    def text(self, lang: str) -> RuleText:
        """The rule's words in ``lang``; English when it has no translation."""
        if lang in self.i18n:
            return self.i18n[lang]
        return RuleText(name=self.name, description=self.description, remediation=self.remediation)


Op = Literal["equals", "not_equals", "in", "gte", "lte", "exists", "absent", "regex"]


class Condition(_Strict):
    field: str
    op: Op = "equals"
    value: Any = None

    def holds(self, data: dict[str, Any]) -> bool:
        present = self.field in data and data[self.field] is not None
        if self.op == "exists":
            return present
        if self.op == "absent":
            return not present
        if not present:
            return False
        actual = data[self.field]
        match self.op:
            case "equals":
                return bool(actual == self.value)
            case "not_equals":
                return bool(actual != self.value)
            case "in":
                return actual in self.value
            case "gte":
                return bool(actual >= self.value)
            case "lte":
                return bool(actual <= self.value)
            case "regex":
                return re.search(str(self.value), str(actual)) is not None
        return False  # pragma: no cover - Literal is exhaustive


class Match(_Strict):
    fact: str
    all: list[Condition] = Field(default_factory=list)
    vantage: Vantage | None = None


#: The ways a finding can say "whoever reaches this reads patient images (or
#: their list)", named for the reader (``kind.<way>`` in the report's words).
ImagingWay = Literal["dicom", "pacs-web", "listing", "share", "ftp", "default-account"]
#: The actions a rule's finding may call for (``action.<id>`` in the report's
#: words); :mod:`exposcan.verdict` orders them.  The actions decided from the
#: verdict's answers (close the forwards, scan from the other side) are not a
#: rule's to call for.
RuleAction = Literal[
    "assess-breach",
    "ipv6-firewall",
    "lock-pacs",
    "lock-shares",
    "lock-ftp",
    "remove-listing",
    "disable-upnp",
    "upgrade",
    "smb1-off",
    "encrypt",
]


class RuleVerdict(_Strict):
    """Which question of the report's first screen a rule's finding answers:
    the verdict and the network map read these, never a rule id (as nuclei's
    engine never names a template)."""

    #: On the LAN: whoever reaches the service reads images this way.
    imaging: ImagingWay | None = None
    #: ``proven``: an internet-side scan reached imaging (evidence ``service``);
    #: ``forward``: the box forwards an internet port to imaging (evidence
    #: ``internal_host``, ``internal_port``, ``external_ip``, ``external_port``,
    #: ``imaging_service``).
    internet: Literal["proven", "forward"] | None = None
    #: The finding is one of the box's forwards (drawn on the network map),
    #: whether or not it leads to imaging.
    forward: bool = False
    actions: list[RuleAction] = Field(default_factory=list)

    @property
    def is_forward(self) -> bool:
        return self.forward or self.internet == "forward"


NO_VERDICT = RuleVerdict()


@catalogue_kind("rule")
class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(\.[a-z0-9-]+)+$")
    info: RuleInfo
    safety: Safety = Safety.SAFE
    match: Match
    evidence: list[str] = Field(default_factory=list)
    verdict: RuleVerdict = NO_VERDICT

    def matches(self, fact_kind: str, data: dict[str, Any], vantage: Vantage) -> bool:
        if fact_kind != self.match.fact:
            return False
        if self.match.vantage is not None and self.match.vantage != vantage:
            return False
        return all(cond.holds(data) for cond in self.match.all)


class PortEntry(_Strict):
    # Strict types: YAML's own ints and booleans, never "80" or "yes" made
    # into them (as the port scan's reader, exposcan.portlist, refuses them).
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    port: int = Field(ge=1, le=65535)
    protocol: str
    tls: bool = False
    label: str = ""
    default: bool = True  # in the default scan list


@catalogue_kind("ports")
class PortList(_Strict):
    """The default practice port list and port -> protocol guesses."""

    ports: list[PortEntry]


def _check_fact_names(path: Path, rule: Rule) -> None:
    """A rule names a fact kind some module declared, and only its fields:
    a misspelt name fails here, not silently at match time."""
    model = fact_model(rule.match.fact)
    if model is None:
        known = ", ".join(sorted(fact_kinds()))
        raise CatalogueError(
            f"{path}: match.fact: unknown fact kind {rule.match.fact!r} (known: {known})"
        )
    if model.safety is Safety.INTRUSIVE and rule.safety is not Safety.INTRUSIVE:
        raise CatalogueError(
            f"{path}: safety: {rule.match.fact} comes from an intrusive step: "
            "the rule must say safety: intrusive"
        )
    fields = model.model_fields
    named = [(f"match.all.{i}.field", c.field) for i, c in enumerate(rule.match.all)]
    named += [(f"evidence.{i}", name) for i, name in enumerate(rule.evidence)]
    for where, name in named:
        if name not in fields:
            raise CatalogueError(
                f"{path}: {where}: {rule.match.fact} has no field {name!r} "
                f"(fields: {', '.join(fields)})"
            )


class Catalogue:
    """The validated catalogue.  Built from documents, every file is
    validated at once; :meth:`load` with ``lazy=True`` (a run that probes
    nothing: a port scan) reads a kind's files only when that kind is first
    asked for, so such a run neither parses the fingerprints and rules nor
    imports the protocol modules that declare their kinds."""

    def __init__(
        self,
        documents: Iterable[tuple[Path, dict[str, Any]]] = (),
        *,
        pending: dict[str, list[Path]] | None = None,
    ) -> None:
        self._documents: dict[type[BaseModel], list[tuple[Path, BaseModel]]] = {}
        self._derived: dict[Callable[[Catalogue], Any], Any] = {}
        self._ids: dict[tuple[str, str], Path] = {}
        #: Files not read yet, by the kind their ``kind:`` line names.
        self._pending: dict[str, list[Path]] = dict(pending or {})
        self._lock = threading.RLock()
        self._rules: dict[str, Rule] | None = None
        self._ports: dict[int, PortEntry] | None = None
        kinds = registered_kinds() if not self._pending else None
        for path, doc in documents:
            self._add(path, doc, kinds)

    def _add(
        self, path: Path, doc: dict[str, Any], kinds: dict[str, type[BaseModel]] | None
    ) -> None:
        model, item = validate_document(path, doc, kinds)
        # Whatever has an id has one file: a second one is a copy-paste.
        item_id = getattr(item, "id", None)
        if isinstance(item_id, str):
            first = self._ids.setdefault((doc["kind"], item_id), path)
            if first != path:
                raise CatalogueError(f"{path}: duplicate {doc['kind']} id {item_id} (also {first})")
        self._documents.setdefault(model, []).append((path, item))

    def _read_kind(self, kind: str) -> None:
        if kind not in self._pending:
            return
        # Probes ask from the event loop and from the blocking pool at once:
        # a kind is seen by others only once all its files are in.
        with self._lock:
            paths = self._pending.get(kind)
            if paths is None:
                return
            # A kind of the catalogue's own (ports) needs no protocol module;
            # a rule names fact kinds, which the protocol modules declare.
            kinds = dict(_KINDS) if kind in _KINDS and kind != "rule" else registered_kinds()
            for path in paths:
                self._add(path, read_document(path), kinds)
            # The file order of an eager load, whatever order kinds were read in.
            for model, docs in self._documents.items():
                if _KIND_OF.get(model) == kind:
                    docs.sort(key=lambda pair: str(pair[0]))
            del self._pending[kind]

    def read_all(self) -> Catalogue:
        """Read and validate every file not read yet (before a scan's first
        packet: a broken file stops the scan, not a probe)."""
        for kind in sorted(self._pending):
            self._read_kind(kind)
        return self

    @property
    def rules(self) -> dict[str, Rule]:
        if self._rules is None:
            self._rules = {rule.id: rule for rule in self.documents(Rule)}
        return self._rules

    @property
    def ports(self) -> dict[int, PortEntry]:
        if self._ports is None:
            self._ports = {
                entry.port: entry
                for port_list in self.documents(PortList)
                for entry in port_list.ports
            }
        return self._ports

    def documents(self, model: type[M]) -> list[M]:
        """The validated files of ``model``'s kind, in file order."""
        return [doc for _, doc in self.sourced(model)]

    def sourced(self, model: type[M]) -> list[tuple[Path, M]]:
        """As :meth:`documents`, with the file each came from."""
        if model not in _KIND_OF:
            raise TypeError(f"{model.__name__} is not a registered catalogue kind")
        self._read_kind(_KIND_OF[model])
        return [
            (path, doc) for path, doc in self._documents.get(model, []) if isinstance(doc, model)
        ]

    def derived(self, build: Callable[[Catalogue], T]) -> T:
        """``build(self)``, computed once per catalogue: what a probe makes of
        its kind (sorted fingerprints, compiled patterns) is built once per
        scan, from the catalogue the scan was given."""
        if build not in self._derived:
            self._derived[build] = build(self)
        value: T = self._derived[build]
        return value

    def verdict(self, rule_id: str) -> RuleVerdict:
        """What a finding of ``rule_id`` answers; nothing for a rule this
        catalogue does not hold (a report made with another catalogue)."""
        rule = self.rules.get(rule_id)
        return NO_VERDICT if rule is None else rule.verdict

    def default_ports(self) -> list[int]:
        return sorted(p for p, e in self.ports.items() if e.default)

    def guess(self, port: int) -> PortEntry | None:
        return self.ports.get(port)

    @classmethod
    def load(cls, root: Path | None = None, *, lazy: bool = False) -> Catalogue:
        """The catalogue under ``root`` (the shipped one by default), every
        file validated now; with ``lazy``, each kind when first used."""
        root = root or catalogue_dir()
        files = catalogue_files(root)
        if not files:
            raise CatalogueError(f"no catalogue files under {root}")
        if lazy:
            pending: dict[str, list[Path]] = {}
            eager: list[tuple[Path, dict[str, Any]]] = []
            for path in files:
                kind = kind_line(path)
                if kind is None:  # no plain "kind:" line: read it now
                    eager.append((path, read_document(path)))
                else:
                    pending.setdefault(kind, []).append(path)
            return cls(eager, pending=pending)
        return cls([(path, read_document(path)) for path in files])


def validate_document(
    path: Path, doc: dict[str, Any], kinds: dict[str, type[BaseModel]] | None = None
) -> tuple[type[BaseModel], BaseModel]:
    """The model of ``doc``'s kind and the validated document; a rule's fact
    and field names are checked too."""
    kinds = registered_kinds() if kinds is None else kinds
    kind = doc.get("kind")
    if not isinstance(kind, str):
        raise CatalogueError(f"{path}: no 'kind'")
    model = kinds.get(kind)
    if model is None:
        known = ", ".join(sorted(kinds))
        raise CatalogueError(f"{path}: unknown kind {kind!r} (known: {known})")
    body = {k: v for k, v in doc.items() if k != "kind"}
    try:
        item = model.model_validate(body)
    except ValueError as exc:
        raise CatalogueError(f"{path}: {error_line(exc)}") from None
    if isinstance(item, Rule):
        _check_fact_names(path, item)
    return model, item


def check_catalogue(root: Path) -> list[str]:
    """Every error of the catalogue under ``root``, one line each (nuclei's
    ``-validate``): each file is read and validated on its own, so one
    broken file does not hide the next; then the whole is loaded, for what
    only the whole can show (duplicate ids, what a kind builds at load)."""
    if not root.is_dir():
        return [f"{root}: not a folder"]
    files = catalogue_files(root)
    if not files:
        return [f"no catalogue files under {root}"]
    errors: list[str] = []
    docs: list[tuple[Path, dict[str, Any]]] = []
    seen: dict[tuple[str, str], Path] = {}
    for path in files:
        try:
            doc = read_document(path)
            validate_document(path, doc)
        except CatalogueError as exc:
            errors.append(str(exc))
            continue
        item_id = doc.get("id")
        if isinstance(item_id, str):
            first = seen.setdefault((str(doc["kind"]), item_id), path)
            if first != path:
                errors.append(f"{path}: duplicate {doc['kind']} id {item_id} (also {first})")
                continue
        docs.append((path, doc))
    if not errors:
        try:
            Catalogue(docs)
        except CatalogueError as exc:
            errors.append(str(exc))
    return errors


def catalogue_schema() -> dict[str, Any]:
    """The JSON Schema of a catalogue file: one branch per registered kind,
    told apart by ``kind`` (the published template schema nuclei has)."""
    branches: list[dict[str, Any]] = []
    all_defs: dict[str, Any] = {}
    for kind, model in sorted(registered_kinds().items()):
        # Two kinds may name different models alike (a rule's Condition, a
        # decoy sign's): each kind's definitions live under its own prefix.
        text = json.dumps(model.model_json_schema(mode="validation"))
        schema = json.loads(text.replace('"#/$defs/', f'"#/$defs/{kind}.'))
        for name, definition in schema.pop("$defs", {}).items():
            all_defs[f"{kind}.{name}"] = definition
        schema.setdefault("properties", {})["kind"] = {"const": kind}
        schema["required"] = ["kind", *schema.get("required", [])]
        branches.append(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://exposcan.invalid/catalogue.schema.json",
        "title": "exposcan catalogue file",
        "oneOf": branches,
        "$defs": all_defs,
    }


@cache
def default_catalogue() -> Catalogue:
    """The catalogue of ``$EXPOSCAN_CATALOGUE`` or the shipped one, each kind
    read when first used; :meth:`Catalogue.read_all` validates the rest."""
    return Catalogue.load(lazy=True)
