from pathlib import Path

import pytest

from exposcan.catalogue import (
    Catalogue,
    CatalogueError,
    CatalogueModel,
    catalogue_dir,
    catalogue_kind,
    registered_kinds,
)
from exposcan.facts import FactError, FactModel, fact_kind, validate_fact
from exposcan.findings import evaluate
from exposcan.models import Severity, Vantage, finding_key
from exposcan.state import Fact

RULE = """
kind: rule
id: test.open-thing
info:
  name: A thing is open
  severity: high
  description: d
  remediation: r
match:
  fact: thing.state
  all:
    - {field: open, op: equals, value: true}
    - {field: count, op: gte, value: 1}
evidence: [count, product]
"""


@fact_kind("thing.state")
class ThingState(FactModel):
    """The fact of this file's rules (a test's own fact kind)."""

    open: bool = False
    count: int = 0
    product: str | None = None


def _catalogue(tmp_path: Path, *docs: str) -> Catalogue:
    for i, doc in enumerate(docs):
        (tmp_path / f"{i}.yaml").write_text(doc)
    return Catalogue.load(tmp_path)


def test_the_shipped_catalogue_loads() -> None:
    # Given the probes/ folder of the project
    catalogue = Catalogue.load(catalogue_dir())
    # Then it has the practice ports and the internet exposure rule
    assert 104 in catalogue.default_ports() and 11112 in catalogue.default_ports()
    assert catalogue.rules["exposure.internet-imaging"].info.severity is Severity.CRITICAL


def test_a_rule_turns_matching_facts_into_findings(tmp_path: Path) -> None:
    catalogue = _catalogue(tmp_path, RULE)
    facts = [
        Fact(
            "thing.state",
            "198.18.0.10",
            104,
            "dicom",
            {"open": True, "count": 3, "product": "X"},
        ),
        Fact("thing.state", "198.18.0.11", 104, "dicom", {"open": False, "count": 3}),
        Fact("thing.state", "198.18.0.12", 104, "dicom", {"open": True, "count": 0}),
    ]
    findings = evaluate(catalogue, facts, Vantage.LAN)
    # Then only the first fact matches, and only declared evidence is copied
    assert [f.host for f in findings] == ["198.18.0.10"]
    assert findings[0].evidence == {"count": 3, "product": "X"}
    assert "open" not in findings[0].evidence
    assert findings[0].key == finding_key("test.open-thing", "198.18.0.10", 104)


def test_the_same_proof_twice_makes_one_finding(tmp_path: Path) -> None:
    catalogue = _catalogue(tmp_path, RULE)
    fact = Fact("thing.state", "198.18.0.10", 104, "dicom", {"open": True, "count": 1})
    assert len(evaluate(catalogue, [fact, fact], Vantage.LAN)) == 1


def test_vantage_restricted_rules(tmp_path: Path) -> None:
    catalogue = Catalogue.load(catalogue_dir())
    fact = Fact("imaging.service", "203.0.113.1", 104, "dicom", {"service": "dicom"})
    assert evaluate(catalogue, [fact], Vantage.LAN) == []
    assert [f.rule for f in evaluate(catalogue, [fact], Vantage.INTERNET)] == [
        "exposure.internet-imaging"
    ]


@pytest.mark.parametrize(
    "doc",
    [
        "kind: rule\nid: Bad Id\ninfo: {name: n, severity: high, description: d, remediation: r}\n"
        "match: {fact: x}\n",
        "kind: rule\nid: a.b\ninfo: {name: n, severity: urgent, description: d, remediation: r}\n"
        "match: {fact: x}\n",
        "kind: rule\nid: a.b\ninfo: {name: n, severity: high, description: d, remediation: r}\n"
        "match: {fact: x, all: [{field: f, op: like}]}\n",
        "no_kind: true\n",
    ],
)
def test_malformed_catalogue_files_are_refused(tmp_path: Path, doc: str) -> None:
    with pytest.raises(CatalogueError):
        _catalogue(tmp_path, doc)


def test_duplicate_rule_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="duplicate"):
        _catalogue(tmp_path, RULE, RULE)


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    # Given a catalogue file of a kind no module registered
    # Then loading refuses it, naming the file and the known kinds
    with pytest.raises(CatalogueError, match=r"1\.yaml: unknown kind 'rules' \(known: .*rule"):
        _catalogue(tmp_path, RULE, RULE.replace("kind: rule", "kind: rules"))


def test_every_kind_is_registered_by_its_owner() -> None:
    # Given the kinds the catalogue knows
    kinds = registered_kinds()
    # Then each shipped file's kind is one, owned by the module that reads it
    shipped = {
        p.read_text().split("kind: ", 1)[1].split()[0] for p in catalogue_dir().rglob("*.yaml")
    }
    assert shipped <= set(kinds)
    assert kinds["http-fingerprint"].__module__ == "exposcan.protocols.http.fingerprints"
    assert kinds["dicom-implementation"].__module__ == "exposcan.protocols.dicom.catalogue"
    # And a kind cannot be registered twice (two owners would disagree)
    with pytest.raises(RuntimeError, match="twice"):
        catalogue_kind("rule")(type("Other", (CatalogueModel,), {}))


def test_a_duplicate_fingerprint_id_is_refused(tmp_path: Path) -> None:
    # Given two web fingerprints with the same id (a copied file)
    doc = (catalogue_dir() / "fingerprints/http/orthanc.yaml").read_text()
    # Then the catalogue names the second file and the first
    with pytest.raises(CatalogueError, match=r"1\.yaml: duplicate http-fingerprint id orthanc"):
        _catalogue(tmp_path, doc, doc)


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("fact: thing.state", "fact: thing.stat", r"match\.fact: unknown fact kind 'thing\.stat'"),
        (
            "{field: count,",
            "{field: cuont,",
            r"match\.all\.1\.field: thing\.state has no field 'cuont'",
        ),
        (
            "[count, product]",
            "[count, prodcut]",
            r"evidence\.1: thing\.state has no field 'prodcut'",
        ),
    ],
)
def test_a_rule_naming_what_no_fact_has_fails_at_load(
    tmp_path: Path, old: str, new: str, error: str
) -> None:
    # Given a rule with a misspelt fact kind, condition field or evidence name
    assert old in RULE
    # Then the catalogue does not load, and says which name and where
    with pytest.raises(CatalogueError, match=r"0\.yaml: " + error):
        _catalogue(tmp_path, RULE.replace(old, new))


def test_every_shipped_rule_names_declared_facts() -> None:
    # Given the shipped catalogue (it loads: every name is checked)
    rules = Catalogue.load(catalogue_dir()).rules.values()
    # Then its rules use more than one protocol's facts
    assert {r.match.fact.split(".")[0] for r in rules} >= {"dicom", "http", "smb", "upnp"}


def test_a_fact_is_checked_against_its_model() -> None:
    # Given the fact kind of this file
    # When a probe writes it as declared, then with a misspelt field or a wrong type
    assert validate_fact("thing.state", {"open": True, "count": 2}) == {"open": True, "count": 2}
    with pytest.raises(FactError, match="cuont"):
        validate_fact("thing.state", {"open": True, "cuont": 2})
    with pytest.raises(FactError, match="count"):
        validate_fact("thing.state", {"count": "many"})
    # And a kind nobody declared is refused
    with pytest.raises(FactError, match="unknown fact kind"):
        validate_fact("thing.other", {})
    # And a kind cannot be declared twice
    with pytest.raises(RuntimeError, match="twice"):
        fact_kind("thing.state")(type("Other", (FactModel,), {}))
