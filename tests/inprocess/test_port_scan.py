"""``scan --no-probes`` of named targets runs without the engine
(exposcan.port_scan): the same report as the engine's, recorded in the
history, ended by a signal as the engine's is, and a start-up that loads
neither the models, the catalogue's models, rich nor asyncio."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exposcan.catalogue import PortEntry
from exposcan.models import Report
from tests.support.cli import cli_env, run_cli, start_cli
from tests.support.local_ports import catalogue_dir_naming


@pytest.fixture
def listening() -> Iterator[list[int]]:
    """Three ports that accept on 127.0.0.1."""
    socks = []
    for _ in range(3):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        socks.append(sock)
    yield [s.getsockname()[1] for s in socks]
    for sock in socks:
        sock.close()


def _closed_port() -> int:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        return int(holder.getsockname()[1])


def _without_times(report: dict[str, Any]) -> dict[str, Any]:
    scan = dict(report["scan"])
    del scan["started"], scan["finished"]
    return {**report, "scan": scan}


@pytest.mark.parametrize("discovery", [[], ["--no-discovery"]])
def test_a_port_scan_writes_the_engine_report(
    tmp_path: Path, listening: list[int], discovery: list[str]
) -> None:
    # Given three open ports, one of them named "http" by the catalogue, and
    # a closed one
    named = PortEntry(port=listening[0], protocol="http", tls=False)
    env = {
        "EXPOSCAN_CATALOGUE": str(catalogue_dir_naming(tmp_path, [named])),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    ports = ",".join(map(str, [*listening, _closed_port()]))
    common = ["scan", "--no-probes", "--scan-type", "connect", *discovery, "-p", ports]
    # When the port scan runs on its own path (-q), and on the engine's
    # (-v: a log of the engine's steps is the engine's)
    alone = run_cli(*common, "-q", "127.0.0.1", "-o", str(tmp_path / "alone.json"), env=env)
    engine = run_cli(*common, "-v", "127.0.0.1", "-o", str(tmp_path / "engine.json"), env=env)
    # Then both end clean (a port scan makes no finding)
    assert (alone.returncode, engine.returncode) == (0, 0), (alone.stderr, engine.stderr)
    assert "port scan:" in engine.stderr and alone.stderr == ""
    # And they wrote the same report, field for field, but for the times
    first = json.loads((tmp_path / "alone.json").read_text())
    second = json.loads((tmp_path / "engine.json").read_text())
    assert _without_times(first) == _without_times(second)
    (host,) = first["hosts"]
    assert [(s["port"], s["protocol"]) for s in host["services"]] == [
        (p, "http" if p == listening[0] else "unknown") for p in sorted(listening)
    ]
    # And the document is what the report model itself writes for it
    text = (tmp_path / "alone.json").read_text()
    assert Report.from_json(text).to_json() == text


def test_a_port_scan_is_recorded_and_reads_back(tmp_path: Path, listening: list[int]) -> None:
    # Given a port scan with a history of its own
    db = tmp_path / "history.sqlite3"
    out = tmp_path / "scan.json"
    ports = ",".join(map(str, listening))
    run = run_cli(
        "scan", "-q", "--no-probes", "--scan-type", "connect", "--db", str(db),
        "-p", ports, "127.0.0.1", "-o", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    # When the history lists its runs, and the report is rendered as HTML
    listed = run_cli("history", "--db", str(db), "--json")
    html = run_cli("report", str(out), "-o", str(tmp_path / "scan.html"))
    # Then the run is there, complete, with its ports and targets
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert entry["complete"] is True
    assert entry["targets"] == ["127.0.0.1"]
    assert entry["ports"] == ",".join(map(str, sorted(listening)))
    # And the saved report renders (it is a valid exposcan.report/1)
    assert html.returncode == 0, html.stderr
    assert str(listening[0]) in (tmp_path / "scan.html").read_text()


def test_the_same_scan_not_quiet_prints_the_summary(listening: list[int]) -> None:
    # Given a port scan whose output is not a terminal (no live progress)
    run = run_cli("scan", "--no-probes", "--scan-type", "connect", "-p", str(listening[1]),
                  "127.0.0.1")  # fmt: skip
    # Then its summary names the open port, as the engine's does
    assert run.returncode == 0, run.stderr
    assert str(listening[1]) in run.stdout


START_UP = """
import sys
from exposcan.cli import main
code = main(sys.argv[1:])
print(code)
print(" ".join(sorted(sys.modules)))
"""


def test_a_port_scan_loads_neither_models_nor_catalogue_models(
    tmp_path: Path, listening: list[int]
) -> None:
    # Given a port scan of an address, run in a fresh interpreter
    proc = subprocess.run(
        [sys.executable, "-c", START_UP, "scan", "-q", "--no-probes", "--no-discovery",
         "--scan-type", "connect", "--db", str(tmp_path / "h.sqlite3"), "-p",
         str(listening[0]), "127.0.0.1", "-o", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=60, env=cli_env(), check=False,
    )  # fmt: skip
    code, modules = proc.stdout.splitlines()
    loaded = set(modules.split())
    # Then it ended clean, its report written
    assert code == "0", proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["hosts"]
    # And none of what only a probing scan needs was imported
    heavy = {
        "pydantic", "rich", "asyncio", "aiohttp", "jinja2",
        "exposcan.models", "exposcan.catalogue", "exposcan.engine", "exposcan.state",
    }  # fmt: skip
    assert not loaded & heavy, sorted(loaded & heavy)
    # (the check sees modules: the port scan's own are there)
    assert {"exposcan.port_scan", "exposcan.portlist", "exposcan.net.portscan"} <= loaded


async def test_a_signal_ends_a_port_scan_with_an_incomplete_report(tmp_path: Path) -> None:
    # Given a port scan slowed to 100 ports a second over 2,000 ports, a
    # listener among the first of them
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    out = tmp_path / "cut.json"
    proc = await start_cli(
        "scan", "-q", "--no-probes", "--no-discovery", "--scan-type", "connect",
        "--rate", "100", "-p", f"{port - 20}-{port + 1979}", "127.0.0.1", "-o", str(out),
        env={"XDG_DATA_HOME": str(tmp_path / "data")},
    )  # fmt: skip
    try:
        # When it is interrupted once the sweep has reached the listener
        # (then its handlers are in place, whatever the machine's load)
        loop = asyncio.get_running_loop()
        listener.setblocking(False)
        conn, _ = await asyncio.wait_for(loop.sock_accept(listener), 60)
        conn.close()
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        listener.close()
        if proc.returncode is None:
            proc.kill()
    # Then it ends at once, exit 2, its report written and marked incomplete
    assert time.monotonic() - started < 3.0
    assert proc.returncode == 2
    report = json.loads(out.read_text())
    assert report["scan"]["complete"] is False
    assert [n["code"] for n in report["scan"]["notices"]] == ["note.scan.interrupted"]
    assert report["scan"]["notes"]
    # And what it found before the signal is in the report
    assert report["hosts"][0]["services"][0]["port"] == port
