"""The outside view in words of one language: the doors seen from outside
and the LAN services behind them, for the terminal and the HTML report."""

from __future__ import annotations

from dataclasses import dataclass

from exposcan.models import Outside, Report, SeenFrom
from exposcan.net.targets import text_key
from exposcan.report.i18n import Texts
from exposcan.verdict import KINDS


@dataclass(frozen=True)
class DoorRow:
    public: str
    seen: str  # "seen from the internet (proof)" / "... NAT loopback (indicative)"
    proof: bool
    lan: str  # "198.18.0.10:104" or "not joined"
    what: str  # "dicom Orthanc 1.10.1, DICOM query"
    joined_by: str
    upnp: str  # "listed by UPnP" / "not listed by UPnP (set by hand)"


def door_rows(outside: Outside, texts: Texts) -> list[DoorRow]:
    rows = []
    order = sorted(
        outside.paths, key=lambda p: (p.seen is not SeenFrom.INTERNET, _sort_key(p.public))
    )
    for p in order:
        what = " ".join(x for x in (p.protocol, p.product, p.version) if x)
        if p.imaging:
            # A kind the words do not know (a new protocol's) is an imaging service.
            what += ", " + texts("kind." + (p.imaging if p.imaging in KINDS else "service"))
        rows.append(
            DoorRow(
                public=p.public,
                seen=texts("outside.seen." + p.seen.value),
                proof=p.seen is SeenFrom.INTERNET,
                lan=p.lan or _not_joined(p.candidates, texts),
                what=what,
                joined_by=", ".join(p.joined_by),
                upnp=texts("outside.upnp.listed" if p.via_upnp else "outside.upnp.not-listed"),
            )
        )
    return rows


def _not_joined(candidates: list[str], texts: Texts) -> str:
    """ "not joined", with the LAN services it could be when several answered
    alike (the practice then knows which forwards to look at)."""
    if len(candidates) < 2:
        return texts("outside.not-joined")
    return texts(
        "outside.not-joined.candidates",
        count=len(candidates),
        candidates=", ".join(candidates),
    )


def outside_facts(report: Report, texts: Texts) -> list[str]:
    """The public address and how the outside view went, one line each."""
    outside = report.outside
    if outside is None:
        return []
    lines: list[str] = []
    if outside.status == "done":
        lines.append(
            texts(
                "outside.done",
                reflector=outside.reflector or "?",
                date=outside.checked.strftime("%Y-%m-%d %H:%M UTC") if outside.checked else "?",
                tried=outside.ports_tried,
            )
        )
        if not outside.complete:
            lines.append(texts("outside.incomplete"))
    elif outside.status == "failed":
        lines.append(
            texts("outside.failed", reflector=outside.reflector or "?", error=outside.error)
        )
    public = outside.public
    if public.address:
        lines.append(texts("outside.public", address=public.address))
    if public.disagree:
        lines.append(
            texts(
                "outside.disagree",
                source=public.reflector_source,
                wan=public.upnp_external_ip,
            )
        )
    if public.carrier_grade_nat:
        lines.append(texts("outside.cgnat", wan=public.upnp_external_ip))
    if outside.loopback_ports_tried:
        lines.append(texts("outside.loopback", tried=outside.loopback_ports_tried))
    return lines


def _sort_key(door: str) -> tuple[tuple[int, int], int]:
    """A door ("host:port", "[v6]:port") in address order, as the report's hosts."""
    host, _, port = door.rpartition(":")
    return (text_key(host.strip("[]")), int(port) if port.isdigit() else 0)
