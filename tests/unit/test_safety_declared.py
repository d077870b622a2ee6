"""Safety is enforced where it is declared: the engine decides,
from the probe's and the catalogue's declarations, whether an intrusive
step runs and whether an intrusive rule counts; nmap NSE's categories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exposcan.catalogue import Catalogue, CatalogueError, catalogue_dir
from exposcan.config import ScanConfig
from exposcan.facts import FactError
from exposcan.findings import evaluate
from exposcan.limits import Limits
from exposcan.models import Safety, Vantage
from exposcan.probe import ProbeContext
from exposcan.state import Fact, HostState, ScanState

CATALOGUE = Catalogue.load(catalogue_dir())
STEPS = {"banner": Safety.SAFE, "default-credentials": Safety.INTRUSIVE}


def _ctx(intrusive: bool) -> Iterator[ProbeContext]:
    limits = Limits(10, 2, 0)
    config = ScanConfig(ports=[80], ports_spec="80", intrusive=intrusive)
    yield ProbeContext(
        HostState("198.18.0.30"), ScanState(), config, CATALOGUE, limits, "http", STEPS
    )
    limits.close()


@pytest.fixture
def safe_ctx() -> Iterator[ProbeContext]:
    yield from _ctx(False)


@pytest.fixture
def intrusive_ctx() -> Iterator[ProbeContext]:
    yield from _ctx(True)


def test_an_intrusive_step_runs_only_with_intrusive(
    safe_ctx: ProbeContext, intrusive_ctx: ProbeContext
) -> None:
    # Given a probe that declares one safe and one intrusive step
    # Then the safe one always runs, the intrusive one only with --intrusive
    assert safe_ctx.step("banner") and intrusive_ctx.step("banner")
    assert not safe_ctx.step("default-credentials")
    assert intrusive_ctx.step("default-credentials")
    # And a step it did not declare is a bug, not a silent yes
    with pytest.raises(KeyError, match="not declared"):
        intrusive_ctx.step("brute-force")


def test_a_fact_of_an_intrusive_step_needs_intrusive(
    safe_ctx: ProbeContext, intrusive_ctx: ProbeContext
) -> None:
    # Given the fact a default-account login gathers
    data = {"product": "Orthanc", "version": "1.10.1", "endpoint": "/system"}
    # Then a scan without --intrusive cannot record it, even by a probe's bug
    with pytest.raises(FactError, match="intrusive"):
        safe_ctx.fact("http.default-credentials", 80, "http", **data)
    assert safe_ctx.host.facts == []
    # And with --intrusive it is recorded
    intrusive_ctx.fact("http.default-credentials", 80, "http", **data)
    assert [f.kind for f in intrusive_ctx.host.facts] == ["http.default-credentials"]


def test_an_intrusive_rule_counts_only_with_intrusive() -> None:
    # Given the shipped intrusive rule and a fact it matches
    assert CATALOGUE.rules["http.default-credentials"].safety is Safety.INTRUSIVE
    fact = Fact("http.default-credentials", "198.18.0.30", 80, "http", {"product": "Orthanc"})
    # Then a scan without --intrusive makes no finding of it, one with does
    assert evaluate(CATALOGUE, [fact], Vantage.LAN, intrusive=False) == []
    found = evaluate(CATALOGUE, [fact], Vantage.LAN, intrusive=True)
    assert [f.rule for f in found] == ["http.default-credentials"]


def test_a_rule_over_an_intrusive_fact_must_say_so(tmp_path: Path) -> None:
    # Given a rule over the default-account fact that claims to be safe
    (tmp_path / "r.yaml").write_text(
        "kind: rule\nid: test.login\ninfo: {name: n, severity: high, description: d, "
        "remediation: r}\nsafety: safe\nmatch: {fact: http.default-credentials}\n"
    )
    # Then the catalogue does not load
    with pytest.raises(CatalogueError, match=r"r\.yaml: safety: .*must say safety: intrusive"):
        Catalogue.load(tmp_path)
    # And declared intrusive, it loads
    (tmp_path / "r.yaml").write_text(
        (tmp_path / "r.yaml").read_text().replace("safety: safe", "safety: intrusive")
    )
    assert Catalogue.load(tmp_path).rules["test.login"].safety is Safety.INTRUSIVE
