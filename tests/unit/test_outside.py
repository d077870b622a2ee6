"""The outside view's pure parts: settings, public address, the join, and
the verdict it gives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from exposcan.audit.diff import diff_reports
from exposcan.audit.notify.alert import Alert
from exposcan.cli import main
from exposcan.models import (
    Finding,
    Host,
    Outside,
    OutsidePath,
    PublicAddress,
    Report,
    SeenFrom,
    Service,
    Severity,
    Vantage,
)
from exposcan.outside.address import decide_public
from exposcan.outside.join import Side, join, signature
from exposcan.outside.settings import OutsideConfigError, resolve
from exposcan.outside.view import global_ipv6
from exposcan.report.html import render_html
from exposcan.report.i18n import Texts
from exposcan.report.outside_text import door_rows
from exposcan.report.verdict_text import internet_answer
from exposcan.verdict import InternetAnswer, decide
from tests.unit.test_verdict import finding, report

TOKEN = "tok-3f9a_example.~"
URL = "https://reflector.example:8443/"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), **extra}


def _token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


# --- settings ---------------------------------------------------------------------


def test_nothing_configured_means_no_outside_view(tmp_path: Path) -> None:
    # Given no --outside, no environment and no config file
    # Then there is no outside view, and no error
    assert resolve(None, env=_env(tmp_path)) is None


def test_config_file_gives_url_token_file_and_ca_for_cron(tmp_path: Path) -> None:
    # Given the config file a cron job relies on
    conf = tmp_path / "config" / "exposcan" / "config.toml"
    conf.parent.mkdir(parents=True)
    token = _token_file(tmp_path)
    conf.write_text(f'[outside]\nurl = "{URL}"\ntoken_file = "{token}"\nca_file = "/etc/ca.pem"\n')
    # When the settings are resolved with nothing on the command line
    settings = resolve(None, env=_env(tmp_path))
    # Then they come from the file, the token read from its own file
    assert settings is not None
    assert (settings.url, settings.token, settings.ca_file) == (URL, TOKEN, "/etc/ca.pem")
    # and the token never shows in the settings' repr (logs, tracebacks)
    assert TOKEN not in repr(settings)


def test_command_line_beats_environment_beats_config(tmp_path: Path) -> None:
    # Given a URL in the config file and another in the environment
    conf = tmp_path / "config" / "exposcan" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text('[outside]\nurl = "https://from-file.example/"\n')
    env = _env(
        tmp_path,
        EXPOSCAN_OUTSIDE="https://from-env.example/",
        EXPOSCAN_OUTSIDE_TOKEN=TOKEN,
    )
    # Then the environment wins over the file, and the command line over both
    assert (s := resolve(None, env=env)) is not None and s.url == "https://from-env.example/"
    assert (s := resolve(URL, env=env)) is not None and s.url == URL
    assert s.token == TOKEN


def test_an_empty_outside_url_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    # Given a reflector configured in the environment
    env = _env(tmp_path, EXPOSCAN_OUTSIDE=URL, EXPOSCAN_OUTSIDE_TOKEN=TOKEN)
    # When --outside is given an empty URL (an unset shell variable)
    # Then it is an error that names --no-outside, not a silent fallback
    with pytest.raises(OutsideConfigError, match="--no-outside"):
        resolve("", env=env)
    # while no --outside at all still takes the environment's
    assert (s := resolve(None, env=env)) is not None and s.url == URL


def test_a_token_inline_in_the_config_file_is_refused(tmp_path: Path) -> None:
    # Given a config file that holds the token itself (often world-readable)
    conf = tmp_path / "config" / "exposcan" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text(f'[outside]\nurl = "{URL}"\ntoken = "{TOKEN}"\n')
    # Then it is an error that says where the token goes, without quoting it
    with pytest.raises(OutsideConfigError, match="token_file") as exc:
        resolve(None, env=_env(tmp_path))
    assert TOKEN not in str(exc.value)


def test_no_token_and_plain_http_are_errors(tmp_path: Path) -> None:
    # Given --outside with no token anywhere
    with pytest.raises(OutsideConfigError, match="never on the command line"):
        resolve(URL, env=_env(tmp_path))
    # and a reflector over plain HTTP (the token would travel in clear)
    with pytest.raises(OutsideConfigError, match="https"):
        resolve("http://reflector.example/", env=_env(tmp_path, EXPOSCAN_OUTSIDE_TOKEN=TOKEN))


def test_the_reflector_is_trusted_by_one_level_whole(tmp_path: Path) -> None:
    # Given a CA file in the environment and a pin on the command line
    env = _env(tmp_path, EXPOSCAN_OUTSIDE_TOKEN=TOKEN, EXPOSCAN_OUTSIDE_CA="/etc/ca.pem")
    settings = resolve(URL, pin_sha256="ab" * 32, env=env)
    # Then the command line's pin is the trust, without the environment's CA
    assert settings is not None
    assert (settings.ca_file, settings.pin_sha256) == (None, "ab" * 32)
    # and with nothing on the command line, the environment's CA
    settings = resolve(URL, env=env)
    assert settings is not None and settings.ca_file == "/etc/ca.pem"


def test_token_file_from_the_environment(tmp_path: Path) -> None:
    env = _env(tmp_path, EXPOSCAN_OUTSIDE_TOKEN_FILE=str(_token_file(tmp_path)))
    settings = resolve(URL, pin_sha256="ab" * 32, env=env)
    assert settings is not None and settings.token == TOKEN and settings.pin_sha256 == "ab" * 32
    # and a missing token file is an error naming the file
    env["EXPOSCAN_OUTSIDE_TOKEN_FILE"] = str(tmp_path / "absent")
    with pytest.raises(OutsideConfigError, match="absent"):
        resolve(URL, env=env)


# --- public address and carrier-grade NAT -------------------------------------------


def test_reflector_and_upnp_agree() -> None:
    public = decide_public("203.0.113.1", "203.0.113.1")
    assert public.address == "203.0.113.1" and not public.disagree
    assert not public.carrier_grade_nat


def test_a_shared_wan_address_is_carrier_grade_nat_and_disagrees() -> None:
    # Given a box whose WAN address is in 100.64.0.0/10 (RFC 6598)
    public = decide_public("203.0.113.7", "100.64.12.3")
    # Then the public address is the one the reflector saw, the two disagree,
    # and the box sits behind the operator's NAT
    assert public.address == "203.0.113.7" and public.disagree and public.carrier_grade_nat
    # and without a reflector a private WAN address is no public address at all
    alone = decide_public(None, "192.168.1.254")
    assert alone.address is None and alone.carrier_grade_nat
    # while a test-range WAN address is public here (not ipaddress.is_private)
    assert decide_public(None, "203.0.113.1").address == "203.0.113.1"


def test_global_ipv6_skips_link_local_and_ula() -> None:
    found = global_ipv6(["198.18.0.10", "fe80::1", "fd00::5", "2001:db8:1::10", "::1"])
    assert found == ["2001:db8:1::10"]


# --- the join ------------------------------------------------------------------------

DCMTK_UID = "1.2.276.0.7230010.3.0.3.6.7"


def _dicom(
    where: str, ae: str | None, uid: str | None = DCMTK_UID, checked: bool | None = True
) -> Side:
    """A DICOM node that accepted ``ae``; ``checked``: it refused a random
    called AE (True), accepted one (False), or was not asked (None)."""
    details = {
        "ae_title": ae,
        "implementation_class_uid": uid,
        "implementation_version": "V1",
        "called_ae_checked": checked,
    }
    return Side(where, "dicom", signature("dicom", None, None, details))


def test_dicom_joins_by_implementation_and_accepted_ae_not_by_port() -> None:
    # Given the public 50104 answering with the PACS's AE, and two dcmtk nodes
    # on the LAN (same implementation UID), one of them on port 50104
    outside = _dicom("203.0.113.1:50104", "CABINETRADIO")
    lan = [
        _dicom("198.18.0.40:50104", "ANY-SCP"),
        _dicom("198.18.0.10:104", "CABINETRADIO"),
    ]
    # When joined
    found = join(outside, lan)
    # Then it is the node that accepted the same AE, whatever the port
    assert found.lan == "198.18.0.10:104"
    assert "ae_title" in found.keys and "implementation_class_uid" in found.keys


def test_two_lan_nodes_alike_make_no_join() -> None:
    # Given two LAN nodes that answer exactly alike
    outside = _dicom("203.0.113.1:104", "STORESCP")
    lan = [_dicom("198.18.0.40:104", "STORESCP"), _dicom("198.18.0.41:104", "STORESCP")]
    # Then the door is not joined (ambiguous), and the count says why
    found = join(outside, lan)
    assert found.lan is None and found.candidates == 2


def test_an_ae_title_accepted_by_a_node_that_accepts_any_is_no_join() -> None:
    # Given two LAN nodes on the same toolkit (a Debian Orthanc and a dcmtk
    # storescp: the same implementation UID and version), the PACS checking
    # its called AE, the storescp accepting any; and a public door where the
    # storescp accepted the PACS's AE title (learnt from the PACS's web API
    # on the same public address) and a random one too
    door = _dicom("203.0.113.1:50211", "CABINETRADIO", checked=False)
    pacs = _dicom("198.18.0.80:4242", "CABINETRADIO", checked=True)
    storescp = _dicom("198.18.0.81:104", "ANY-SCP", checked=False)
    # When joined
    found = join(door, [pacs, storescp])
    # Then it is not the PACS: the title it accepted proves nothing; the
    # storescp answered alike, with nothing the PACS lacks
    assert found.lan == "198.18.0.81:104"
    assert "ae_title" not in found.keys


def test_a_shared_implementation_uid_alone_is_no_join() -> None:
    # Given two LAN nodes on the same toolkit, each accepting any called AE
    # (their accepted titles say nothing), and a door that does the same
    door = _dicom("203.0.113.1:50210", "ORTHANC", checked=False)
    lan = [
        _dicom("198.18.0.80:4242", "ORTHANC", checked=False),
        _dicom("198.18.0.81:104", "ANY-SCP", checked=False),
    ]
    # When joined
    found = join(door, lan)
    # Then the door is not joined, and both candidates are named
    assert found.lan is None and found.keys == ()
    assert sorted(found.alike) == ["198.18.0.80:4242", "198.18.0.81:104"]
    # And the report says so in both languages
    path = OutsidePath(
        public=door.where, seen=SeenFrom.INTERNET, protocol="dicom", candidates=list(found.alike)
    )
    outside = Outside(status="done", public=PublicAddress(), paths=[path])
    for lang, words in (
        ("en", "not joined (2 candidates: "),
        ("fr", "non rapproché (2 candidats : "),
    ):
        [row] = door_rows(outside, Texts(lang))
        assert row.lan.startswith(words) and "198.18.0.81:104" in row.lan
    # While a door with a unique implementation UID is joined by it
    other = _dicom("198.18.0.82:104", "ANY-SCP", uid="1.2.826.0.1.3680043.9.3811.2", checked=False)
    found = join(
        _dicom("203.0.113.1:104", "X", uid=other.facts["implementation_class_uid"]), [*lan, other]
    )
    assert found.lan == "198.18.0.82:104"


def test_http_joins_on_what_the_pacs_discloses_and_a_product_alone_is_not_enough() -> None:
    def web(where: str, version: str | None, **details: object) -> Side:
        return Side(where, "http", signature("http", "Orthanc", version, details))

    outside = web("203.0.113.1:8042", "1.10.1", DicomAet="CABINETRADIO", DicomPort=104)
    lan = [
        web("198.18.0.11:8042", None),  # the secure Orthanc: 401, nothing disclosed
        web("198.18.0.10:8042", "1.10.1", DicomAet="CABINETRADIO", DicomPort=104),
    ]
    assert join(outside, lan).lan == "198.18.0.10:8042"
    # and a door that says only "Orthanc" joins nothing
    assert join(web("203.0.113.1:8043", None), lan[:1]).lan is None


def test_smb_joins_by_server_guid() -> None:
    def smb(where: str, guid: str) -> Side:
        return Side(where, "smb", signature("smb", None, None, {"smb_server_guid": guid}))

    outside = smb("203.0.113.1:445", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    lan = [
        smb("198.18.0.20:445", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        smb("198.18.0.21:445", "00000000-1111-2222-3333-444444444444"),
    ]
    assert join(outside, lan).lan == "198.18.0.20:445"
    assert join(smb("203.0.113.1:445", "ffffffff-1111-2222-3333-444444444444"), lan).lan is None


# --- the verdict -----------------------------------------------------------------------

CHECKED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _path(public: str, imaging: str | None, lan: str | None, seen: SeenFrom) -> OutsidePath:
    return OutsidePath(
        public=public,
        seen=seen,
        protocol="dicom",
        product="Orthanc",
        version="1.10.1",
        imaging=imaging,
        lan=lan,
        joined_by=["ae_title"] if lan else [],
    )


def _with_outside(paths: list[OutsidePath], status: str = "done", **public: object) -> Report:
    outside = Outside(
        status=status,  # type: ignore[arg-type]
        reflector=URL,
        checked=CHECKED if status == "done" else None,
        error="cannot reach the reflector" if status == "failed" else None,
        ports_tried=65535 if status == "done" else 0,
        public=PublicAddress(**public),  # type: ignore[arg-type]
        paths=paths,
    )
    return report(Vantage.LAN).model_copy(update={"outside": outside})


def test_seen_from_the_internet_is_yes_with_the_date_and_the_lan_service() -> None:
    # Given a reflector that reached the hand-set 50104, joined to the PACS
    rep = _with_outside([_path("203.0.113.1:50104", "dicom", "198.18.0.10:104", SeenFrom.INTERNET)])
    verdict = decide(rep)
    # Then the answer is proven, dated, and names the public door and the PACS
    assert verdict.internet is InternetAnswer.PROVEN and verdict.internet_exposed
    answer = internet_answer(verdict, Texts("en"))
    assert answer.word == "Yes" and answer.tone == "bad"
    assert "Seen from the internet on 2026-12-01 09:30 UTC" in answer.sentence
    assert "203.0.113.1:50104 \u2192 198.18.0.10:104 (Orthanc 1.10.1" in answer.sentence
    # and no "check from outside" action: that was done
    assert "scan-from-outside" not in [a.id for a in verdict.actions]
    assert verdict.actions[0].id == "close-forwards"


def test_nothing_answered_from_the_internet_is_no_with_the_ports_tried() -> None:
    # Given a reflector that found nothing open, though the box lists a forward
    forward = finding(
        "upnp.mapping-imaging",
        "198.18.0.1",
        104,
        external_port=104,
        internal_host="198.18.0.10",
        internal_port=104,
        imaging_service="dicom",
    )
    rep = _with_outside([]).model_copy(update={"findings": [forward]})
    verdict = decide(rep)
    # Then the answer is No, with the number of ports tried, in both languages
    assert verdict.internet is InternetAnswer.NONE and not verdict.internet_exposed
    en = internet_answer(verdict, Texts("en"))
    assert en.word == "No" and "nothing answered on the 65535 ports tried" in en.sentence
    assert "65535 ports essayés" in internet_answer(verdict, Texts("fr")).sentence
    # and the forward is still to be closed
    assert [a.id for a in verdict.actions][:1] == ["close-forwards"]


def test_loopback_alone_is_an_indication_and_a_failed_reflector_says_so() -> None:
    # Given only the box's NAT loopback reaching imaging (no reflector answer)
    looped = _with_outside(
        [_path("203.0.113.1:8042", "pacs-web", "198.18.0.10:8042", SeenFrom.LOOPBACK)],
        status="failed",
    )
    verdict = decide(looped)
    # Then it is "probably", labelled as seen through the NAT loopback
    assert verdict.internet is InternetAnswer.LOOPBACK
    answer = internet_answer(verdict, Texts("en"))
    assert answer.word == "Probably" and "NAT loopback" in answer.sentence
    # and with nothing at all, the failed view is named, not hidden
    empty = decide(_with_outside([], status="failed"))
    failed = internet_answer(empty, Texts("en"))
    assert (
        empty.internet is InternetAnswer.UNKNOWN and "cannot reach the reflector" in failed.sentence
    )
    assert "scan-from-outside" in [a.id for a in empty.actions]


def test_carrier_grade_nat_makes_forwards_unreachable_over_ipv4() -> None:
    forward = finding(
        "upnp.mapping-imaging",
        "198.18.0.1",
        104,
        external_port=104,
        internal_host="198.18.0.10",
        internal_port=104,
        imaging_service="dicom",
    )
    rep = _with_outside(
        [], status="not-asked", upnp_external_ip="100.64.1.2", carrier_grade_nat=True
    ).model_copy(update={"findings": [forward]})
    verdict = decide(rep)
    assert verdict.internet is InternetAnswer.CGNAT and not verdict.internet_exposed
    answer = internet_answer(verdict, Texts("en"))
    assert answer.word == "Not over IPv4" and "100.64.1.2" in answer.sentence
    # Without carrier-grade NAT the same forward is a Yes
    plain = decide(report(Vantage.LAN, forward))
    assert plain.internet is InternetAnswer.FORWARD


# --- what the audit side carries ----------------------------------------------------


def _proven_finding(port: int) -> Finding:
    return finding(
        "exposure.internet-imaging",
        "203.0.113.1",
        port,
        severity=Severity.CRITICAL,
        service="dicom",
        seen_from="internet",
        lan_service="198.18.0.10:104",
    )


def test_a_baseline_diff_names_a_new_outside_exposure_and_the_webhook_carries_the_answer() -> None:
    # Given yesterday's run (nothing seen from outside) and today's (the
    # reflector reached the hand-set 50104)
    before = _with_outside([])
    today = _with_outside(
        [_path("203.0.113.1:50104", "dicom", "198.18.0.10:104", SeenFrom.INTERNET)]
    ).model_copy(update={"findings": [_proven_finding(50104)]})
    # When they are compared, as a cron audit does
    diff = diff_reports(before, today)
    # Then the new outside exposure is the new finding, at the public door
    assert [(f.host, f.port) for f in diff.new] == [("203.0.113.1", 50104)]
    # and the notification says how the answer was known, and where
    alert = Alert.build(today, diff, "run 1", "high")
    internet = alert.payload()["internet"]
    assert internet == {
        "answer": "proven",
        "outside_view": "done",
        "checked": "2026-12-01 09:30 UTC",
        "ports_tried": 65535,
        "places": [{"public": "203.0.113.1:50104", "lan": "198.18.0.10:104"}],
    }
    assert "Seen from the internet on 2026-12-01 09:30 UTC" in alert.text()
    # and yesterday's says No, with the ports tried
    assert Alert.build(before, None, "none", "high").payload()["internet"]["answer"] == "none"


def test_the_html_report_lists_the_doors_and_draws_the_proven_path() -> None:
    # Given a LAN report whose outside view proved the hand-set 50104 and
    # saw 8042 only through the NAT loopback
    pacs = Host(
        address="198.18.0.10",
        services=[Service(port=104, protocol="dicom"), Service(port=8042, protocol="http")],
    )
    box = Host(address="198.18.0.1", services=[Service(port=49152, protocol="upnp")])
    rep = _with_outside(
        [
            _path("203.0.113.1:50104", "dicom", "198.18.0.10:104", SeenFrom.INTERNET),
            _path("203.0.113.1:8042", "pacs-web", "198.18.0.10:8042", SeenFrom.LOOPBACK),
        ]
    ).model_copy(update={"hosts": [box, pacs]})
    # When it is written as HTML
    html = render_html(rep, "en")
    # Then the doors are listed, proof and indication apart, and the map draws
    # the proven path in red, the loopback one dashed
    assert "Seen from outside" in html and "from the internet (proof)" in html
    assert "through the box&#39;s NAT loopback (indicative)" in html
    assert 'class="elabel bad"' in html and "internet :50104" in html
    assert 'class="elabel warn"' in html and "loopback :8042" in html
    # and a report without an outside view has no such section
    assert "Seen from outside" not in render_html(report(Vantage.LAN), "en")


# --- the command line refuses before any packet ---------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--outside", "http://reflector.example/"], {"EXPOSCAN_OUTSIDE_TOKEN": TOKEN}, "https"),
        (["--outside", URL], {}, "never on the command line"),
        (
            ["--outside", URL, "--vantage", "internet", "127.0.0.1"],
            {"EXPOSCAN_OUTSIDE_TOKEN": TOKEN},
            "--vantage lan",
        ),
    ],
)
def test_a_bad_outside_setting_is_one_error_line_and_exit_2(
    argv: list[str],
    env: dict[str, str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a bad --outside setting (and no config file)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("EXPOSCAN_OUTSIDE_TOKEN", raising=False)
    monkeypatch.delenv("EXPOSCAN_OUTSIDE_TOKEN_FILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # When the scan starts (refused before it reads the networks or sends anything)
    code = main(["scan", *argv, "--db", str(tmp_path / "h.sqlite3")])
    # Then exit 2, one line saying why, and the token never printed
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert TOKEN not in err


def test_a_reflector_scan_cut_by_its_deadline_proves_no_no() -> None:
    # Given a reflector answer whose scan its deadline ended, nothing seen open
    rep = _with_outside([])
    cut = rep.model_copy(
        update={"outside": rep.outside.model_copy(update={"complete": False})}  # type: ignore[union-attr]
    )
    verdict = decide(cut)
    # Then the answer is not "No": it stays unknown, and says why
    assert verdict.internet is InternetAnswer.UNKNOWN
    answer = internet_answer(verdict, Texts("en"))
    assert answer.word == "Not known from here" and "cut by its deadline" in answer.sentence
    assert "scan-from-outside" in [a.id for a in verdict.actions]
    # while a complete one with nothing open is a No
    assert decide(rep).internet is InternetAnswer.NONE


def test_a_reverse_proxy_in_front_of_the_same_pacs_is_told_apart_by_its_server_header() -> None:
    # Given the PACS answering directly, and the same PACS behind an nginx proxy
    # (its /system says the same; the proxy adds a Server header)
    def web(where: str, **details: object) -> Side:
        facts = {"DicomAet": "CABINETRADIO", "DicomPort": 104, **details}
        return Side(where, "http", signature("http", "Orthanc", "1.10.1", facts))

    direct, proxied = web("198.18.0.10:8042"), web("198.18.0.30:8080", server="nginx/1.22.1")
    # Then a door that answers without a Server header is the PACS itself
    assert join(web("203.0.113.1:8042"), [proxied, direct]).lan == "198.18.0.10:8042"
    # and one that answers with nginx's is the proxy
    door = web("203.0.113.1:8443", server="nginx/1.22.1")
    assert join(door, [direct, proxied]).lan == "198.18.0.30:8080"


async def test_the_loopback_sweep_stays_in_scope() -> None:
    # Given a scan of named targets that did not name the public address, and
    # one that excluded it
    from exposcan.catalogue import default_catalogue
    from exposcan.config import ScanConfig
    from exposcan.outside.loopback import sweep

    named = ScanConfig(ports=[104], ports_spec="104", scope=frozenset({"198.18.0.10"}))
    excluded = ScanConfig(ports=[104], ports_spec="104", excluded=frozenset({"203.0.113.1"}))
    # Then the NAT loopback sweep sends nothing to it (None, before any socket)
    for config in (named, excluded):
        assert await sweep("203.0.113.1", [104], config, default_catalogue()) is None


async def test_a_named_reflector_is_asked_over_ipv4_and_over_ipv6(
    tmp_path: Path,
) -> None:
    # Given a LAN with a global IPv6 host, a reflector known by name, and a
    # reflector that refuses the IPv6 request (this network has no IPv6 route
    # to it, say)
    import socket

    from exposcan.catalogue import default_catalogue
    from exposcan.config import ScanConfig
    from exposcan.engine import Scanner
    from exposcan.outside.ask import ReflectorAnswer
    from exposcan.outside.settings import OutsideSettings
    from exposcan.outside.view import OutsideCheck

    asked: list[tuple[int, tuple[str, ...]]] = []

    async def reflector(
        settings: OutsideSettings, ipv6: object, deadline: float, family: int
    ) -> ReflectorAnswer:
        asked.append((family, tuple(ipv6)))  # type: ignore[arg-type]
        if family == socket.AF_INET6:
            return ReflectorAnswer(settings.url, error="cannot reach the reflector")
        return ReflectorAnswer(settings.url, report=report(Vantage.INTERNET), source="203.0.113.1")

    config = ScanConfig(ports=[104], ports_spec="104")
    scanner = Scanner(config, default_catalogue(), [], [])
    scanner.state.host("2001:db8:ca:1::10")
    scanner.state.host("198.18.0.10")
    scanner.discovered.set()
    check = OutsideCheck(OutsideSettings(URL, TOKEN), config, default_catalogue(), reflector)
    # When the request is made
    check.start(scanner)
    assert check._task is not None
    answer = await check._task
    # Then one request went over IPv4 for the source alone, one over IPv6
    # naming the LAN's global address, and the IPv4 answer stands alone
    assert sorted(asked) == sorted(
        [(socket.AF_INET, ()), (socket.AF_INET6, ("2001:db8:ca:1::10",))]
    )
    assert answer.report is not None and answer.source == "203.0.113.1"
    assert check.ipv6_named == []
    # and a reflector named by an IPv4 address is asked once, for the source
    # alone, over whichever family its address is
    asked.clear()
    v4 = OutsideCheck(
        OutsideSettings("https://203.0.113.50:8443/", TOKEN), config, default_catalogue(), reflector
    )
    v4.start(scanner)
    assert v4._task is not None
    await v4._task
    assert asked == [(0, ())]


async def test_a_refusal_with_ipv6_named_is_asked_again_for_the_source_alone() -> None:
    # Given a reflector named by its IPv6 address that refuses the IPv6
    # addresses named (outside the source's /56, say)
    from exposcan.catalogue import default_catalogue
    from exposcan.config import ScanConfig
    from exposcan.engine import Scanner
    from exposcan.outside.ask import ReflectorAnswer
    from exposcan.outside.settings import OutsideSettings
    from exposcan.outside.view import OutsideCheck

    asked: list[tuple[str, ...]] = []

    async def reflector(
        settings: OutsideSettings, ipv6: object, deadline: float, family: int
    ) -> ReflectorAnswer:
        asked.append(tuple(ipv6))  # type: ignore[arg-type]
        if asked[-1]:
            return ReflectorAnswer(settings.url, error="refused (HTTP 403)")
        return ReflectorAnswer(settings.url, report=report(Vantage.INTERNET), source="2001:db8::5")

    config = ScanConfig(ports=[104], ports_spec="104")
    scanner = Scanner(config, default_catalogue(), [], [])
    scanner.state.host("2001:db8:ca:1::10")
    scanner.discovered.set()
    check = OutsideCheck(
        OutsideSettings("https://[2001:db8:ffff::50]:8443/", TOKEN),
        config,
        default_catalogue(),
        reflector,
    )
    check.start(scanner)
    assert check._task is not None
    answer = await check._task
    # Then the second request, for the source alone, got the answer
    assert asked == [("2001:db8:ca:1::10",), ()]
    assert answer.report is not None and check.ipv6_named == []


def test_answers_over_ipv4_and_ipv6_are_merged_into_one_view() -> None:
    from exposcan.outside.ask import ReflectorAnswer
    from exposcan.outside.view import merge_answers

    # Given the reflector's answer to a request over IPv4 (the box's public
    # address, a forward) and one over IPv6 (a PACS's global address), the
    # IPv6 scan cut at its deadline
    v4 = ReflectorAnswer(
        "https://r.test/",
        report(Vantage.INTERNET, finding("dicom.query-open", "203.0.113.1", 50104)),
        source="203.0.113.1",
        ports_tried=65535,
    )
    six = report(Vantage.INTERNET, finding("http.pacs-unauthenticated", "2001:db8::10", 8042))
    six = six.model_copy(update={"scan": six.scan.model_copy(update={"complete": False})})
    v6 = ReflectorAnswer("https://r.test/", six, source="2001:db8::5", ports_tried=65535)
    merged = merge_answers(v4, v6)
    # Then one report holds both, the IPv4 source stays the public address,
    # and it is complete only if both were
    assert merged.report is not None
    assert {f.host for f in merged.report.findings} == {"203.0.113.1", "2001:db8::10"}
    assert merged.source == "203.0.113.1" and merged.ports_tried == 65535
    assert merged.report.scan.complete is False
    # and a failed side leaves the other whole
    failed = ReflectorAnswer("https://r.test/", error="cannot reach the reflector")
    assert merge_answers(v4, failed) == v4
    assert merge_answers(failed, v6) == v6
    assert merge_answers(failed, failed).error == "cannot reach the reflector"


def test_an_ipv6_source_leaves_ipv4_unchecked_for_a_lan_with_ipv4() -> None:
    from exposcan.models import Host
    from exposcan.outside.ask import ReflectorAnswer
    from exposcan.outside.view import ipv4_unchecked

    lan = report(Vantage.LAN).model_copy(
        update={"hosts": [Host(address="198.18.0.10"), Host(address="2001:db8:ca:1::10")]}
    )
    seen = report(Vantage.INTERNET)
    # Given the reflector's answer to a request that came over IPv6
    over6 = ReflectorAnswer("https://[2001:db8::50]/", seen, source="2001:db8:ca:1::5")
    # Then, for a LAN that speaks IPv4, its IPv4 side was not checked
    assert ipv4_unchecked(over6, lan)
    # while an IPv4 source, an IPv6-only LAN or a failed request say nothing
    over4 = ReflectorAnswer("https://r.test/", seen, source="203.0.113.1")
    assert not ipv4_unchecked(over4, lan)
    only6 = lan.model_copy(update={"hosts": [Host(address="2001:db8:ca:1::10")]})
    assert not ipv4_unchecked(over6, only6)
    assert not ipv4_unchecked(ReflectorAnswer("https://r.test/", error="refused"), lan)
