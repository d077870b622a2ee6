"""The reflector's abuse rule and its tokens file."""

from __future__ import annotations

import stat
from ipaddress import ip_address
from pathlib import Path

import pytest

from exposcan.reflector.scope import ScopeError, Sources, normalise, scan_scope, source_key
from exposcan.reflector.tokens import TokenFileError, TokenStore, add_token

LAB = Sources.parse("203.0.113.0/24,2001:db8::/32")
PRACTICE = ip_address("2001:db8:ca:100::1")  # a practice with 2001:db8:ca:100::/56


def test_ipv4_source_is_all_that_is_scanned() -> None:
    assert scan_scope(ip_address("203.0.113.10"), [], LAB).addresses == ["203.0.113.10"]
    scope = scan_scope(ip_address("203.0.113.10"), ["2001:db8:ca:100::5", "203.0.113.11"], LAB)
    assert scope.addresses == ["203.0.113.10"]
    assert scope.skipped == [
        "2001:db8:ca:100::5: not scanned, the request came over IPv4",
        "203.0.113.11: not a unicast IPv6 address (IPv4: only the source)",
    ]


def test_ipv6_inside_the_source_64_by_default() -> None:
    # Given a source in 2001:db8:ca:100::/64, names in its /64 are scanned with it
    assert scan_scope(PRACTICE, ["2001:db8:ca:100::5"], LAB).addresses == [
        "2001:db8:ca:100::1",
        "2001:db8:ca:100::5",
    ]
    # And a neighbour in the same /56 (hosting and mobile networks hand out
    # /64s of one /56 to different customers) is not
    for neighbour in ("2001:db8:ca:1ff::5", "2001:db8:ca:101::5"):
        scope = scan_scope(PRACTICE, [neighbour], LAB)
        assert scope.addresses == ["2001:db8:ca:100::1"]
        assert scope.skipped == [f"{neighbour}: outside your source's /64"]


def test_ipv6_inside_a_wider_prefix_by_the_operators_choice() -> None:
    # Given an operator who chose /56 (every source owns its /56)
    named = ["2001:db8:ca:1ff::5", "2001:db8:ca:100::1", "2001:db8:ca:142::9"]
    assert scan_scope(PRACTICE, named, LAB, prefix=56).addresses == [
        "2001:db8:ca:100::1",
        "2001:db8:ca:1ff::5",
        "2001:db8:ca:142::9",
    ]
    # And one step outside the /56 is not scanned
    for outside in ("2001:db8:ca:200::5", "2001:db8:cb:100::5", "fe80::1", "ff02::1", "x"):
        scope = scan_scope(PRACTICE, ["2001:db8:ca:100::5", outside], LAB, prefix=56)
        assert scope.addresses == ["2001:db8:ca:100::1", "2001:db8:ca:100::5"]
        assert len(scope.skipped) == 1 and scope.skipped[0].startswith(outside)
    # And no prefix wider than a site's /48 can be chosen
    with pytest.raises(ScopeError):
        scan_scope(PRACTICE, [], LAB, prefix=32)


def test_zone_ids_are_never_scanned() -> None:
    # Given the source's own address with 16 zone ids, and an interface name
    named = [f"2001:db8:ca:100::5%{n}" for n in range(15)] + ["2001:db8:ca:100::5%lo"]
    scope = scan_scope(PRACTICE, named, LAB)
    # Then none is scanned (one host 16 times, or the reflector's own interface)
    assert scope.addresses == ["2001:db8:ca:100::1"]
    assert scope.skipped == ["2001:db8:ca:100::5: a zone id (%) is never scanned"] * 16
    # And a source with a zone id is no source
    with pytest.raises(ValueError):
        normalise("fe80::1%eth0")


@pytest.mark.parametrize(
    "embedded", ["::ffff:198.51.100.7", "64:ff9b::c633:6407", "2002:c633:6407::1", "2001:0:1::1"]
)
def test_addresses_embedding_ipv4_are_refused(embedded: str) -> None:
    # Given a reflector that would serve anything
    anything = Sources.parse("::/0,0.0.0.0/0")
    # Then such an address is neither a source nor a name inside a source's /56
    with pytest.raises(ScopeError):
        scan_scope(ip_address(embedded), [], anything)
    assert scan_scope(ip_address("::1"), [embedded], anything).addresses == ["::1"]


def test_sources_and_normalise() -> None:
    assert not Sources.parse("global").allows(ip_address("127.0.0.1"))
    assert Sources.parse("global").allows(ip_address("9.9.9.9"))
    assert not LAB.allows(ip_address("198.18.0.5"))
    assert str(normalise("::ffff:203.0.113.7")) == "203.0.113.7"
    assert source_key(PRACTICE) == "2001:db8:ca:100::/64"
    assert source_key(ip_address("2001:db8:ca:100::77")) == source_key(PRACTICE)
    assert source_key(ip_address("2001:db8:ca:101::1")) != source_key(PRACTICE)
    with pytest.raises(ScopeError):
        Sources.parse("not-a-net")


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    token, entry = add_token(path, "cabinet Dupont")
    other, _ = add_token(path, "cert")
    # Then the file holds hashes, never a token, and only its owner reads it
    text = path.read_text()
    assert token not in text and other not in text
    assert entry.digest.hex() in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = TokenStore(path)
    assert store.verify(token) == entry
    assert store.verify(token + "x") is None
    # A broken line is refused without quoting it
    path.write_text(text + token + "\n")
    with pytest.raises(TokenFileError) as info:
        TokenStore(path)
    assert token not in str(info.value)


def test_a_tokens_file_others_can_read_is_refused(tmp_path: Path) -> None:
    # Given a tokens file made by add-token (0600), Then it is accepted
    path = tmp_path / "tokens"
    add_token(path, "cabinet Dupont")
    assert len(TokenStore(path)) == 1
    # Given the same file readable by its group or by others, Then refused, as ssh does
    for mode in (0o644, 0o640, 0o604, 0o660):
        path.chmod(mode)
        with pytest.raises(TokenFileError, match="chmod 600"):
            TokenStore(path)


def test_serve_refuses_a_tokens_file_others_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from exposcan.cli import main

    # Given a tokens file readable by everyone
    path = tmp_path / "tokens"
    add_token(path, "cabinet Dupont")
    path.chmod(0o644)
    argv = ["reflector", "serve", "--listen", "127.0.0.1:0", "--tokens", str(path)]
    argv += ["--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem")]
    # When the front starts, Then it refuses with one line, before listening
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"exposcan: error: {path} can be read or written by others (mode 0644): chmod 600 {path}"
    ]
