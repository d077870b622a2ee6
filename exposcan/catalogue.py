"""The catalogue: ``probes/``, one declarative YAML file per check.

As in nuclei-templates, a rule is an id, an info block and matchers over
*facts* that protocol modules gathered; adding a rule, a fingerprint, an AE
title or an imaging signature is a catalogue edit, never an engine change.

Every file carries a ``kind``:

- ``rule``: facts -> finding (validated here, see :class:`Rule`);
- ``ports``: the default practice port list and port -> protocol guesses;
- anything else (``http-fingerprint``, ``dicom-implementation``, ...) is
  interpreted by the protocol module that owns it, through :meth:`entries`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from exposcan.models import Safety, Severity, Vantage


class CatalogueError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleText(_Strict):
    """The words of a rule in one language (the report renders these)."""

    name: str
    description: str
    remediation: str


#: Languages a report is written in; English is the rule's own ``info``.
LANGUAGES = ("en", "fr")


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
ImagingWay = Literal["dicom", "pacs-web", "listing", "share", "default-account"]
#: The actions a rule's finding may call for (``action.<id>`` in the report's
#: words); :mod:`exposcan.verdict` orders them.  The actions decided from the
#: verdict's answers (close the forwards, scan from the other side) are not a
#: rule's to call for.
RuleAction = Literal[
    "assess-breach",
    "lock-pacs",
    "lock-shares",
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


class Rule(_Strict):
    kind: Literal["rule"]
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
    port: int = Field(ge=1, le=65535)
    protocol: str
    tls: bool = False
    label: str = ""
    default: bool = True  # in the default scan list


class Catalogue:
    def __init__(self, documents: Iterable[tuple[Path, dict[str, Any]]]) -> None:
        self.rules: dict[str, Rule] = {}
        self.ports: dict[int, PortEntry] = {}
        self._entries: dict[str, list[dict[str, Any]]] = {}
        for path, doc in documents:
            kind = doc.get("kind")
            if not isinstance(kind, str):
                raise CatalogueError(f"{path}: no 'kind'")
            try:
                if kind == "rule":
                    rule = Rule.model_validate(doc)
                    if rule.id in self.rules:
                        raise CatalogueError(f"{path}: duplicate rule id {rule.id}")
                    self.rules[rule.id] = rule
                elif kind == "ports":
                    items = doc.get("ports", [])
                    if not isinstance(items, list):
                        raise CatalogueError(f"{path}: 'ports' is not a list")
                    for item in items:
                        entry = PortEntry.model_validate(item)
                        self.ports[entry.port] = entry
                else:
                    self._entries.setdefault(kind, []).append({**doc, "_source": str(path)})
            except CatalogueError:
                raise
            except ValueError as exc:
                raise CatalogueError(f"{path}: {_one_line(exc)}") from exc

    def verdict(self, rule_id: str) -> RuleVerdict:
        """What a finding of ``rule_id`` answers; nothing for a rule this
        catalogue does not hold (a report made with another catalogue)."""
        rule = self.rules.get(rule_id)
        return NO_VERDICT if rule is None else rule.verdict

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return list(self._entries.get(kind, []))

    def default_ports(self) -> list[int]:
        return sorted(p for p, e in self.ports.items() if e.default)

    def guess(self, port: int) -> PortEntry | None:
        return self.ports.get(port)

    @classmethod
    def load(cls, root: Path | None = None) -> Catalogue:
        root = root or catalogue_dir()
        docs: list[tuple[Path, dict[str, Any]]] = []
        for path in sorted(root.rglob("*.yaml")):
            try:
                with path.open(encoding="utf-8") as handle:
                    # libyaml's safe loader when built in: the pure-Python one
                    # cost 0.15-0.2 s of every scan's start (make bench).
                    doc = yaml.load(handle, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
            except yaml.YAMLError as exc:
                raise CatalogueError(f"{path}: not valid YAML: {_one_line(exc)}") from None
            except (UnicodeDecodeError, RecursionError) as exc:
                raise CatalogueError(f"{path}: unreadable: {type(exc).__name__}") from None
            if not isinstance(doc, dict):
                raise CatalogueError(f"{path}: not a mapping")
            docs.append((path, doc))
        if not docs:
            raise CatalogueError(f"no catalogue files under {root}")
        return cls(docs)


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _one_line(exc: BaseException) -> str:
    """An error as one line: pydantic and PyYAML explain over several."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors()
            return "; ".join(
                f"{'.'.join(str(x) for x in e.get('loc', ())) or 'document'}: {e.get('msg', '')}"
                for e in items[:3]
            ) + ("; ..." if len(items) > 3 else "")
        except (TypeError, ValueError, AttributeError):
            pass
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split()) or type(exc).__name__


def catalogue_dir() -> Path:
    """``$EXPOSCAN_CATALOGUE``, else the catalogue shipped in the wheel
    (``exposcan/probes/``, package data), else the source tree's ``probes/``."""
    env = os.environ.get("EXPOSCAN_CATALOGUE")
    if env:
        return Path(env)
    shipped = resources.files("exposcan") / "probes"
    if isinstance(shipped, Path) and shipped.is_dir():
        return shipped
    source_tree = Path(__file__).resolve().parent.parent / "probes"
    if source_tree.is_dir():
        return source_tree
    raise CatalogueError(
        "catalogue not found: reinstall exposcan, or set EXPOSCAN_CATALOGUE to a probes/ folder"
    )


@cache
def default_catalogue() -> Catalogue:
    return Catalogue.load()
