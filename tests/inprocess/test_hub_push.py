"""``scan --hub``: the report goes to the hub, or waits in the outbox when
the hub is down or refuses, and goes first at the next scan. The real CLI
scans a loopback port only."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exposcan.audit import push
from tests.hub_reports import practice_report
from tests.inprocess.hub_fixtures import db_url, pg_cluster, running_hub
from tests.inprocess.servers import http_ok, tcp_server
from tests.notify_servers import free_port
from tests.support.cli import run_cli_async

__all__ = ["db_url", "pg_cluster"]  # fixtures

DAY = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


#: The developer's own hub settings: never inherited by the test's scans.
HUB_SETTINGS = ("EXPOSCAN_CONFIG", "EXPOSCAN_HUB", "EXPOSCAN_HUB_TOKEN")


async def _scan(port: int, hub_url: str, env: dict[str, str], out: Path) -> tuple[int, str]:
    args = ["scan", "127.0.0.1", "-p", str(port), "--no-discovery", "--hub", hub_url]
    run = await run_cli_async(*args, "-o", str(out), env=env, drop_env=HUB_SETTINGS, timeout=90)
    return run.returncode, run.stderr


async def test_a_scan_made_while_the_hub_is_down_is_delivered_by_the_next(
    db_url: str, tmp_path: Path
) -> None:
    hub_port = free_port()
    data_home = tmp_path / "xdg"
    env = dict(os.environ, XDG_DATA_HOME=str(data_home), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    for name in HUB_SETTINGS:
        env.pop(name, None)
    async with tcp_server(http_ok) as port:
        # Given a site token in a file, and the hub's CA
        async with running_hub(db_url, tmp_path, port=hub_port) as hub:
            token = await hub.store.add_site("cabinet-a")
            url = hub.url
        (tmp_path / "token").write_text(token + "\n")
        (tmp_path / "token").chmod(0o600)  # a secret: others may not read it
        env["EXPOSCAN_HUB_TOKEN_FILE"] = str(tmp_path / "token")
        env["EXPOSCAN_HUB_CA"] = str(tmp_path / "ca.pem")
        # When a scan runs while the hub is down
        code_down, err_down = await _scan(port, url, env, tmp_path / "down.json")
        # Then its exit code and report are a scan's without a hub, and the report waits
        assert code_down == 0, err_down
        assert (tmp_path / "down.json").exists()
        assert "wait in" in err_down and "cannot reach the hub" in err_down
        waiting = push.pending(data_home / "exposcan" / "outbox")
        assert len(waiting) == 1
        assert token not in err_down
        # When the hub is back and the next scan runs
        async with running_hub(db_url, tmp_path, port=hub_port) as hub:
            code_up, err_up = await _scan(port, url, env, tmp_path / "up.json")
            reports = await hub.store.reports("cabinet-a")
        # Then both reports are at the hub, the one made while it was down first
        assert code_up == 0, err_up
        assert "2 report(s) sent to the hub" in err_up
        assert push.pending(data_home / "exposcan" / "outbox") == []
        down = json.loads((tmp_path / "down.json").read_text())
        up = json.loads((tmp_path / "up.json").read_text())
        finished = [r.finished for r in reports]
        assert finished == [
            datetime.fromisoformat(up["scan"]["finished"]).isoformat(timespec="seconds"),
            datetime.fromisoformat(down["scan"]["finished"]).isoformat(timespec="seconds"),
        ]
        assert reports[0].id > reports[1].id  # delivered in the order they were made


async def test_a_refusing_hub_keeps_the_report_and_a_malformed_one_is_set_aside(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "outbox"
    async with running_hub(str(tmp_path / "hub.sqlite3"), tmp_path) as hub:
        token = await hub.store.add_site("cabinet-a")
        ca = str(tmp_path / "ca.pem")
        # Given a wrong token: the hub refuses, the report waits
        wrong = push.HubSettings(hub.url, "x" * 43, ca_file=ca)
        result = await asyncio.to_thread(push.push, practice_report(DAY), wrong, folder)
        assert result.error == "the site token was refused (HTTP 401)"
        assert result.waiting == 1 and result.delivered == 0
        # And a report in the outbox the hub calls malformed
        (folder / "00000000000000000001-bad.json").write_text('{"schema": "exposcan.report/1"}')
        # When the right token sends the next report
        right = push.HubSettings(hub.url, token, ca_file=ca)
        later = practice_report(DAY + timedelta(days=1))
        result = await asyncio.to_thread(push.push, later, right, folder)
        # Then the malformed one is set aside (kept), the two good ones delivered
        assert (result.delivered, result.refused, result.waiting) == (2, 1, 0)
        assert (folder / "refused" / "00000000000000000001-bad.json").exists()
        assert len(await hub.store.reports("cabinet-a")) == 2
        # And a report sent again (an answer lost on the way) is not stored twice
        result = await asyncio.to_thread(push.push, later, right, folder)
        assert (result.delivered, result.waiting) == (1, 0)
        assert len(await hub.store.reports("cabinet-a")) == 2


async def test_a_hub_with_another_certificate_gets_nothing(tmp_path: Path) -> None:
    async with running_hub(str(tmp_path / "hub.sqlite3"), tmp_path) as hub:
        token = await hub.store.add_site("cabinet-a")
        # Given a pin that is not the hub's certificate
        settings = push.HubSettings(hub.url, token, pin_sha256="00" * 32)
        # When a report is pushed, Then nothing is sent and it waits
        result = await asyncio.to_thread(push.push, practice_report(DAY), settings, tmp_path / "o")
        assert result.error == "the hub's certificate is not the pinned one"
        assert result.waiting == 1
        assert await hub.store.reports_received() == 0


def test_settings_never_take_a_token_from_the_command_line(tmp_path: Path) -> None:
    env = {"EXPOSCAN_CONFIG": str(tmp_path / "config.toml")}
    (tmp_path / "config.toml").write_text('[hub]\nurl = "https://hub.test/"\ntoken = "abc"\n')
    # Given a token written in the config file, Then it is refused
    with pytest.raises(push.HubConfigError, match="not written in the config file"):
        push.resolve(None, env=env)
    # Given a URL and no token anywhere, Then the error says where a token goes
    (tmp_path / "config.toml").write_text('[hub]\nurl = "https://hub.test/"\n')
    with pytest.raises(push.HubConfigError, match="EXPOSCAN_HUB_TOKEN_FILE"):
        push.resolve(None, env=env)
    # Given a plain-HTTP hub, Then it is refused (the token would travel in clear)
    with pytest.raises(push.HubConfigError, match="https"):
        push.resolve("http://hub.test/", env={**env, "EXPOSCAN_HUB_TOKEN": "abc"})
    # Given a token file named in the config, Then the settings hold it
    (tmp_path / "token").write_text("abc-123\n")
    (tmp_path / "token").chmod(0o600)
    (tmp_path / "config.toml").write_text(
        f'[hub]\nurl = "https://hub.test/"\ntoken_file = "{tmp_path / "token"}"\n'
    )
    settings = push.resolve(None, env=env)
    assert settings is not None and settings.token == "abc-123"
    assert "abc-123" not in repr(settings)
    # Given nothing configured, Then no hub
    assert push.resolve(None, env={"XDG_CONFIG_HOME": str(tmp_path / "none")}) is None
