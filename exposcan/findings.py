"""Facts -> findings, through the catalogue's rules."""

from __future__ import annotations

from collections.abc import Iterable

from exposcan.catalogue import Catalogue
from exposcan.models import EvidenceValue, Finding, Safety, Vantage, finding_key
from exposcan.net.targets import text_key
from exposcan.state import Fact


def _evidence_value(value: object) -> EvidenceValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        if all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            return [int(i) for i in items]
        return [str(i) for i in items]
    return str(value)


def evaluate(
    catalogue: Catalogue, facts: Iterable[Fact], vantage: Vantage, *, intrusive: bool = True
) -> list[Finding]:
    """One finding per (rule, host, port): the first matching fact's evidence wins,
    so a probe that records the same proof twice does not double a finding.
    A rule the catalogue declares intrusive counts only when ``intrusive``
    (the scan ran with ``--intrusive``)."""
    facts = list(facts)
    if not facts:  # a port scan: no rule to read (the rules need every fact kind)
        return []
    found: dict[str, Finding] = {}
    rules = [r for r in catalogue.rules.values() if intrusive or r.safety is Safety.SAFE]
    for fact in facts:
        for rule in rules:
            if not rule.matches(fact.kind, fact.data, vantage):
                continue
            key = finding_key(rule.id, fact.host, fact.port)
            if key in found:
                continue
            evidence = {
                name: _evidence_value(fact.data[name])
                for name in rule.evidence
                if name in fact.data
            }
            found[key] = Finding(
                rule=rule.id,
                severity=rule.info.severity,
                host=fact.host,
                port=fact.port,
                protocol=fact.protocol,
                title=rule.info.name,
                description=rule.info.description.strip(),
                evidence=evidence,
                remediation=rule.info.remediation.strip(),
                references=list(rule.info.references),
                safety=rule.safety,
                key=key,
            )
    return sort_findings(found.values())


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    def order(f: Finding) -> tuple[int, tuple[int, int], int, str]:
        return (-f.severity.rank, text_key(f.host), f.port or 0, f.rule)

    return sorted(findings, key=order)
