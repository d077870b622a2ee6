"""The portable path: Linux's fast paths (epoll sweep, AF_PACKET
ARP and NDP, raw SYN) are chosen at run time; disabled (EXPOSCAN_PORTABLE=1,
or absent as on macOS and the BSDs) the scan still runs, unprivileged, with
the selectors sweep, TCP pings and the connect scan.  Loopback only."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from exposcan.net import discovery, synscan
from exposcan.net.platform import PORTABLE_ENV, fast_paths
from exposcan.net.portscan import PortResult, PortState, sweep

#: Python as a system without Linux's fast paths: no epoll, no AF_PACKET.
NOT_LINUX = "import select, socket, sys\ndel select.epoll\ndel socket.AF_PACKET\n"


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def _closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _sweep(ports: list[int]) -> dict[int, PortState]:
    found: list[PortResult] = []
    sweep(
        iter([("127.0.0.1", p) for p in ports]),
        window=8,
        timeout=1.0,
        rate=0,
        on_result=found.append,
        stop=threading.Event(),
    )
    return {r.port: r.state for r in found}


def test_disabled_fast_paths_take_the_portable_sweep(
    monkeypatch: pytest.MonkeyPatch, listener: int
) -> None:
    # Given the fast paths disabled, and epoll made to fail were it used
    monkeypatch.setenv(PORTABLE_ENV, "1")

    def no_epoll() -> None:
        raise AssertionError("epoll used on the portable path")

    monkeypatch.setattr(select, "epoll", no_epoll, raising=False)
    closed = _closed_port()
    # When loopback is swept
    states = _sweep([listener, closed])
    # Then the open and the closed port are told apart as on Linux's path
    assert not fast_paths()
    assert states == {listener: PortState.OPEN, closed: PortState.CLOSED}
    # And no raw socket, no AF_PACKET path is chosen, whoever runs it
    assert synscan.choose_sweeper("auto") is sweep
    assert not synscan.syn_available() and not discovery.can_arp()
    with pytest.raises(synscan.SynScanUnavailable, match=PORTABLE_ENV):
        synscan.choose_sweeper("syn")


def test_the_fast_path_is_linux_s_default(monkeypatch: pytest.MonkeyPatch, listener: int) -> None:
    # Given nothing disabled on this Linux machine (the negative case)
    monkeypatch.delenv(PORTABLE_ENV, raising=False)
    # Then the fast paths are on, and the epoll sweep finds the same answer
    assert fast_paths() == sys.platform.startswith("linux")
    assert _sweep([listener]) == {listener: PortState.OPEN}


def test_it_imports_and_scans_where_linux_s_calls_do_not_exist(
    tmp_path: Path, listener: int
) -> None:
    # Given a Python without epoll or AF_PACKET (as on macOS), no variable set
    out = tmp_path / "report.json"
    program = NOT_LINUX + (
        "from exposcan.cli import main\n"
        f"sys.exit(main(['scan', '127.0.0.1', '-p', '{listener}', '--no-discovery', "
        f"'-q', '-o', {str(out)!r}]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != PORTABLE_ENV}
    # When exposcan is imported and scans loopback there
    proc = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, env=env
    )
    # Then it runs (exit 0: nothing to find) and saw the open port
    assert proc.returncode == 0, proc.stderr
    [host] = json.loads(out.read_text())["hosts"]
    assert [s["port"] for s in host["services"]] == [listener]
