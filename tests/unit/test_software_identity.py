"""CPE names and advisories over the services a scan found (no network):
products.yaml, probes/advisories/, exposcan.software.identify and the
*.known-vulnerable rules."""

from __future__ import annotations

import pytest
import yaml

from exposcan.catalogue import Catalogue, CatalogueError, catalogue_dir, default_catalogue
from exposcan.findings import evaluate
from exposcan.models import Vantage
from exposcan.protocols.dicom.catalogue import implementations
from exposcan.protocols.ftp.catalogue import FtpBanners
from exposcan.protocols.http.fingerprints import Fingerprint
from exposcan.software.advisories import Advisory, affecting, release
from exposcan.software.identify import annotate
from exposcan.software.products import cpe_name, product, products
from exposcan.state import ScanState

CATALOGUE = default_catalogue()
DCMTK = "cpe:2.3:a:offis:dcmtk"
ORTHANC = "cpe:2.3:a:orthanc-server:orthanc"


def test_every_product_exposcan_names_has_an_entry() -> None:
    # Given every product name the catalogue's fingerprints can give a service
    named = {f.product for f in CATALOGUE.documents(Fingerprint)}
    named |= {i.product for i in implementations(CATALOGUE)}
    named |= {b.product for doc in CATALOGUE.documents(FtpBanners) for b in doc.banners}
    # Then each has a products.yaml entry, a CPE or a stated reason for none
    missing = sorted(n for n in named if product(CATALOGUE, n) is None)
    assert missing == []
    without = sorted(n for n in named if product(CATALOGUE, n).cpe_prefix is None)  # type: ignore[union-attr]
    assert without == ["DICOMweb"]


def test_built_on_names_a_toolkit_entry() -> None:
    known = CATALOGUE.derived(products)
    for entry in known.values():
        if entry.built_on is not None:
            assert known[entry.built_on.casefold()].toolkit, entry.name


def test_cpe_names_are_cpe_2_3_formatted_strings() -> None:
    # Given a product prefix and versions (CPE 2.3 §5.3.2 quoting)
    assert cpe_name(DCMTK, "3.6.7") == "cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*"
    assert cpe_name(DCMTK, None) == "cpe:2.3:a:offis:dcmtk:*:*:*:*:*:*:*:*"
    assert cpe_name(DCMTK, "1.5.0c/WIN32") == "cpe:2.3:a:offis:dcmtk:1.5.0c\\/win32:*:*:*:*:*:*:*"


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("3.6.7", {"ICSMA-26-181-01"}),  # Debian 12's dcmtk
        ("3.7.0", {"ICSMA-26-181-01"}),  # the CSAF's range is <=3.7.0
        ("3.6.6", {"ICSMA-22-174-01", "ICSMA-26-181-01"}),
        ("3.7.1", set()),  # the fix
        ("3.8", set()),
        ("3.6.7-9+deb12u1", set()),  # not a plain release: no claim
        (None, set()),
    ],
)
def test_dcmtk_advisories_by_version(version: str | None, expected: set[str]) -> None:
    assert {a.id for a in affecting(CATALOGUE, DCMTK, version)} == expected


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [
        ("1.5.7", {"CVE-2025-0896", "CVE-2023-33466", "CVE-2026-5437"}, set()),
        ("1.10.1", {"CVE-2023-33466", "CVE-2026-5437", "CVE-2026-5445"}, {"CVE-2025-0896"}),
        ("1.12.0", {"CVE-2026-5437"}, {"CVE-2023-33466"}),
        ("1.12.11", set(), {"CVE-2026-5437"}),
        ("mainline", set(), {"CVE-2025-0896"}),
    ],
)
def test_orthanc_advisories_by_version(version: str, present: set[str], absent: set[str]) -> None:
    # Given an Orthanc version: the advisories moved out of its fingerprint
    cves = {c for a in affecting(CATALOGUE, ORTHANC, version) for c in a.cves}
    # Then those fixed after it are named, the others not
    assert present <= cves
    assert not absent & cves


def test_version_comparison_reads_release_numbers_only() -> None:
    assert release("1.10.1") > release("1.9.9")  # type: ignore[operator]
    assert release("3.7") == release("3.7.0")
    # PEP 440 would read these as pre-releases or locals: no claim instead
    assert release("1.5.0c") is None and release("1.12.0-rc1") is None
    assert release("v2.3") == release("2.3")
    assert release("1." + "9" * 50) is None


def _load_with(tmp_path: object, name: str, text: str) -> Catalogue:
    import shutil
    from pathlib import Path

    root = Path(str(tmp_path)) / "probes"
    shutil.copytree(catalogue_dir(), root)
    (root / "advisories" / name).write_text(text)
    return Catalogue.load(root)


ADVISORY = """kind: advisory
id: TEST-1
title: a test
cpe: cpe:2.3:a:offis:dcmtk
affected: [{AFFECTED}]
sources: [https://example.invalid/a]
"""


@pytest.mark.parametrize(
    ("affected", "why"),
    [
        ("{start_including: '3.0'}", "a range needs an end"),
        ("{end_excluding: '3.7.1beta'}", "not a plain release"),
        ("{end_excluding: '3.7.1', end_including: '3.7.0'}", "one start and one end"),
    ],
)
def test_a_bad_advisory_range_is_refused_at_load(tmp_path: object, affected: str, why: str) -> None:
    # Given an advisory whose range is open-ended, unparsable or doubled
    # When the catalogue loads / Then one error names the file and why
    with pytest.raises(CatalogueError, match=why):
        _load_with(tmp_path, "bad.yaml", ADVISORY.replace("{AFFECTED}", affected))


def test_a_good_advisory_loads(tmp_path: object) -> None:
    cat = _load_with(tmp_path, "good.yaml", ADVISORY.replace("{AFFECTED}", "{end_excluding: '4'}"))
    assert "TEST-1" in {a.id for a in cat.documents(Advisory)}


def _dicom_service(state: ScanState, address: str, product: str, version: str | None) -> None:
    host = state.host(address)
    from exposcan.state import ServiceState

    host.services[104] = ServiceState(104, "dicom", product=product, version=version)


def test_dcmtk_node_gets_cpe_and_known_vulnerable_finding() -> None:
    # Given a DICOM node known only by DCMTK 3.6.7's identifiers (storescp)
    state = ScanState()
    _dicom_service(state, "198.18.0.40", "dcmtk", "3.6.7")
    # When the scan's findings are made
    facts = annotate(CATALOGUE, state)
    service = state.hosts["198.18.0.40"].services[104]
    found = {f.rule: f.evidence for f in evaluate(CATALOGUE, facts, Vantage.LAN)}
    # Then the service has DCMTK's CPE and says it is known through the toolkit
    assert service.cpe == ["cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*"]
    assert service.toolkit == "dcmtk 3.6.7"
    # and dicom.known-vulnerable names the CISA advisory, its CVEs and the fix
    ev = found["dicom.known-vulnerable"]
    assert ev["advisories"] == ["ICSMA-26-181-01"]
    assert "CVE-2026-50003" in ev["cves"]  # type: ignore[operator]
    assert ev["fixed_in"] == ["dcmtk 3.7.1"]
    assert ev["cvss"] == 9.8
    assert ev["known_exploited"] is False
    assert any("icsma-26-181-01" in s for s in ev["sources"])  # type: ignore[union-attr]


def test_orthanc_dicom_port_gets_both_cpes_and_the_toolkit_advisory() -> None:
    # Given Orthanc's DICOM port: named by its web API, DCMTK's identifiers in the AC
    state = ScanState()
    _dicom_service(state, "198.18.0.10", "Orthanc", "1.10.1")
    state.hosts["198.18.0.10"].services[104].details["implementation"] = "dcmtk 3.6.7"
    facts = annotate(CATALOGUE, state)
    service = state.hosts["198.18.0.10"].services[104]
    # Then both products have a CPE, and the toolkit is named
    assert service.cpe == [
        "cpe:2.3:a:orthanc-server:orthanc:1.10.1:*:*:*:*:*:*:*",
        "cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*",
    ]
    assert service.toolkit == "dcmtk 3.6.7"
    ev = {f.rule: f.evidence for f in evaluate(CATALOGUE, facts, Vantage.LAN)}
    vulnerable = ev["dicom.known-vulnerable"]
    assert "ICSMA-26-181-01" in vulnerable["advisories"]  # type: ignore[operator]
    assert vulnerable["fixed_in"] == ["Orthanc 1.12.11", "dcmtk 3.7.1"]
    assert vulnerable["toolkit"] == "dcmtk 3.6.7"


def test_fixed_or_unknown_versions_make_no_finding() -> None:
    # Given a DCMTK 3.7.1 node, a node of unknown version and a product the catalogue lacks
    state = ScanState()
    _dicom_service(state, "198.18.0.41", "dcmtk", "3.7.1")
    _dicom_service(state, "198.18.0.42", "dcmtk", None)
    _dicom_service(state, "198.18.0.43", "junk", "0.1")
    facts = annotate(CATALOGUE, state)
    # Then no known-vulnerable fact; the unknown product has no CPE
    assert facts == []
    assert state.hosts["198.18.0.42"].services[104].cpe == ["cpe:2.3:a:offis:dcmtk:*:*:*:*:*:*:*:*"]
    assert state.hosts["198.18.0.43"].services[104].cpe == []


def test_shipped_advisories_cite_sources_and_known_products() -> None:
    # Every shipped advisory names a product of products.yaml and an https source
    prefixes = {p.cpe_prefix for p in CATALOGUE.derived(products).values()}
    for path, adv in CATALOGUE.sourced(Advisory):
        assert adv.cpe in prefixes, path
        assert adv.sources, path
        doc = yaml.safe_load(path.read_text())
        assert doc["id"] == adv.id


@pytest.mark.parametrize("protocol", ["dicom", "http", "ftp", "smb"])
def test_one_rule_of_the_family_per_protocol(protocol: str) -> None:
    # Given a known-vulnerable fact of a service of this protocol
    from exposcan.state import Fact

    data = {"service": protocol, "product": "x", "advisories": ["A-1"], "cves": []}
    fact = Fact("software.known-vulnerable", "198.18.0.9", 1, protocol, data)
    # Then exactly the family's rule of that protocol fires
    rules = {f.rule for f in evaluate(CATALOGUE, [fact], Vantage.LAN)}
    assert rules == {f"{protocol}.known-vulnerable"}


def test_a_protocol_without_a_rule_makes_no_finding() -> None:
    from exposcan.state import Fact

    fact = Fact("software.known-vulnerable", "198.18.0.9", 1, "upnp", {"service": "upnp"})
    assert evaluate(CATALOGUE, [fact], Vantage.LAN) == []
