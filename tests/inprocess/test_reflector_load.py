"""A load test of the reflector's front: one host without a token, from
several addresses, against the real CLI (``exposcan reflector serve``) run
with a small file-descriptor limit, while a practice asks for its view.

Bounded in count and in time: 4 addresses, 250 raw TCP connections and 75
idle TLS connections each (1,300 in all, more than the front's 1,024
descriptors), held while the practice's request runs.  The figures are
printed (run with -s), never asserted as times."""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from tests.inprocess.reflector_fixtures import Running, fresh, post
from tests.inprocess.reflector_tls import make_server_cert
from tests.support.cli import cli_argv, cli_env, run_cli

ATTACKERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
RAW_EACH, TLS_EACH = 250, 75
FRONT_NOFILE = 1024


def _small_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FRONT_NOFILE, FRONT_NOFILE))


async def _hold(
    host: str, port: int, source: str, context: ssl.SSLContext | None, held: list[object]
) -> str:
    """One connection from ``source``, kept open in ``held``; what became of it."""
    try:
        async with asyncio.timeout(5):
            connected = await asyncio.open_connection(
                host,
                port,
                local_addr=(source, 0),
                ssl=context,
                server_hostname="localhost" if context else None,
            )
    except TimeoutError:
        return "timeout"
    except (OSError, ssl.SSLError):
        return "refused"
    held.append(connected[1])
    return "open"


async def test_one_host_cannot_exhaust_the_front(tmp_path: Path) -> None:
    # Given the real front, limited to 1,024 file descriptors, serving loopback
    cert = make_server_cert(tmp_path)
    tokens = tmp_path / "tokens"
    made = run_cli("reflector", "add-token", "--tokens", str(tokens))
    assert made.returncode == 0, made.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = cli_argv(["reflector", "serve"])
    argv += ["--listen", f"127.0.0.1:{port}", "--cert", str(cert.cert), "--key", str(cert.key)]
    argv += ["--tokens", str(tokens), "--sources", "127.0.0.0/8", "--ports", "1"]
    argv += ["--scan-type", "connect", "--max-scans", "1", "-v"]
    front = subprocess.Popen(
        argv, env=cli_env(), stderr=subprocess.PIPE, text=True, preexec_fn=_small_fd_limit
    )
    held: list[object] = []
    try:
        assert front.stderr is not None
        assert "reflector on https://127.0.0.1" in front.stderr.readline()
        context = ssl.create_default_context(cafile=str(cert.ca))
        started = time.monotonic()
        # When 4 addresses open 250 raw TCP connections each, then 75 TLS
        # connections each that send nothing, and hold them all
        raw = await asyncio.gather(
            *(_hold("127.0.0.1", port, a, None, held) for a in ATTACKERS for _ in range(RAW_EACH))
        )
        idle = await asyncio.gather(
            *(
                _hold("127.0.0.1", port, a, context, held)
                for a in ATTACKERS
                for _ in range(TLS_EACH)
            )
        )
        flood = time.monotonic() - started
        # And a practice, from its own address, asks for its view meanwhile
        asked = time.monotonic()
        running = Running(f"https://127.0.0.1:{port}", made.stdout.strip(), cert, None, tokens)  # type: ignore[arg-type]
        try:
            status, answer = await post(running, fresh(), local="127.0.0.9", timeout=60)
        except Exception as exc:  # an aborted connection: the practice was not answered
            status, answer = 0, {"error": type(exc).__name__}
        answered = time.monotonic() - asked
    finally:
        for writer in held:
            with contextlib.suppress(Exception):
                writer.close()  # type: ignore[attr-defined]
        front.send_signal(signal.SIGTERM)
        _, log = front.communicate(timeout=60)
    counts = dict(re.findall(r"([a-z.-]+)=(\d+)", log.rsplit("counts:", 1)[-1]))
    print(
        f"\nreflector front, {FRONT_NOFILE} fds: {len(raw)} raw TCP + {len(idle)} idle TLS "
        f"connections from {len(ATTACKERS)} addresses in {flood:.1f} s "
        f"(raw: {raw.count('open')} opened, {raw.count('timeout')} timed out; TLS: "
        f"{idle.count('open')} completed, {idle.count('refused')} refused); the front "
        f"refused {counts.get('refused.source-connections', 0)} at accept (per source), "
        f"{counts.get('refused.connections', 0)} at its global cap; the practice's request "
        f"answered HTTP {status} after {answered:.1f} s; front log {len(log)} bytes"
    )
    # Then the practice got its view
    assert status == 200, answer
    assert answer["source"] == "127.0.0.9"
    # And the front stopped cleanly, its log short: no traceback, no address
    assert front.returncode == 0, log[-2000:]
    assert "Traceback" not in log and len(log) < 20_000, log[-2000:]
    assert not re.search(r"127\.0\.0\.\d", log.split("\n", 1)[1]), log[-2000:]
    # And at most the per-source cap of TLS connections got through per address
    assert idle.count("open") <= 8 * len(ATTACKERS)
