"""The verdict: the answers of the report's first screen, from findings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exposcan.models import (
    EvidenceValue,
    Finding,
    Host,
    Report,
    ScanInfo,
    Severity,
    Tool,
    Vantage,
    finding_key,
)
from exposcan.verdict import InternetAnswer, LanAnswer, decide

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def finding(
    rule: str,
    host: str,
    port: int | None,
    severity: Severity = Severity.HIGH,
    **evidence: EvidenceValue,
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        host=host,
        port=port,
        protocol="x",
        title=rule,
        evidence=evidence,
        key=finding_key(rule, host, port),
    )


def report(vantage: Vantage, *findings: Finding, **scan: Any) -> Report:
    return Report(
        tool=Tool(version="0.1.0"),
        scan=ScanInfo(
            started=NOW,
            finished=NOW,
            vantage=vantage,
            targets=["198.18.0.0/24"],
            complete=scan.get("complete", True),
            ports=scan.get("ports", "104"),
            probed=scan.get("probed", True),
        ),
        hosts=[Host(address=f.host) for f in findings],
        findings=list(findings),
        errors=[],
    )


def test_a_quiet_lan_cannot_answer_for_the_internet() -> None:
    # Given a LAN scan that found nothing
    verdict = decide(report(Vantage.LAN))
    # Then the internet question stays open (hand-set forwards are invisible
    # from inside), nobody inside reads images, and the one action is to look
    # from outside
    assert verdict.internet is InternetAnswer.UNKNOWN and not verdict.internet_exposed
    assert verdict.lan is LanAnswer.NO
    assert [a.id for a in verdict.actions] == ["scan-from-outside"]


def test_a_box_forward_to_a_pacs_is_an_internet_exposure() -> None:
    # Given the box forwards 104 to a PACS that answers C-FIND, and the PACS is open inside
    forward = finding(
        "upnp.mapping-imaging",
        "198.18.0.1",
        104,
        Severity.CRITICAL,
        external_port=104,
        internal_host="198.18.0.10",
        internal_port=104,
        imaging_service="dicom",
        external_ip=None,
    )
    query = finding("dicom.query-open", "198.18.0.10", 104, study_count=4)
    verdict = decide(report(Vantage.LAN, query, forward))
    # Then the internet answer is yes, through the box's door to the PACS
    assert verdict.internet is InternetAnswer.FORWARD and verdict.internet_exposed
    (place,) = verdict.internet_places
    assert (place.via, place.where, place.kind) == ("198.18.0.1:104", "198.18.0.10:104", "dicom")
    # And anyone inside reads it too
    assert verdict.lan is LanAnswer.YES
    assert [p.where for p in verdict.lan_places] == ["198.18.0.10:104"]
    # And the first things to do: close the door, weigh the breach, lock the PACS
    ids = [a.id for a in verdict.actions]
    assert ids[:3] == ["close-forwards", "assess-breach", "lock-pacs"]
    assert verdict.actions[0].where == ("198.18.0.1:104",)
    assert verdict.counts == {Severity.CRITICAL: 1, Severity.HIGH: 1}


def test_the_public_address_names_the_door_when_the_box_gives_it() -> None:
    forward = finding(
        "upnp.mapping-imaging",
        "198.18.0.1",
        8042,
        Severity.CRITICAL,
        external_port=18042,
        internal_host="198.18.0.10",
        internal_port=8042,
        imaging_service="pacs-web",
        external_ip="203.0.113.1",
    )
    (place,) = decide(report(Vantage.LAN, forward)).internet_places
    assert place.text() == "203.0.113.1:18042 \u2192 198.18.0.10:8042"


def test_an_internet_side_exposure_is_proven() -> None:
    # Given an internet-side scan that reached a PACS web service and a listing
    exposed = [
        finding("exposure.internet-imaging", "203.0.113.1", port, Severity.CRITICAL, service=kind)
        for port, kind in ((8042, "pacs-web"), (47000, "listing"))
    ]
    verdict = decide(report(Vantage.INTERNET, *exposed))
    # Then the answer is proven, the LAN is not judged from there, and the
    # actions are: close, weigh the breach, then look from inside too
    assert verdict.internet is InternetAnswer.PROVEN
    assert [p.kind for p in verdict.internet_places] == ["pacs-web", "listing"]
    assert verdict.lan is LanAnswer.UNKNOWN
    ids = [a.id for a in verdict.actions]
    assert ids == ["close-public", "assess-breach", "scan-from-lan"]
    assert verdict.actions[0].where == ("203.0.113.1:8042", "203.0.113.1:47000")


def test_a_clean_internet_side_scan_says_no_for_the_ports_scanned() -> None:
    verdict = decide(report(Vantage.INTERNET, ports="1-65535"))
    assert verdict.internet is InternetAnswer.NONE and verdict.ports == "1-65535"
    assert [a.id for a in verdict.actions] == ["scan-from-lan"]


def test_only_image_reading_findings_answer_the_lan_question() -> None:
    # Given a share readable by guests but without images, SMB1, clear-text DICOM
    verdict = decide(
        report(
            Vantage.LAN,
            finding("smb.guest-access", "198.18.0.20", 445, Severity.MEDIUM),
            finding("smb.v1", "198.18.0.20", 445, Severity.MEDIUM),
            finding("dicom.cleartext", "198.18.0.11", 4242, Severity.LOW),
        )
    )
    # Then nobody inside reads images, yet each has its action, by priority
    assert verdict.lan is LanAnswer.NO
    assert [a.id for a in verdict.actions] == [
        "lock-shares",
        "scan-from-outside",
        "smb1-off",
        "encrypt",
    ]


def test_every_way_in_counts_for_the_lan() -> None:
    ways = {
        "dicom.query-open": "dicom",
        "http.pacs-unauthenticated": "pacs-web",
        "http.listing-imaging": "listing",
        "smb.guest-share-imaging": "share",
        "http.default-credentials": "default-account",
    }
    for i, (rule, kind) in enumerate(ways.items()):
        verdict = decide(report(Vantage.LAN, finding(rule, f"198.18.0.{i + 2}", 80)))
        assert verdict.lan is LanAnswer.YES, rule
        assert [p.kind for p in verdict.lan_places] == [kind]


def test_places_and_actions_name_each_service_once_worst_first() -> None:
    # Given two findings on one port and a lower one elsewhere
    verdict = decide(
        report(
            Vantage.LAN,
            finding("dicom.store-open", "198.18.0.40", 11112, Severity.MEDIUM),
            finding("http.pacs-unauthenticated", "198.18.0.10", 8042),
            finding("dicom.query-open", "198.18.0.10", 104),
        )
    )
    lock = next(a for a in verdict.actions if a.id == "lock-pacs")
    assert lock.where == ("198.18.0.10:8042", "198.18.0.10:104", "198.18.0.40:11112")
    assert len(verdict.first_actions) <= 5


def test_a_device_reached_over_ipv4_and_ipv6_is_one_place() -> None:
    # Given a PACS whose DICOM port answers C-FIND at its IPv4 and at its
    # IPv6 address (the report joins them by MAC), and another PACS
    v6 = "2001:db8:ca:1::10"
    found = [
        finding("exposure.ipv6-imaging", v6, 104, service="dicom"),
        finding("dicom.query-open", "198.18.0.10", 104, study_count=4),
        finding("dicom.query-open", v6, 104, study_count=4),
        finding("dicom.query-open", "198.18.0.11", 104, study_count=1),
    ]
    rep = report(Vantage.LAN, *found)
    joined = rep.model_copy(
        update={"hosts": [Host(address="198.18.0.10", ipv6=[v6]), Host(address="198.18.0.11")]}
    )
    verdict = decide(joined)
    # Then the first screen counts two places: the first led by its IPv4
    # address, its IPv6 one named with it
    assert [(p.where, p.also) for p in verdict.lan_places] == [
        ("198.18.0.10:104", (f"[{v6}]:104",)),
        ("198.18.0.11:104", ()),
    ]
    assert verdict.lan_places[0].text() == f"198.18.0.10:104 + [{v6}]:104"
    # and the PACS to lock is named once, while the IPv6 action names its
    # IPv6 address
    actions = {a.id: a.where for a in verdict.actions}
    assert actions["lock-pacs"] == ("198.18.0.10:104", "198.18.0.11:104")
    assert actions["ipv6-firewall"] == (f"[{v6}]:104",)
    # while without the join (no MAC seen) they stay apart
    assert len(decide(rep).lan_places) == 3


def test_a_port_scan_says_neither_yes_nor_no() -> None:
    # Given a port scan (--no-probes) of the LAN and one of the internet side,
    # both with no finding: they looked at doors, not behind them
    lan = decide(report(Vantage.LAN, probed=False))
    internet = decide(report(Vantage.INTERNET, probed=False))
    # Then neither answers "No"
    assert lan.lan is LanAnswer.NOT_PROBED
    assert internet.internet is InternetAnswer.NOT_PROBED


def test_a_probed_quiet_lan_is_a_no() -> None:
    # Given the same quiet LAN, its services probed (the negative case)
    verdict = decide(report(Vantage.LAN))
    # Then its answer is No
    assert verdict.lan is LanAnswer.NO
