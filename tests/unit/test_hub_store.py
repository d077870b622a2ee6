"""The hub's schema on SQLite: versioned, migrated forward on start, a newer
database refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from exposcan.hub.backends import StoreError
from exposcan.hub.store import SCHEMA_VERSION, Store, backend_for


async def test_a_version_1_database_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    # Given a hub database at schema version 1 with a site
    store = await Store.open(str(path), migrate=False)
    assert await store.migrate(target=1) == 0
    await store.db.execute(
        "INSERT INTO sites (name, token_hash, created) VALUES ('old', 'h', '2026-01-01')"
    )
    await store.close()
    # When the hub starts on it
    store = await Store.open(str(path))
    # Then the schema is at the current version, the site kept, the new column there
    assert await store.version() == SCHEMA_VERSION == 2
    rows = await store.db.fetch("SELECT name, stale_alerted FROM sites")
    assert rows == [("old", 0)]
    # And starting again changes nothing
    assert await store.migrate() == SCHEMA_VERSION
    await store.close()
    # And the file is private
    assert path.stat().st_mode & 0o077 == 0


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    store = await Store.open(str(path))
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE hub_schema SET version = 99")
    with pytest.raises(StoreError, match="newer than this exposcan knows"):
        await Store.open(str(path))


async def test_tokens_are_kept_hashed_and_replays_refused(tmp_path: Path) -> None:
    store = await Store.open(str(tmp_path / "hub.sqlite3"))
    try:
        token = await store.add_site("cabinet-a")
        assert await store.site_for_token(token) == (1, "cabinet-a")
        assert await store.site_for_token(token + "x") is None
        dump = "\n".join(sqlite3.connect(tmp_path / "hub.sqlite3").iterdump())
        assert token not in dump
        with pytest.raises(StoreError, match="exists"):
            await store.add_site("cabinet-a")
    finally:
        await store.close()


def test_database_urls() -> None:
    assert backend_for("postgresql://u@/db?host=/run/pg").dialect == "postgres"
    assert backend_for("/var/lib/exposcan/hub.sqlite3").dialect == "sqlite"
    assert backend_for("sqlite:////var/lib/hub.sqlite3").dialect == "sqlite"
    for bad in ("mysql://x/y", "sqlite://relative.db"):
        with pytest.raises(StoreError):
            backend_for(bad)


def test_one_token_for_the_hub_and_the_reflector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from exposcan.cli import main
    from exposcan.reflector.tokens import TokenStore

    db, tokens = tmp_path / "hub.sqlite3", tmp_path / "reflector-tokens"
    # Given a site added with the reflector's tokens file named
    code = main(["hub", "add-site", "--db", str(db), "--reflector-tokens", str(tokens), "cab-1"])
    token = capsys.readouterr().out.strip()
    # Then the printed token is the site's and the reflector knows it too, hashed
    assert code == 0 and len(token) == 43
    entry = TokenStore(tokens).verify(token)
    assert entry is not None and entry.label == "hub site cab-1"
    assert token not in tokens.read_text()
    # And a second site of the same name is an error (exit 2), nothing appended
    assert (
        main(["hub", "add-site", "--db", str(db), "--reflector-tokens", str(tokens), "cab-1"]) == 2
    )
    assert len(TokenStore(tokens)) == 1
