"""The reflector in Redis mode, in a lab of three practices.

A real redis-server, two workers and the HTTPS front on the lab internet;
three practices behind three NAT boxes with their own public addresses, each
with a hand-set forward (iptables DNAT) to a real nginx on its LAN.  Each
practice asks from its LAN host with the real CLI; each must get its own
report, naming only its own public address.  Throughput is printed (run
with -s), never asserted."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from exposcan_lab.practices import PRACTICES, Practice, Practices, PracticesError, _missing
from exposcan_lab.topology import CANARY_STRINGS, SECRET_STRINGS
from tests.support.cli import cli_argv, cli_env, validate_reports
from tests.support.requirements import missing

pytestmark = pytest.mark.lab

LAB_NAME = os.environ.get("EXPOSCAN_LAB_NAME") or "pytest"


def run_exposcan(
    lab: Practices,
    role: str,
    args: Sequence[str],
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m exposcan ARGS`` in ``role``'s namespace of the practices
    lab; every JSON report it writes is held to the checked-in schema."""
    proc = lab.run(role, cli_argv(args), timeout=timeout, env=cli_env(env))
    validate_reports(args)
    return proc


@pytest.fixture(scope="module")
def practices() -> Iterator[Practices]:
    absent = _missing()
    if absent:
        missing("the practices lab (" + ", ".join(absent) + ")")
    try:
        lab = Practices.up(LAB_NAME)
    except PracticesError as exc:
        pytest.fail(str(exc))
    try:
        yield lab
    finally:
        lab.down()


def check(lab: Practices, practice: Practice, tag: str) -> tuple[int, str, dict[str, Any], float]:
    """``exposcan reflector check`` from the practice's LAN host."""
    out = lab.dir / f"{practice.lan}-{tag}.json"
    args = ["reflector", "check", lab.url]
    args += ["--ca-file", str(lab.ca_file), "--token-file", str(lab.token_file(practice))]
    args += ["-o", str(out)]
    started = time.monotonic()
    proc = run_exposcan(lab, practice.lan, args, timeout=300)
    took = time.monotonic() - started
    report = json.loads(out.read_text()) if out.exists() else {}
    return proc.returncode, proc.stdout + proc.stderr, report, took


def test_three_practices_each_get_their_own_report(practices: Practices) -> None:
    lab = practices
    rounds = 3
    with ThreadPoolExecutor(len(PRACTICES)) as pool:
        results: list[tuple[Practice, tuple[int, str, dict[str, Any], float]]] = []
        started = time.monotonic()
        for n in range(rounds):
            # Given three practices asking at the same time
            futures = [(p, pool.submit(check, lab, p, f"r{n}")) for p in PRACTICES]
            results += [(p, f.result()) for p, f in futures]
        wall = time.monotonic() - started
    # Then each got its own report, naming only its own public address and
    # the port of its own hand-set forward
    for practice, (code, output, report, _) in results:
        assert code == 0, output
        assert report["scan"]["vantage"] == "internet"
        assert report["scan"]["targets"] == [practice.public_ip]
        assert report["scan"]["complete"] is True
        assert [h["address"] for h in report["hosts"]] == [practice.public_ip]
        ports = [s["port"] for s in report["hosts"][0]["services"]]
        assert ports == [practice.public_port], ports
        assert f"seen from the internet as {practice.public_ip}" in output
        text = json.dumps(report) + output
        for secret in (*CANARY_STRINGS, *SECRET_STRINGS, *lab.tokens):
            assert secret not in text
    # And the reflector did send packets to each box (the counter counts)
    assert all(lab.packets_from_reflector(p) > 0 for p in PRACTICES)
    # And both workers took scans; no log holds a canary, the token or an address scanned
    workers = [lab.logs(f"worker{n}") for n in (1, 2)]
    done = [w.count("scan done") for w in workers]
    assert sum(done) == rounds * len(PRACTICES) and min(done) >= 1, done
    logs = lab.logs("front") + "".join(workers)
    for secret in (*CANARY_STRINGS, *SECRET_STRINGS, *lab.tokens):
        assert secret not in logs
    assert not any(p.public_ip in logs for p in PRACTICES)
    latencies = [r[3] for _, r in results]
    print(
        f"\nreflector, Redis mode, 2 workers x 1 job, {len(results)} scans of 65535 ports "
        f"({rounds} rounds of {len(PRACTICES)} practices at once): "
        f"{len(results) / wall * 60:.1f} scans/minute; per-scan latency (client, CLI start "
        f"to answer) median {statistics.median(latencies):.1f} s, max {max(latencies):.1f} s"
    )


REFUSED = r"""
import asyncio, json, secrets, ssl, sys, time
import aiohttp
async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    token = open(sys.argv[3]).read().strip()
    out = []
    for extra in json.loads(sys.argv[4]):
        body = {"timestamp": time.time(), "nonce": secrets.token_hex(16), "ipv6": []}
        body.update(extra)
        async with aiohttp.ClientSession() as s:
            async with s.post(sys.argv[1] + "/v1/scan", json=body, ssl=ctx,
                              headers={"Authorization": "Bearer " + token}) as r:
                out.append(r.status)
    print(json.dumps(out))
asyncio.run(main())
"""


def test_a_request_naming_another_practice_scans_nothing(practices: Practices) -> None:
    lab = practices
    one, two = PRACTICES[0], PRACTICES[1]
    before = lab.packets_from_reflector(two)
    # Given practice 1 naming practice 2's public address in every way it can
    named = [
        {"target": two.public_ip},
        {"source": two.public_ip},
        {"ipv6": [f"::ffff:{two.public_ip}"]},
        {"ipv6": [two.public_ip]},
    ]
    argv = [sys.executable, "-c", REFUSED, lab.url, str(lab.ca_file), str(lab.token_file(one))]
    proc = lab.run(one.lan, [*argv, json.dumps(named)], timeout=60)
    # Then every request is refused, and practice 2's box saw no packet from the reflector
    assert proc.returncode == 0, proc.stderr
    # (names in the IPv6 list are not scanned; practice 1 itself is)
    assert json.loads(proc.stdout) == [400, 400, 200, 200]
    time.sleep(0.5)
    assert lab.packets_from_reflector(two) == before


def test_a_bad_token_is_refused(practices: Practices, tmp_path: Path) -> None:
    lab = practices
    bad = tmp_path / "token"
    bad.write_text("not-a-token\n")
    bad.chmod(0o600)  # a secret's file: the CLI refuses one that others may read
    args = ["reflector", "check", lab.url, "--ca-file", str(lab.ca_file), "--token-file", str(bad)]
    proc = run_exposcan(lab, PRACTICES[2].lan, args, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "exposcan: error: the token was refused: unknown or missing token (HTTP 401)"
    ]


def test_ipv6_devices_inside_the_practice_64(practices: Practices) -> None:
    lab = practices
    practice = next(p for p in PRACTICES if p.ipv6)
    base = ["reflector", "check", lab.url6]
    base += ["--ca-file", str(lab.ca_file), "--token-file", str(lab.token_file(practice))]
    out = lab.dir / "ipv6.json"
    # Given the practice's LAN host asking over IPv6, naming a second device of its /64
    proc = run_exposcan(lab, practice.lan, [*base, "--ipv6", practice.device_ip6, "-o", str(out)])
    # Then both its own address and the device are scanned, and nothing else
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["scan"]["targets"] == [practice.host_ip6, practice.device_ip6]
    assert sorted(h["address"] for h in report["hosts"]) == sorted(
        [practice.host_ip6, practice.device_ip6]
    )
    for host in report["hosts"]:  # nginx on every IPv6 address, no forward needed
        assert [s["port"] for s in host["services"]] == [80]
    # Given an address outside its /64 (another practice's prefix), Then not scanned
    other = "2001:db8:ca02:1::10"
    out = lab.dir / "ipv6-other.json"
    argv = [*base, "--ipv6", practice.device_ip6, "--ipv6", other, "-o", str(out)]
    proc = run_exposcan(lab, practice.lan, argv)
    assert proc.returncode == 0, proc.stderr
    assert f"not scanned: {other}: outside your source's /64" in proc.stdout
    assert json.loads(out.read_text())["scan"]["targets"] == [
        practice.host_ip6,
        practice.device_ip6,
    ]
    # Given IPv6 addresses named over IPv4, Then only the IPv4 source is scanned
    v4 = [*base[:2], lab.url, *base[3:], "--ipv6", practice.host_ip6]
    proc = run_exposcan(lab, practice.lan, v4)
    assert proc.returncode == 0, proc.stderr
    assert f"seen from the internet as {practice.public_ip}" in proc.stdout
    assert "the request came over IPv4" in proc.stdout


def lan_scan(lab: Practices, practice: Practice) -> tuple[int, str, dict[str, Any]]:
    """The practice's own LAN scan with ``--outside`` (the outside helper's
    client side), its token from the file the environment names."""
    out = lab.dir / f"{practice.lan}-lan.json"
    env = {"EXPOSCAN_OUTSIDE_TOKEN_FILE": str(lab.token_file(practice))}
    args = ["scan", practice.host_ip, "-p", "80"]
    args += ["--outside", lab.url, "--outside-ca", str(lab.ca_file), "-o", str(out)]
    proc = run_exposcan(lab, practice.lan, args, timeout=300, env=env)
    return proc.returncode, proc.stdout + proc.stderr, json.loads(out.read_text())


def test_lan_scans_with_outside_join_each_practice_forward(practices: Practices) -> None:
    lab = practices
    # Given the three practices' LAN scans, with --outside, at the same time
    with ThreadPoolExecutor(len(PRACTICES)) as pool:
        results = list(pool.map(lambda p: (p, lan_scan(lab, p)), PRACTICES))
    # Then each learns its own public address from the reflector, and the
    # hand-set forward (no UPnP lists it) joined to the nginx behind it
    for practice, (code, output, report) in results:
        assert code == 0, output
        outside = report["outside"]
        assert outside["status"] == "done" and outside["ports_tried"] == 65535
        assert outside["public"]["reflector_source"] == practice.public_ip
        paths = [(p["public"], p["seen"], p["lan"]) for p in outside["paths"]]
        assert paths == [
            (f"{practice.public_ip}:{practice.public_port}", "internet", f"{practice.host_ip}:80")
        ]
        for secret in (*CANARY_STRINGS, *lab.tokens):
            assert secret not in output and secret not in json.dumps(report)
