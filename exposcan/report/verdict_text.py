"""The verdict in words of one language: what the report's first screen and
the terminal summary both say."""

from __future__ import annotations

from dataclasses import dataclass

from exposcan.models import Vantage
from exposcan.report.i18n import Texts
from exposcan.verdict import Action, InternetAnswer, LanAnswer, Place, Verdict

#: Places named in one sentence; the rest are counted.
PLACES_NAMED = 4


@dataclass(frozen=True)
class Answer:
    question: str
    word: str  # Yes / No / Not known from here
    tone: str  # "bad", "good" or "unknown": colour on screen and on paper
    sentence: str


def _place(p: Place, texts: Texts) -> str:
    what = ", ".join(x for x in (p.product, texts("kind." + p.kind)) if x)
    return f"{p.text()} ({what})"


def _places(places: tuple[Place, ...], texts: Texts) -> str:
    named = [_place(p, texts) for p in places[:PLACES_NAMED]]
    more = len(places) - PLACES_NAMED
    if more > 0:
        named.append(texts("action.more", count=more))
    return ", ".join(named)


def _where(where: tuple[str, ...], texts: Texts) -> str:
    named = list(where[:PLACES_NAMED])
    if len(where) > PLACES_NAMED:
        named.append(texts("action.more", count=len(where) - PLACES_NAMED))
    return ", ".join(named)


def internet_answer(verdict: Verdict, texts: Texts) -> Answer:
    q = texts("q.internet")
    places = _places(verdict.internet_places, texts)
    count = len(verdict.internet_places)
    outside = verdict.vantage is Vantage.LAN and verdict.outside == "done"
    match verdict.internet:
        case InternetAnswer.PROVEN if outside:
            sentence = texts("a.internet.seen", date=verdict.checked, count=count, where=places)
            return Answer(q, texts("a.yes"), "bad", sentence)
        case InternetAnswer.PROVEN:
            return Answer(
                q, texts("a.yes"), "bad", texts("a.internet.proven", count=count, where=places)
            )
        case InternetAnswer.FORWARD:
            return Answer(
                q, texts("a.yes"), "bad", texts("a.internet.forward", count=count, where=places)
            )
        case InternetAnswer.LOOPBACK:
            sentence = texts("a.internet.loopback", count=count, where=places)
            return Answer(q, texts("a.probably"), "bad", sentence)
        case InternetAnswer.CGNAT:
            sentence = texts("a.internet.cgnat", count=count, where=places, wan=verdict.cgnat_wan)
            return Answer(q, texts("a.no-ipv4"), "unknown", sentence)
        case InternetAnswer.NONE if outside:
            key = "a.internet.none-other" if verdict.answered else "a.internet.none-outside"
            sentence = texts(
                key, date=verdict.checked, tried=verdict.ports_tried, answered=verdict.answered
            )
            return Answer(q, texts("a.no"), "good", sentence)
        case InternetAnswer.NONE:
            return Answer(q, texts("a.no"), "good", texts("a.internet.none", ports=verdict.ports))
        case InternetAnswer.NOT_PROBED:
            return Answer(q, texts("a.unknown"), "unknown", texts("a.not-probed"))
    if verdict.outside is not None and verdict.outside_error:
        sentence = texts("a.internet.failed", error=verdict.outside_error or "?")
        return Answer(q, texts("a.unknown"), "unknown", sentence)
    return Answer(q, texts("a.unknown"), "unknown", texts("a.internet.unknown"))


def lan_answer(verdict: Verdict, texts: Texts) -> Answer:
    q = texts("q.lan")
    match verdict.lan:
        case LanAnswer.YES:
            return Answer(
                q,
                texts("a.yes"),
                "bad",
                texts(
                    "a.lan.yes",
                    count=len(verdict.lan_places),
                    where=_places(verdict.lan_places, texts),
                ),
            )
        case LanAnswer.NO:
            return Answer(q, texts("a.no"), "good", texts("a.lan.no"))
        case LanAnswer.NOT_PROBED:
            return Answer(q, texts("a.unknown"), "unknown", texts("a.not-probed"))
    return Answer(q, texts("a.unknown"), "unknown", texts("a.lan.unknown"))


def action_text(action: Action, texts: Texts) -> str:
    return texts("action." + action.id, where=_where(action.where, texts))
