"""The answer in plain words, decided once for the HTML report and the
terminal: can patient images be reached from the internet? by anyone on the
practice network? what to do first?

Language-free: answers are enums, actions are ids with the places they
concern; :mod:`exposcan.report.i18n` puts them into words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import get_args

from exposcan.catalogue import Catalogue, ImagingWay, default_catalogue
from exposcan.models import Finding, Report, Severity, Vantage
from exposcan.net.targets import url_host

#: Which finding answers which question is the catalogue's to say (a rule's
#: ``verdict:`` block, :class:`exposcan.catalogue.RuleVerdict`): this module
#: never names a rule.

KINDS: tuple[str, ...] = (*get_args(ImagingWay), "service")

#: How many actions the first screen (and the terminal) shows.
FIRST_ACTIONS = 5


class InternetAnswer(StrEnum):
    PROVEN = "proven"  # an internet-side scan reached imaging
    FORWARD = "forward"  # the box forwards an internet port to imaging
    NONE = "none"  # an internet-side scan reached no imaging on the ports scanned
    UNKNOWN = "unknown"  # a LAN scan with no such forward: hand-set forwards are invisible


class LanAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"  # an internet-side scan does not see the LAN


@dataclass(frozen=True)
class Place:
    """An imaging service and, when it is a forward, the public door to it."""

    where: str  # host:port of the service
    kind: str  # one of KINDS
    via: str | None = None  # box:public port, for a forward

    def text(self) -> str:
        return f"{self.via} \u2192 {self.where}" if self.via else self.where


@dataclass(frozen=True)
class Action:
    id: str
    where: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    vantage: Vantage
    complete: bool
    ports: str
    internet: InternetAnswer
    internet_places: tuple[Place, ...]
    lan: LanAnswer
    lan_places: tuple[Place, ...]
    actions: tuple[Action, ...]
    counts: dict[Severity, int] = field(default_factory=dict)

    @property
    def internet_exposed(self) -> bool:
        return self.internet in (InternetAnswer.PROVEN, InternetAnswer.FORWARD)

    @property
    def first_actions(self) -> tuple[Action, ...]:
        return self.actions[:FIRST_ACTIONS]


#: The actions in the order a practice should act: stop the internet
#: exposure, weigh the breach (GDPR art. 33: 72 h), lock what anyone inside
#: reads, then the rest.  Rules call for the ones of
#: :data:`exposcan.catalogue.RuleAction`; the
#: others are decided from the answers.
ACTIONS: tuple[str, ...] = (
    "close-forwards",  # the internet places: forwards, or public ports
    "ipv6-firewall",  # imaging on a global IPv6 address: no forward needed
    "assess-breach",
    "lock-pacs",
    "lock-shares",
    "remove-listing",
    "scan-from-outside",  # a LAN scan that cannot rule the internet out
    "disable-upnp",
    "upgrade",
    "smb1-off",
    "scan-from-lan",  # an internet-side scan sees no LAN
    "encrypt",
)
#: Decided from the answers, not called for by a rule (a unit test checks
#: that these and :data:`RuleAction` are :data:`ACTIONS`).
DECIDED_ACTIONS = frozenset({"close-forwards", "scan-from-outside", "scan-from-lan"})


def _where(f: Finding) -> str:
    return f.host if f.port is None else f"{url_host(f.host)}:{f.port}"


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -f.severity.rank)


def _unique(items: list[Place]) -> tuple[Place, ...]:
    seen: dict[tuple[str, str | None], Place] = {}
    for item in items:
        seen.setdefault((item.where, item.via), item)
    return tuple(seen.values())


def _kind(value: object) -> str:
    return value if isinstance(value, str) and value in KINDS else "service"


def _forward_place(f: Finding) -> Place:
    ev = f.evidence
    inside = f"{ev.get('internal_host', '?')}:{ev.get('internal_port', '?')}"
    public = ev.get("external_ip") or f.host
    port = ev.get("external_port", f.port)
    return Place(inside, _kind(ev.get("imaging_service")), f"{public}:{port}")


def decide(report: Report, catalogue: Catalogue | None = None) -> Verdict:
    """The answers, from the findings and what their rules declare
    (``catalogue``: the one the report's words come from; default: shipped)."""
    catalogue = catalogue or default_catalogue()
    findings = _ordered(list(report.findings))
    vantage = report.scan.vantage
    roles = [(f, catalogue.verdict(f.rule)) for f in findings]

    if vantage is Vantage.INTERNET:
        proven = [
            Place(_where(f), _kind(f.evidence.get("service")))
            for f, role in roles
            if role.internet == "proven"
        ]
        internet = InternetAnswer.PROVEN if proven else InternetAnswer.NONE
        internet_places = _unique(proven)
    else:
        forwards = [_forward_place(f) for f, role in roles if role.internet == "forward"]
        internet = InternetAnswer.FORWARD if forwards else InternetAnswer.UNKNOWN
        internet_places = _unique(forwards)

    lan_places: tuple[Place, ...] = ()
    if vantage is Vantage.INTERNET:
        lan = LanAnswer.UNKNOWN
    else:
        lan_places = _unique(
            [Place(_where(f), role.imaging) for f, role in roles if role.imaging is not None]
        )
        lan = LanAnswer.YES if lan_places else LanAnswer.NO

    actions: list[Action] = []
    for action_id in ACTIONS:
        if action_id == "close-forwards":
            if internet_places:
                where = tuple(dict.fromkeys(p.via or p.where for p in internet_places))
                # From outside, the forward's inside end is unknown: name the public ports.
                actions.append(
                    Action("close-public" if vantage is Vantage.INTERNET else action_id, where)
                )
        elif action_id == "scan-from-outside":
            if vantage is Vantage.LAN and internet is not InternetAnswer.NONE:
                actions.append(Action(action_id))
        elif action_id == "scan-from-lan":
            if vantage is Vantage.INTERNET:
                actions.append(Action(action_id))
        else:
            hits = [f for f, role in roles if action_id in role.actions]
            if hits:
                where = (
                    ()
                    if action_id == "assess-breach"
                    else tuple(dict.fromkeys(_where(f) for f in hits))
                )
                actions.append(Action(action_id, where))

    return Verdict(
        vantage=vantage,
        complete=report.scan.complete,
        ports=report.scan.ports,
        internet=internet,
        internet_places=internet_places,
        lan=lan,
        lan_places=lan_places,
        actions=tuple(actions),
        counts=dict(Counter(f.severity for f in findings)),
    )


def severity_order() -> list[Severity]:
    return sorted(Severity, key=lambda s: -s.rank)
