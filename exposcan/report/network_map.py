"""The picture of the network for the HTML report: hosts, their services and
the exposure paths (internet -> box forward -> PACS), laid out here as plain
coordinates that the template draws as inline SVG.

Three columns: the internet, the internet box, the hosts of the practice (or,
for an internet-side scan, the public addresses scanned). Every text is
data for the template, which escapes it: a hostile product string stays text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exposcan.catalogue import Catalogue
from exposcan.models import Finding, Host, Report, SeenFrom, Severity, Vantage
from exposcan.report.i18n import Texts

WIDTH = 1000
TOP = 40
LINE_H = 17
HEAD_H = 52
CARD_GAP = 12
MAX_LINES = 8
MAX_HOSTS = 40
CHAR_W = 7.0  # width of a monospace character at the map's font size
INET_X, INET_W, INET_H = 10, 130, 56
BOX_X, BOX_W = 170, 225
LAN_X, LAN_W = 520, 470


@dataclass
class Line:
    y: float
    text: str
    tone: str  # bad / warn / ok / plain


@dataclass
class Card:
    x: float
    y: float
    w: float
    h: float
    title: str
    subtitle: str
    tone: str
    dashed: bool = False
    lines: list[Line] = field(default_factory=list)


@dataclass
class Edge:
    d: str
    tone: str
    label: str = ""
    lx: float = 0.0
    ly: float = 0.0


@dataclass
class Zone:
    x: float
    y: float
    w: float
    h: float
    label: str


@dataclass
class NetworkMap:
    width: int
    height: float
    cards: list[Card]
    edges: list[Edge]
    zones: list[Zone]
    hidden: int


def _clip(text: str, size: int) -> str:
    text = " ".join(text.split())  # no control characters or runs of blanks
    return text if len(text) <= size else text[: size - 1] + "\u2026"


def _tone(findings: list[Finding], catalogue: Catalogue) -> str:
    # Red: what gives images to whoever reaches it (the rules' verdict blocks).
    if any(
        (role := catalogue.verdict(f.rule)).imaging is not None or role.internet is not None
        for f in findings
    ):
        return "bad"
    top = max((f.severity.rank for f in findings), default=-1)
    if top >= Severity.HIGH.rank:
        return "bad"
    if top >= Severity.MEDIUM.rank:
        return "warn"
    return "ok" if top >= 0 else "plain"


def _card(
    host: Host,
    x: float,
    y: float,
    w: float,
    at: dict[tuple[str, int | None], list[Finding]],
    texts: Texts,
    catalogue: Catalogue,
) -> Card:
    products = list(dict.fromkeys(s.product for s in host.services if s.product))
    chars = int((w - 36) / CHAR_W)
    lines: list[Line] = []
    for i, svc in enumerate(host.services[:MAX_LINES]):
        text = " ".join(
            filter(
                None,
                [
                    f"{svc.port}/{svc.protocol}",
                    svc.product,
                    svc.version,
                    "TLS" if svc.tls else None,
                ],
            )
        )
        lines.append(
            Line(
                y + HEAD_H + i * LINE_H,
                _clip(text, chars),
                _tone(at.get((host.address, svc.port), []), catalogue),
            )
        )
    if len(host.services) > MAX_LINES:
        lines.append(
            Line(
                y + HEAD_H + MAX_LINES * LINE_H,
                texts("map.more", count=len(host.services) - MAX_LINES),
                "plain",
            )
        )
    if not host.services:
        lines.append(Line(y + HEAD_H, texts("map.noport"), "plain"))
    h = HEAD_H + LINE_H * max(len(lines), 1) - 6
    host_findings = [f for (addr, _), fs in at.items() if addr == host.address for f in fs]
    return Card(
        x,
        y,
        w,
        h,
        host.address,
        _clip(", ".join(products), chars),
        _tone(host_findings, catalogue),
        lines=lines,
    )


def _line_y(card: Card, host: Host, port: int | None) -> float:
    for svc, line in zip(host.services[:MAX_LINES], card.lines, strict=False):
        if svc.port == port:
            return line.y - 4
    return card.y + card.h / 2


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    mid = (x1 + x2) / 2
    return f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"


def build_map(report: Report, texts: Texts, catalogue: Catalogue) -> NetworkMap:
    at: dict[tuple[str, int | None], list[Finding]] = {}
    for f in report.findings:
        at.setdefault((f.host, f.port), []).append(f)
    internet_vantage = report.scan.vantage is Vantage.INTERNET
    box_host = None
    if not internet_vantage:
        box_host = next(
            (h for h in report.hosts if any(s.protocol == "upnp" for s in h.services)), None
        )
    shown = [h for h in report.hosts if h.services and h is not box_host]
    hidden = len([h for h in report.hosts if not h.services and h is not box_host])
    # Hosts with the worst findings first, so a long network keeps them on top.
    rank = {"bad": 0, "warn": 1, "ok": 2, "plain": 3}
    shown.sort(
        key=lambda h: rank[
            _tone([f for (a, _), fs in at.items() if a == h.address for f in fs], catalogue)
        ]
    )
    hidden += max(0, len(shown) - MAX_HOSTS)
    shown = shown[:MAX_HOSTS]

    cards: list[Card] = []
    edges: list[Edge] = []
    host_cards: dict[str, tuple[Host, Card]] = {}
    y = TOP + 10.0
    for host in shown:
        card = _card(host, LAN_X, y, LAN_W, at, texts, catalogue)
        cards.append(card)
        host_cards[host.address] = (host, card)
        y = card.y + card.h + CARD_GAP
    bottom = max(y, TOP + 10 + INET_H + 80)
    zone_label = texts("map.public") if internet_vantage else texts("map.lan")
    zones = [Zone(LAN_X - 12, TOP - 8, LAN_W + 22, bottom - TOP + 4, zone_label)]

    inet = Card(INET_X, TOP + 10, INET_W, INET_H, texts("map.internet"), "", "plain")
    cards.append(inet)
    inet_right = (INET_X + INET_W, inet.y + INET_H / 2)

    if internet_vantage:
        for f in report.findings:
            if catalogue.verdict(f.rule).internet != "proven" or f.host not in host_cards:
                continue
            host, card = host_cards[f.host]
            edges.append(
                Edge(
                    _curve(*inet_right, LAN_X, _line_y(card, host, f.port)),
                    "bad",
                    texts("map.reached"),
                    LAN_X - 8,
                    _line_y(card, host, f.port) - 3,
                )
            )
        if not edges:
            for _host, card in host_cards.values():
                edges.append(Edge(_curve(*inet_right, LAN_X, card.y + 20), "plain"))
    else:
        if box_host is not None:
            box = _card(box_host, BOX_X, TOP + 10, BOX_W, at, texts, catalogue)
            box.subtitle = _clip(
                texts("map.box") + (" \u2013 " + box.subtitle if box.subtitle else ""), 34
            )
        else:
            box = Card(
                BOX_X, TOP + 10, BOX_W, INET_H, texts("map.box.unknown"), "", "plain", dashed=True
            )
        cards.append(box)
        forwards = [f for f in report.findings if catalogue.verdict(f.rule).is_forward]
        exposed = any(catalogue.verdict(f.rule).internet == "forward" for f in forwards)
        box_mid = box.y + min(box.h, 60) / 2
        edges.append(Edge(_curve(*inet_right, BOX_X, box_mid), "bad" if exposed else "plain"))
        for f in forwards:
            target = str(f.evidence.get("internal_host"))
            if target not in host_cards:
                continue
            host, card = host_cards[target]
            port = f.evidence.get("internal_port")
            ty = _line_y(card, host, port if isinstance(port, int) else None)
            tone = "bad" if catalogue.verdict(f.rule).internet == "forward" else "plain"
            label = texts("map.forward", port=f.evidence.get("external_port", f.port))
            edges.append(
                Edge(_curve(BOX_X + BOX_W, box_mid, LAN_X, ty), tone, label, LAN_X - 8, ty - 3)
            )
        edges += _outside_edges(report, host_cards, box, box_mid, texts, edges)
        if any(e.tone == "bad" for e in edges[1:]):
            edges[0].tone = "bad"  # the internet reaches the box
        bottom = max(bottom, box.y + box.h + 20)
    return NetworkMap(WIDTH, bottom + 10, cards, edges, zones, hidden)


def _outside_edges(
    report: Report,
    host_cards: dict[str, tuple[Host, Card]],
    box: Card,
    box_mid: float,
    texts: Texts,
    drawn_edges: list[Edge],
) -> list[Edge]:
    """The doors the outside view saw, drawn to the LAN service behind each:
    red, what the internet reached (proof); dashed, what the box's NAT
    loopback led to from inside (an indication)."""
    if report.outside is None:
        return []
    edges: list[Edge] = []
    drawn: set[tuple[str, str]] = set()
    labels_at: dict[float, int] = {}
    for e in drawn_edges:
        if e.label:
            labels_at[e.ly + 3] = labels_at.get(e.ly + 3, 0) + 1
    # Proof first: a door also seen through the loopback is drawn once, red.
    # A forward the IGD lists is drawn already (and the table says it was
    # proven): the map adds the doors UPnP never listed.
    for path in sorted(report.outside.paths, key=lambda p: p.seen is not SeenFrom.INTERNET):
        if path.lan is None or path.via_upnp or (path.public, path.lan) in drawn:
            continue
        address, _, port_text = path.lan.rpartition(":")
        address = address.strip("[]")
        if address not in host_cards:
            continue
        drawn.add((path.public, path.lan))
        host, card = host_cards[address]
        port = int(port_text) if port_text.isdigit() else None
        ty = _line_y(card, host, port)
        # Several doors to one service: their labels stack instead of overlapping.
        stacked = labels_at.get(ty, 0)
        labels_at[ty] = stacked + 1
        public_port = path.public.rpartition(":")[2]
        proof = path.seen is SeenFrom.INTERNET
        edges.append(
            Edge(
                _curve(box.x + box.w, box_mid, LAN_X, ty),
                "bad" if proof else "warn",
                texts("map.seen" if proof else "map.looped", port=public_port),
                LAN_X - 8,
                ty - 3 - 13 * stacked,
            )
        )
    return edges
