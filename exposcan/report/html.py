"""The HTML report: one self-contained file, French or English.

No script, no external style sheet, font or image: the file opens offline,
prints on A4, and its Content-Security-Policy forbids loading anything at
all. Every value from the network (a banner, a product, a UPnP description)
is untrusted; Jinja2 autoescape is on, and the template never marks data
safe. The report JSON carries English; the words here come from the
catalogue (rules, product guides) and :mod:`exposcan.report.i18n`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

import jinja2

from exposcan.catalogue import Catalogue, default_catalogue
from exposcan.facts import TlsFields
from exposcan.models import Finding, Report, Service, Severity
from exposcan.net.targets import url_host
from exposcan.report.decoy_text import decoy_text
from exposcan.report.guides import Guide, GuideText, guides_for, load_guides
from exposcan.report.i18n import Texts, check_lang, default_lang
from exposcan.report.labels import evidence_label, evidence_value
from exposcan.report.network_map import build_map
from exposcan.report.outside_text import door_rows, outside_facts
from exposcan.report.verdict_text import action_text, internet_answer, lan_answer
from exposcan.verdict import decide, severity_order

TEMPLATES = Path(__file__).resolve().parent / "templates"

# GDPR art. 33 (notify within 72 h) is the frame of a finding whose rule cites
# it, or of anything critical (imaging open to the internet).
_ART33 = re.compile(r"art\.[^)]*\b33\b")


@dataclass
class Place:
    where: str
    protocol: str
    evidence: list[tuple[str, str]]
    #: "Likely decoy (dicompot): ...": the finding stands, labelled.
    decoy: str | None = None


@dataclass
class Group:
    """The findings of one rule at one severity: one block of the report."""

    rule: str
    severity: Severity
    name: str
    description: str
    remediation: str
    references: list[str]
    legal: str
    intrusive: bool
    places: list[Place] = field(default_factory=list)
    #: (id, title) of the product guides that apply, drawn once each below.
    guides: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ProductSteps:
    id: str
    text: GuideText


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every value from the network is untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _service_index(report: Report) -> dict[tuple[str, int | None], Service]:
    return {(h.address, s.port): s for h in report.hosts for s in h.services}


def _groups(report: Report, catalogue: Catalogue, texts: Texts, guides: list[Guide]) -> list[Group]:
    services = _service_index(report)
    by_key: dict[tuple[Severity, str], list[Finding]] = {}
    for f in report.findings:
        by_key.setdefault((f.severity, f.rule), []).append(f)
    groups = []
    order = {s: i for i, s in enumerate(severity_order())}
    for (severity, rule_id), findings in sorted(
        by_key.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])
    ):
        first = findings[0]
        rule = catalogue.rules.get(rule_id)
        if rule is not None:
            words = rule.info.text(texts.lang)
            name, description, remediation = words.name, words.description, words.remediation
            references = list(rule.info.references)
        else:  # a report from another catalogue: its own (English) words
            name, description, remediation = first.title, first.description, first.remediation
            references = list(first.references)
        breach = severity is Severity.CRITICAL or any(_ART33.search(r) for r in references)
        group = Group(
            rule_id,
            severity,
            name,
            description.strip(),
            remediation.strip(),
            references,
            texts("legal.breach" if breach else "legal.security"),
            any(f.safety.value == "intrusive" for f in findings),
        )
        for f in findings:
            where = f.host if f.port is None else f"{url_host(f.host)}:{f.port}"
            evidence = [
                (evidence_label(catalogue, k, texts.lang), evidence_value(catalogue, v, texts))
                for k, v in f.evidence.items()
                if v is not None and v != []
            ]
            decoy = decoy_text(f.decoy, texts, catalogue) if f.decoy else None
            group.places.append(Place(where, f.protocol, evidence, decoy))
        pairs = [(f, services.get((f.host, f.port))) for f in findings]
        group.guides = [(g.id, g.text(texts.lang).title) for g in guides_for(pairs, guides)]
        groups.append(group)
    return groups


#: The TLS facts a service's details may hold (exposcan.net.tls.TlsFacts),
#: shown under its TLS cell, and a node's demand for a client certificate.
TLS_DETAILS = (*TlsFields.model_fields, "client_certificate_required")


def tls_rows(service: Service, catalogue: Catalogue, texts: Texts) -> list[tuple[str, str]]:
    """(label, value) of each TLS fact of a service, in the report's language."""
    return [
        (
            evidence_label(catalogue, name, texts.lang),
            evidence_value(catalogue, service.details[name], texts),
        )
        for name in TLS_DETAILS
        if service.details.get(name) is not None
    ]


def _when(moment: datetime) -> str:
    return (
        moment.strftime("%Y-%m-%d %H:%M UTC")
        if moment.tzinfo
        else moment.strftime("%Y-%m-%d %H:%M")
    )


def render_html(report: Report, lang: str | None = None, catalogue: Catalogue | None = None) -> str:
    """The whole report as one HTML document in ``lang`` (``en`` or ``fr``;
    default: the locale's). Other modules (mail notification) call this."""
    lang = check_lang(lang or default_lang())
    catalogue = catalogue or default_catalogue()
    texts = Texts(lang)
    verdict = decide(report, catalogue)
    scan = report.scan
    guides = load_guides(catalogue)
    groups = _groups(report, catalogue, texts, guides)
    used = {guide_id for g in groups for guide_id, _ in g.guides}
    # Each product's steps once, in the order of the most severe finding needing them.
    first_use = list(dict.fromkeys(guide_id for g in groups for guide_id, _ in g.guides))
    by_id = {g.id: g for g in guides if g.id in used}
    product_steps = [ProductSteps(i, by_id[i].text(lang)) for i in first_use]
    severities = [(s, [g for g in groups if g.severity is s]) for s in severity_order()]
    template = _environment().get_template("report.html.j2")
    return template.render(
        lang=lang,
        t=texts,
        report=report,
        scan=scan,
        subtitle=texts(
            "subtitle",
            vantage=texts("vantage." + scan.vantage.value),
            targets=", ".join(scan.targets),
            date=_when(scan.started),
        ),
        started=_when(scan.started),
        finished=_when(scan.finished),
        answers=[internet_answer(verdict, texts), lan_answer(verdict, texts)],
        actions=[action_text(a, texts) for a in verdict.first_actions],
        more_actions=[action_text(a, texts) for a in verdict.actions[len(verdict.first_actions) :]],
        counts=[(s, verdict.counts.get(s, 0)) for s in severity_order()],
        severities=[(s, gs) for s, gs in severities if gs],
        netmap=build_map(report, texts, catalogue),
        outside_facts=outside_facts(report, texts),
        doors=door_rows(report.outside, texts) if report.outside else [],
        product_steps=product_steps,
        notes=texts.notes(scan),
        tls_rows=lambda service: tls_rows(service, catalogue, texts),
        decoy_text=lambda label: decoy_text(label, texts, catalogue),
    )
