"""The answer in plain words, decided once for the HTML report and the
terminal: can patient images be reached from the internet? by anyone on the
practice network? what to do first?

Language-free: answers are enums, actions are ids with the places they
concern; :mod:`exposcan.report.i18n` puts them into words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import get_args

from exposcan.catalogue import Catalogue, ImagingWay, default_catalogue
from exposcan.models import Finding, Outside, OutsidePath, Report, SeenFrom, Severity, Vantage
from exposcan.net.targets import url_host

#: Which finding answers which question is the catalogue's to say (a rule's
#: ``verdict:`` block, :class:`exposcan.catalogue.RuleVerdict`): this module
#: never names a rule.

KINDS: tuple[str, ...] = (*get_args(ImagingWay), "service")

#: How many actions the first screen (and the terminal) shows.
FIRST_ACTIONS = 5


class InternetAnswer(StrEnum):
    PROVEN = "proven"  # an internet-side scan (or the reflector) reached imaging
    FORWARD = "forward"  # the box forwards an internet port to imaging
    LOOPBACK = "loopback"  # the box's NAT loopback led to imaging: indicative
    CGNAT = "cgnat"  # forwards to imaging, but the box sits behind carrier-grade NAT
    NONE = "none"  # an internet-side scan reached no imaging on the ports scanned
    UNKNOWN = "unknown"  # a LAN scan with no such forward: hand-set forwards are invisible
    NOT_PROBED = "not-probed"  # an internet-side port scan (--no-probes) did not look


class LanAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"  # an internet-side scan does not see the LAN
    NOT_PROBED = "not-probed"  # a port scan (--no-probes) did not look behind the ports


@dataclass(frozen=True)
class Place:
    """An imaging service and, when it is a forward, the public door to it."""

    where: str  # host:port of the service
    kind: str  # one of KINDS
    via: str | None = None  # box:public port, for a forward
    product: str | None = None  # "Orthanc 1.10.1", when the outside view joined it
    #: The same service at the same device's other addresses (its IPv6
    #: addresses, joined by MAC): one place, not one per address.
    also: tuple[str, ...] = ()

    def text(self) -> str:
        where = " + ".join((self.where, *self.also))
        return f"{self.via} \u2192 {where}" if self.via else where


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
    #: The outside view (scan --outside): "done", "failed", or None (not asked).
    outside: str | None = None
    #: When the reflector scanned (UTC, "YYYY-MM-DD HH:MM"); what it tried.
    checked: str | None = None
    ports_tried: int = 0
    #: Public ports that answered the reflector, imaging or not.
    answered: int = 0
    outside_error: str | None = None
    #: The box's private or shared WAN address (carrier-grade NAT), if any.
    cgnat_wan: str | None = None

    @property
    def internet_exposed(self) -> bool:
        return self.internet in (
            InternetAnswer.PROVEN,
            InternetAnswer.FORWARD,
            InternetAnswer.LOOPBACK,
        )

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
    "lock-ftp",
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


def _device_addresses(report: Report) -> dict[str, str]:
    """IPv6 address -> the same device's IPv4 address (joined by MAC)."""
    return {v6: h.address for h in report.hosts for v6 in h.ipv6}


def _per_device(places: tuple[Place, ...], report: Report) -> tuple[Place, ...]:
    """One place per service of a device: a PACS reached at its IPv4 and its
    IPv6 address (the report joins them by MAC, ``Host.ipv6``) is one PACS
    with two ways in, not two PACS on the first screen.  Its IPv4 address
    leads."""
    owner = {f"{url_host(v6)}:": f"{url_host(v4)}:" for v6, v4 in _device_addresses(report).items()}

    def device_key(where: str) -> str:
        for prefix, device in owner.items():
            if where.startswith(prefix):
                return device + where[len(prefix) :]
        return where

    groups: dict[str, list[Place]] = {}
    for place in places:
        groups.setdefault(device_key(place.where), []).append(place)
    merged: list[Place] = []
    for key, group in groups.items():
        lead = next((p for p in group if p.where == key), group[0])
        others = tuple(p.where for p in group if p is not lead)
        merged.append(replace(lead, also=others) if others else lead)
    return tuple(merged)


def _kind(value: object) -> str:
    return value if isinstance(value, str) and value in KINDS else "service"


def _forward_place(f: Finding) -> Place:
    ev = f.evidence
    inside = f"{ev.get('internal_host', '?')}:{ev.get('internal_port', '?')}"
    public = ev.get("external_ip") or f.host
    port = ev.get("external_port", f.port)
    return Place(inside, _kind(ev.get("imaging_service")), f"{public}:{port}")


def _path_place(p: OutsidePath) -> Place:
    product = " ".join(x for x in (p.product, p.version) if x) or None
    if p.lan:
        return Place(p.lan, _kind(p.imaging), p.public, product)
    return Place(p.public, _kind(p.imaging), None, product)


def _outside_answer(
    outside: Outside | None, forwards: list[Place]
) -> tuple[InternetAnswer, tuple[Place, ...]]:
    """A LAN scan's answer to the first question: the reflector's proof
    first; then the box's own word (UPnP), unless carrier-grade NAT makes
    its forwards unreachable; then the NAT loopback's indication."""
    # A scan its deadline cut proves what it saw open, not what it did not.
    done = outside is not None and outside.status == "done" and outside.complete
    paths = outside.paths if outside is not None else []
    proven = [_path_place(p) for p in paths if p.seen is SeenFrom.INTERNET and p.imaging]
    looped = [_path_place(p) for p in paths if p.seen is SeenFrom.LOOPBACK and p.imaging]
    if proven:
        return InternetAnswer.PROVEN, _unique(proven)
    if done:
        return InternetAnswer.NONE, ()
    if forwards:
        cgnat = outside is not None and outside.public.carrier_grade_nat
        return (InternetAnswer.CGNAT if cgnat else InternetAnswer.FORWARD), _unique(forwards)
    if looped:
        return InternetAnswer.LOOPBACK, _unique(looped)
    return InternetAnswer.UNKNOWN, ()


def decide(report: Report, catalogue: Catalogue | None = None) -> Verdict:
    """The answers, from the findings and what their rules declare
    (``catalogue``: the one the report's words come from; default: shipped)."""
    catalogue = catalogue or default_catalogue()
    findings = _ordered(list(report.findings))
    vantage = report.scan.vantage
    roles = [(f, catalogue.verdict(f.rule)) for f in findings]
    close: tuple[Place, ...] = ()

    if vantage is Vantage.INTERNET:
        proven = [
            Place(_where(f), _kind(f.evidence.get("service")))
            for f, role in roles
            if role.internet == "proven"
        ]
        internet = InternetAnswer.PROVEN if proven else InternetAnswer.NONE
        if not proven and not report.scan.probed:
            internet = InternetAnswer.NOT_PROBED
        internet_places = _unique(proven)
    else:
        forwards = [_forward_place(f) for f, role in roles if role.internet == "forward"]
        internet, internet_places = _outside_answer(report.outside, forwards)
        if not internet_places and forwards:
            # No door proven open, yet the box forwards to imaging: close it all the same.
            close = _unique(forwards)

    device = _device_addresses(report)

    def device_where(f: Finding) -> str:
        return _where(f.model_copy(update={"host": device.get(f.host, f.host)}))

    lan_places: tuple[Place, ...] = ()
    if vantage is Vantage.INTERNET:
        lan = LanAnswer.UNKNOWN
    elif not report.scan.probed:
        # A port scan saw doors, not what is behind them.
        lan = LanAnswer.NOT_PROBED
    else:
        lan_places = _per_device(
            _unique(
                [Place(_where(f), role.imaging) for f, role in roles if role.imaging is not None]
            ),
            report,
        )
        lan = LanAnswer.YES if lan_places else LanAnswer.NO

    actions: list[Action] = []
    for action_id in ACTIONS:
        if action_id == "close-forwards":
            if internet_places or close:
                where = tuple(dict.fromkeys(p.via or p.where for p in internet_places or close))
                # From outside, the forward's inside end is unknown: name the public ports.
                actions.append(
                    Action("close-public" if vantage is Vantage.INTERNET else action_id, where)
                )
        elif action_id == "scan-from-outside":
            outside_done = (
                report.outside is not None
                and report.outside.status == "done"
                and report.outside.complete
            )
            if vantage is Vantage.LAN and not outside_done:
                actions.append(Action(action_id))
        elif action_id == "scan-from-lan":
            if vantage is Vantage.INTERNET:
                actions.append(Action(action_id))
        else:
            hits = [f for f, role in roles if action_id in role.actions]
            if hits:
                # One device's IPv6 address is the same share or PACS to lock,
                # except where the IPv6 address is the point.
                named = _where if action_id == "ipv6-firewall" else device_where
                where = (
                    ()
                    if action_id == "assess-breach"
                    else tuple(dict.fromkeys(named(f) for f in hits))
                )
                actions.append(Action(action_id, where))

    verdict = Verdict(
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
    return _with_outside(verdict, report.outside)


def _with_outside(verdict: Verdict, outside: Outside | None) -> Verdict:
    if outside is None:
        return verdict
    return replace(
        verdict,
        outside=outside.status if outside.status != "not-asked" else None,
        checked=outside.checked.strftime("%Y-%m-%d %H:%M UTC") if outside.checked else None,
        ports_tried=outside.ports_tried,
        answered=len({p.public for p in outside.paths if p.seen is SeenFrom.INTERNET}),
        outside_error=outside.error
        or (None if outside.complete else "the reflector's scan was cut by its deadline"),
        cgnat_wan=outside.public.upnp_external_ip if outside.public.carrier_grade_nat else None,
    )


def severity_order() -> list[Severity]:
    return sorted(Severity, key=lambda s: -s.rank)
