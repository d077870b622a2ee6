"""What the client believes: the sanitiser at the model boundary, the
answer kept for the addresses asked about, and the witnesses the NAT
loopback check needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from exposcan.facts import validate_fact
from exposcan.models import Host, PublicAddress, Service, Vantage
from exposcan.outside.address import (
    NoLoopback,
    decide_public,
    loopback_target,
    publicly_routed,
)
from exposcan.outside.settings import OutsideConfigError, resolve_public
from exposcan.reflector.client import ReflectorError, answer_source, believed
from exposcan.sanitise import clean_text
from tests.unit.test_verdict import finding, report

# --- the sanitiser -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mnginx\x1b[0m", "[31mnginx[0m"),  # SGR: the ESC goes, the rest is text
        (
            "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07",
            "]8;;https://evil.example/click]8;;",
        ),
        ("Apache\x9b2J", "Apache2J"),  # a C1 CSI
        ("abc\u202edcba\u2066x\u2069", "abcdcbax"),  # bidi override and isolate
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("two\nlines\tand\rmore", "two lines and more"),  # whitespace controls: a space
        ("bell\x07\x00nul", "bellnul"),
    ],
)
def test_control_and_format_characters_are_removed(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    "text",
    ["Orthanc/1.10.1", "Radiologie Éric", "no\u00a0break", "東京 PACS", "[link=x]y[/link]", ""],
)
def test_printable_text_is_kept_whole(text: str) -> None:
    assert clean_text(text) == text


def test_every_report_and_fact_model_cleans_what_it_is_given() -> None:
    # Given strings off the network in a host, a service, a finding and a fact
    host = Host(
        address="127.0.0.1",
        services=[
            Service(port=80, protocol="http", product="\x1b[5mnginx", details={"title": "a\x07b"})
        ],
    )
    found = finding("http.x", "127.0.0.1", 80, server="\x1b]0;t\x07x", ports=["\x1bp"])
    import exposcan.protocols.http.facts  # noqa: F401  (registers the kind)

    fact = validate_fact("http.fingerprint", {"product": "\x1b[2JOrthanc", "category": "pacs"})
    # Then each holds them cleaned
    assert host.services[0].product == "[5mnginx"
    assert host.services[0].details["title"] == "ab"
    assert found.evidence == {"server": "]0;tx", "ports": ["p"]}
    assert fact["product"] == "[2JOrthanc"


# --- the answer, kept for the addresses asked about ----------------------------------------


def test_an_answer_is_kept_only_for_the_source_and_the_addresses_named() -> None:
    # Given an answer with findings at the source, at a named IPv6 address,
    # at a third address, at an address written oddly, and at no address
    answer = report(
        Vantage.INTERNET,
        finding("exposure.internet-imaging", "203.0.113.1", 104),
        finding("exposure.internet-imaging", "2001:db8:ca::10", 8042),
        finding("exposure.internet-imaging", "198.51.100.7", 21),
        finding("exposure.internet-imaging", "::ffff:198.51.100.7", 22),
        finding("exposure.internet-imaging", "victim.example", 80),
    )
    # When only what was asked about is believed
    kept, dropped = believed(answer, frozenset({"203.0.113.1", "2001:db8:ca::10"}))
    # Then the source's and the named address's stay, the rest is counted
    assert {f.host for f in kept.findings} == {"203.0.113.1", "2001:db8:ca::10"}
    assert {h.address for h in kept.hosts} == {"203.0.113.1", "2001:db8:ca::10"}
    assert dropped == 6  # three hosts, three findings
    # and an answer that names nothing else loses nothing
    assert believed(kept, frozenset({"203.0.113.1", "2001:db8:ca::10"}))[1] == 0


def test_the_answers_source_must_be_an_address() -> None:
    assert answer_source("203.0.113.1") == "203.0.113.1"
    assert answer_source("::ffff:203.0.113.1") == "203.0.113.1"
    for bad in ("victim.example", "203.0.113.1\x1b[0m", "", "203.0.113.1/24"):
        with pytest.raises(ReflectorError, match="no source address"):
            answer_source(bad)


# --- the witnesses of the NAT loopback check -------------------------------------------


def test_two_witnesses_that_agree_on_a_routed_address_get_the_check() -> None:
    # Given the reflector's source and the box's WAN address alike
    target = loopback_target(decide_public("203.0.113.1", "203.0.113.1"))
    # Then the check goes there
    assert (target.address, target.reason) == ("203.0.113.1", None)


def test_a_disagreement_is_a_note_not_a_sweep() -> None:
    # Given a reflector and a box naming different addresses
    target = loopback_target(decide_public("203.0.113.1", "198.51.100.7"))
    # Then no address, and why, naming both
    assert target.address is None and target.reason is NoLoopback.DISAGREE
    assert target.named == ("203.0.113.1", "198.51.100.7")
    # and the user's own setting does not overrule a witness that disagrees
    both = decide_public("203.0.113.1", None)
    assert loopback_target(both, declared="198.51.100.7").reason is NoLoopback.DISAGREE


def test_one_witness_alone_is_not_enough_unless_it_is_the_users_setting() -> None:
    # Given only the reflector's source, or only the box's WAN address
    for public in (decide_public("203.0.113.1", None), decide_public(None, "203.0.113.1")):
        target = loopback_target(public)
        # Then no check
        assert target.address is None and target.reason is NoLoopback.ONE_WITNESS
        # while the user's own setting, when it agrees, makes two
        assert loopback_target(public, declared="203.0.113.1").address == "203.0.113.1"
    # and the user's setting alone is the user's word
    assert loopback_target(PublicAddress(), declared="203.0.113.1").address == "203.0.113.1"


def test_an_address_the_internet_does_not_route_gets_no_check() -> None:
    # Given witnesses that agree on a multicast address or loopback
    for address in ("224.0.0.251", "240.0.0.1", "127.0.0.99", "10.1.2.3"):
        target = loopback_target(PublicAddress(), declared=address)
        # Then no check
        assert target.address is None, address
    assert loopback_target(PublicAddress(), declared="224.0.0.251").reason is NoLoopback.NOT_ROUTED
    # while the lab's internet (documentation ranges) counts as routed
    assert publicly_routed("203.0.113.1") and publicly_routed("198.18.0.1")
    assert not publicly_routed("100.64.0.1") and not publicly_routed("victim.example")


def test_behind_carrier_grade_nat_there_is_no_loopback_to_try() -> None:
    target = loopback_target(decide_public("203.0.113.7", "100.64.12.3"))
    assert (target.address, target.reason) == (None, None)


# --- the user's setting ----------------------------------------------------------------


def test_the_public_address_setting_from_each_level(tmp_path: Path) -> None:
    conf = tmp_path / "config" / "exposcan" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text('[outside]\npublic_address = "203.0.113.9"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    # Given the config file, the environment and the command line
    assert resolve_public(None, env=env) == "203.0.113.9"
    assert resolve_public(None, env={**env, "EXPOSCAN_OUTSIDE_PUBLIC": "203.0.113.8"}) == (
        "203.0.113.8"
    )
    assert resolve_public("203.0.113.7", env=env) == "203.0.113.7"
    # and nothing set is None, a name or an IPv6 address an error
    assert resolve_public(None, env={"XDG_CONFIG_HOME": str(tmp_path / "none")}) is None
    for bad in ("box.example", "2001:db8::1"):
        with pytest.raises(OutsideConfigError, match="not an IPv4 address"):
            resolve_public(bad, env=env)
