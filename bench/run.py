"""The benchmark: exposcan and nmap 7.93 in turn on the same targets.

Every scenario runs each of its commands once per round, the order rotated
from round to round (interleaved: a machine busy for a moment slows both
tools, not one); figures are medians over the rounds.  Wall time from here,
peak RSS of the scanner's own process from GNU time (``ip netns exec``
exec()s the scanner, so that process is the scanner).  Each run's open
ports are checked against the other tool's and, in the scale labs, against
what the lab listens on: a fast scan that misses a port would be no result.

Targets: only the namespaces this benchmark builds (bench/scalelab.py, and
the practice lab of exposcan_lab).  Needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from bench.scalelab import DENSE_NET, SPARSE_NET, ScaleLab
from bench.timeline import phases
from exposcan import __version__
from exposcan.net.portspec import format_ports

REPO = Path(__file__).resolve().parents[1]
COMMAND_TIMEOUT = 600.0
GNU_TIME = "/usr/bin/time"
NMAP_SCRIPTS = "dicom-ping,smb-enum-shares,http-title"

# address -> open ports
Ports = dict[str, set[int]]


@dataclass
class Command:
    label: str
    tool: str  # "exposcan" or "nmap"
    argv: list[str]
    ns: str
    out: Path | None = None  # exposcan's JSON report
    times: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    ports: Ports | None = None  # from the last run
    # bench.timeline's log, and the host whose probes it times (scenario 6)
    timeline: Path | None = None
    timed_host: str = ""
    after_scan: list[float] = field(default_factory=list)  # probes' end - port scan's end
    findings: int | None = None
    errors: int | None = None
    scripts: int | None = None
    port_checks: list[str] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")


#: The scenarios that need only the scale labs, not the practice lab.
SCALE_ONLY = frozenset({"1", "1b", "2", "3"})

#: The peak RSS of every exposcan run, whatever the scenario.
RSS_GOAL_MB = 150.0


@dataclass
class Goal:
    """One speed goal, judged on the medians of this run.

    ``ratio``: ours / theirs <= limit (theirs is nmap, measured alongside);
    ``after``: ours - theirs <= limit seconds (theirs is the same scan
    without probes: the time after the port scan); ``within``: ours <= limit
    seconds.  A limit of None prints the figure with no goal.
    """

    what: str
    ours: str
    theirs: str
    limit: float | None
    kind: str = "ratio"

    def value(self, sc: Scenario) -> float:
        if self.kind == "timeline":
            marks = sc.command(self.ours).after_scan
            return statistics.median(marks) if marks else float("nan")
        mine = sc.command(self.ours).median()
        if self.kind == "within":
            return mine
        other = sc.command(self.theirs).median()
        return mine - other if self.kind == "after" else mine / other

    def verdict(self, sc: Scenario) -> str:
        if self.limit is None:
            return "printed"
        return "met" if self.value(sc) <= self.limit else "NOT met"

    def describe(self, sc: Scenario) -> str:
        v = self.value(sc)
        if self.kind == "ratio":
            figure = f"ratio {self.ours} / {self.theirs} = {v:.2f}"
        elif self.kind == "after":
            figure = f"{self.ours} - {self.theirs} = {v:.2f} s"
        elif self.kind == "timeline":
            figure = f"{self.theirs}, from {self.ours}'s log: {v:.2f} s"
        else:
            figure = f"{self.ours} = {v:.2f} s"
        return f"{figure}  (goal {self.what}: {self.verdict(sc)})"


@dataclass
class Scenario:
    key: str
    title: str
    commands: list[Command]
    goals: list[Goal]
    expected: Ports | None = None  # ground truth, where the lab knows it
    # Commands whose open ports must equal (each other's, and ``expected``).
    compare: tuple[str, ...] = ()
    #: CPU-bound processes that run while the scenario's commands do (a
    #: user's machine is rarely idle; 1 on 2 cores: one core busy).
    busy: int = 0

    def command(self, label: str) -> Command:
        return next(c for c in self.commands if c.label == label)


@contextmanager
def spinners(count: int) -> Iterator[None]:
    """``count`` processes that spin on a CPU until the block ends, each in
    a session of its own, as another user's work would be (Linux shares
    the CPUs between sessions first: autogroup)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "while True: pass"],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        if procs:
            time.sleep(0.5)  # running, and seen by the scheduler
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def run_one(cmd: Command, env: dict[str, str], tmp: Path) -> None:
    """One timed run: wall time, and the peak RSS of the scanner process.

    The RSS comes from GNU time, not from our own wait4(): Linux keeps a
    process's high-water RSS across exec(), so a child forked from this
    60 MB Python process would report at least 60 MB whatever it runs.
    """
    rss_file = tmp / "rss"
    argv = [GNU_TIME, "-f", "%M", "-o", str(rss_file), "ip", "netns", "exec", cmd.ns, *cmd.argv]
    if cmd.out is not None and cmd.out.exists():
        cmd.out.unlink()
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    timer = threading.Timer(COMMAND_TIMEOUT, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    assert proc.stdout is not None
    try:
        out = proc.stdout.read()  # nmap's XML; exposcan -q prints nothing
        proc.wait()
        elapsed = time.monotonic() - started
    finally:
        timer.cancel()
        proc.stdout.close()
    cmd.times.append(elapsed)
    cmd.codes.append(proc.returncode)
    # GNU time writes "Command exited with non-zero status N" first then.
    cmd.rss_kb.append(int(rss_file.read_text().split()[-1]))
    if cmd.tool == "nmap":
        cmd.ports, cmd.scripts = parse_nmap_xml(out)
    elif cmd.out is not None and cmd.out.exists():
        cmd.ports, cmd.findings, cmd.errors = parse_report(cmd.out)
    if cmd.timeline is not None and cmd.timeline.exists():
        marks = phases(cmd.timeline, cmd.timed_host)
        if marks is not None:
            cmd.after_scan.append(marks[1] - marks[0])


def parse_nmap_xml(data: bytes) -> tuple[Ports, int]:
    ports: Ports = {}
    scripts = 0
    if not data.strip():
        return ports, scripts
    root = ElementTree.fromstring(data)
    for host in root.iter("host"):
        address = host.find("address")
        if address is None:
            continue
        found = {
            int(p.get("portid", "0"))
            for p in host.iter("port")
            if (s := p.find("state")) is not None and s.get("state") == "open"
        }
        if found:
            ports[address.get("addr", "")] = found
        scripts += sum(1 for _ in host.iter("script"))
    return ports, scripts


def parse_report(path: Path) -> tuple[Ports, int, int]:
    report = json.loads(path.read_text())
    ports = {
        h["address"]: {s["port"] for s in h["services"]} for h in report["hosts"] if h["services"]
    }
    return ports, len(report["findings"]), len(report["errors"])


def check_ports(scenario: Scenario) -> None:
    """Open ports of this round: equal across ``compare`` and to the lab."""
    reference = scenario.expected
    for label in scenario.compare:
        cmd = scenario.command(label)
        got = cmd.ports or {}
        if reference is None:
            reference = got
            continue
        if got != reference:
            missing = sum(len(v - got.get(a, set())) for a, v in reference.items())
            extra = sum(len(v - reference.get(a, set())) for a, v in got.items())
            cmd.port_checks.append(f"differs: {missing} missing, {extra} extra")
        else:
            cmd.port_checks.append("same")


def build_scenarios(
    scale: ScaleLab, lab_ns: dict[str, str], ports: str, tmp: Path, gateway_wan: str, lan: str
) -> list[Scenario]:
    from exposcan_lab import topology as t

    pacs, pacs_ports = str(t.PACS.ip), (t.PACS_DICOM_PORT, t.PACS_HTTP_PORT)
    pacs_spec = ",".join(str(p) for p in pacs_ports)
    # The viewer: storescp whose DNS drops its look-ups (a practice's viewer with no working DNS).
    slow, slow_port, slow_wait = str(t.VIEWER.ip), t.VIEWER_PORT, t.VIEWER_DNS_WAIT_S
    expo = [sys.executable, "-m", "exposcan", "scan", "-q"]
    full_host = str(DENSE_NET.network_address + 1)
    dense, sparse, scan_ns = str(DENSE_NET), str(SPARSE_NET), scale.scan_ns

    def e(label: str, ns: str, *args: str) -> Command:
        out = tmp / f"{label.replace(' ', '_').replace('/', '')}.json"
        return Command(label, "exposcan", [*expo, *args, "-o", str(out)], ns, out=out)

    def timed(label: str, ns: str, host: str, *args: str) -> Command:
        """As e(), the engine's log kept with times (bench/timeline.py)."""
        cmd = e(label, ns, *args)
        cmd.timeline = tmp / f"{label.replace(' ', '_')}.log"
        cmd.timed_host = host
        cmd.argv = [sys.executable, "-m", "bench.timeline", str(cmd.timeline), *cmd.argv[3:]]
        return cmd

    def n(label: str, ns: str, *args: str) -> Command:
        return Command(label, "nmap", ["nmap", "-n", "-oX", "-", *args], ns)

    def practice_nmap(suffix: str, *extra: str) -> Command:
        """nmap's nearest to exposcan's checks on the practice lab (scenario 4)."""
        label = f"nmap -sT --script {NMAP_SCRIPTS}{suffix}"
        return n(label, lab_ns["ws"], "-sT", "-p", ports, "--script", NMAP_SCRIPTS, *extra, lan)

    dense_truth = {
        a: p for a, p in scale.expected.items() if a in {str(h) for h in DENSE_NET.hosts()}
    }
    sparse_truth = {a: p for a, p in scale.expected.items() if a not in dense_truth}
    return [
        Scenario(
            "1",
            f"every TCP port of one host ({full_host})",
            [
                e(
                    "exposcan (SYN, root)",
                    scan_ns,
                    "--no-discovery",
                    "--no-probes",
                    "-p",
                    "-",
                    full_host,
                ),
                e(
                    "exposcan --scan-type connect",
                    scan_ns,
                    "--scan-type",
                    "connect",
                    "--no-discovery",
                    "--no-probes",
                    "-p",
                    "-",
                    full_host,
                ),
                n("nmap -sT -p-", scan_ns, "-Pn", "-sT", "-p-", full_host),
                n("nmap -sS -p- (reference)", scan_ns, "-Pn", "-sS", "-p-", full_host),
            ],
            [
                # The same technique: a SYN scan against nmap's.
                Goal(
                    "(1) <= 1.0 of nmap -sS",
                    "exposcan (SYN, root)",
                    "nmap -sS -p- (reference)",
                    1.0,
                ),
                Goal(
                    "(1) connect, unprivileged",
                    "exposcan --scan-type connect",
                    "nmap -sT -p-",
                    None,
                ),
            ],
            expected={full_host: scale.expected[full_host]},
            compare=(
                "exposcan (SYN, root)",
                "exposcan --scan-type connect",
                "nmap -sT -p-",
                "nmap -sS -p- (reference)",
            ),
        ),
        Scenario(
            "1b",
            f"every TCP port of one host ({full_host}), one core kept busy",
            [
                e(
                    "exposcan (SYN, root), one core busy",
                    scan_ns,
                    "--no-discovery",
                    "--no-probes",
                    "-p",
                    "-",
                    full_host,
                ),
                n("nmap -sS -p-, one core busy", scan_ns, "-Pn", "-sS", "-p-", full_host),
            ],
            [
                Goal(
                    "(1b) <= 1.0 of nmap -sS, one core busy",
                    "exposcan (SYN, root), one core busy",
                    "nmap -sS -p-, one core busy",
                    1.0,
                ),
            ],
            expected={full_host: scale.expected[full_host]},
            compare=("exposcan (SYN, root), one core busy", "nmap -sS -p-, one core busy"),
            busy=1,
        ),
        Scenario(
            "2",
            f"a /24 with 254 live hosts, practice ports ({dense})",
            [
                e("exposcan", scan_ns, "--no-probes", dense),
                e(
                    "exposcan --scan-type connect",
                    scan_ns,
                    "--scan-type",
                    "connect",
                    "--no-probes",
                    dense,
                ),
                n("nmap -sT", scan_ns, "-sT", "-p", ports, dense),
            ],
            [
                Goal("(2) <= 1.0", "exposcan", "nmap -sT", 1.0),
                Goal("(2) connect, unprivileged", "exposcan --scan-type connect", "nmap -sT", 1.0),
            ],
            expected=dense_truth,
            compare=("exposcan", "exposcan --scan-type connect", "nmap -sT"),
        ),
        Scenario(
            "3",
            f"a /20, {len(sparse_truth)} hosts alive, practice ports ({sparse})",
            [
                e("exposcan", scan_ns, "--no-probes", sparse),
                n("nmap -sT (ARP discovery)", scan_ns, "-sT", "-p", ports, sparse),
            ],
            [Goal("(3) <= 1.0", "exposcan", "nmap -sT (ARP discovery)", 1.0)],
            expected=sparse_truth,
            compare=("exposcan", "nmap -sT (ARP discovery)"),
        ),
        Scenario(
            "4",
            f"the practice lab with its hostile hosts, every check ({lan}); without and "
            f"with its slow viewer ({slow})",
            [
                e("exposcan (every check, no slow server)", lab_ns["ws"], "--exclude", slow, lan),
                practice_nmap(" (no slow server)", "--exclude", slow),
                e("exposcan (every check)", lab_ns["ws"], lan),
                practice_nmap(""),
            ],
            [
                # 0.25 of nmap on the practice with a hostile host;
                # and, "when one is slow", the slowest honest server's answer
                # + 2 s: no scan that confirms the viewer can end before it
                # answers (15 s), so the ratio is judged without it.
                Goal(
                    "(4) <= 0.25",
                    "exposcan (every check, no slow server)",
                    f"nmap -sT --script {NMAP_SCRIPTS} (no slow server)",
                    0.25,
                ),
                Goal(
                    f"(4) <= the slowest honest server's answer + 2 s = {slow_wait + 2:g} s",
                    "exposcan (every check)",
                    "",
                    slow_wait + 2.0,
                    kind="within",
                ),
                Goal(
                    "(4) with the slow viewer",
                    "exposcan (every check)",
                    f"nmap -sT --script {NMAP_SCRIPTS}",
                    None,
                ),
            ],
        ),
        Scenario(
            "5",
            f"the practice from the internet, every port ({gateway_wan})",
            [
                e(
                    "exposcan --vantage internet",
                    lab_ns["inet"],
                    "--vantage",
                    "internet",
                    gateway_wan,
                ),
                e(
                    "exposcan --vantage internet --no-probes",
                    lab_ns["inet"],
                    "--vantage",
                    "internet",
                    "--no-probes",
                    gateway_wan,
                ),
                n("nmap -sT -p-", lab_ns["inet"], "-Pn", "-sT", "-p-", gateway_wan),
                n("nmap -sS -p- (reference)", lab_ns["inet"], "-Pn", "-sS", "-p-", gateway_wan),
            ],
            [Goal("(5) port scan", "exposcan --vantage internet --no-probes", "nmap -sT -p-", 1.2)],
            compare=(
                "exposcan --vantage internet",
                "exposcan --vantage internet --no-probes",
                "nmap -sT -p-",
                "nmap -sS -p- (reference)",
            ),
        ),
        Scenario(
            "6",
            f"one healthy PACS, every probe ({pacs}: DICOM {pacs_ports[0]}, "
            f"Orthanc {pacs_ports[1]})",
            [
                timed(
                    "exposcan (every probe)",
                    lab_ns["ws"],
                    pacs,
                    "--no-discovery",
                    "-p",
                    pacs_spec,
                    pacs,
                ),
                e(
                    "exposcan --no-probes",
                    lab_ns["ws"],
                    "--no-discovery",
                    "--no-probes",
                    "-p",
                    pacs_spec,
                    pacs,
                ),
                n(
                    "nmap -sT --script dicom-ping,http-title",
                    lab_ns["ws"],
                    "-Pn",
                    "-sT",
                    "-p",
                    pacs_spec,
                    "--script",
                    "dicom-ping,http-title",
                    pacs,
                ),
            ],
            [
                # Wall time: every probe, the network probes' included (with a
                # named target the box is out of scope: no SSDP wait).
                Goal(
                    "(6) < 1 s after the port scan",
                    "exposcan (every probe)",
                    "exposcan --no-probes",
                    1.0,
                    kind="after",
                ),
                Goal(
                    "(6) the PACS's own probes < 1 s after its port scan",
                    "exposcan (every probe)",
                    "its DICOM and HTTP probes' end - its port scan's end",
                    1.0,
                    kind="timeline",
                ),
            ],
            # The report holds the named PACS only (not the box: out of scope).
            compare=(
                "exposcan (every probe)",
                "exposcan --no-probes",
                "nmap -sT --script dicom-ping,http-title",
            ),
        ),
        Scenario(
            "7",
            f"a slow DICOM server: dcmtk storescp answering after ~{slow_wait:g} s ({slow})",
            [
                e(
                    "exposcan (every probe)",
                    lab_ns["ws"],
                    "--no-discovery",
                    "-p",
                    str(slow_port),
                    slow,
                ),
                n(
                    "nmap -sT --script dicom-ping",
                    lab_ns["ws"],
                    "-Pn",
                    "-sT",
                    "-p",
                    str(slow_port),
                    "--script",
                    "dicom-ping",
                    slow,
                ),
            ],
            [
                Goal(
                    f"(7) <= its answer time + 2 s = {slow_wait + 2:g} s",
                    "exposcan (every probe)",
                    "",
                    slow_wait + 2.0,
                    kind="within",
                )
            ],
        ),
    ]


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    nmap = subprocess.run(
        ["nmap", "--version"], capture_output=True, text=True, timeout=10
    ).stdout.splitlines()
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_mb": mem_kb // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nmap": nmap[0] if nmap else "",
        "exposcan": __version__,
        "git": commit,
    }


def render(scenarios: list[Scenario], info: dict[str, Any], runs: int) -> str:
    lines = [
        f"exposcan {info['exposcan']} ({info['git']}) vs {info['nmap']}, "
        f"{runs} interleaved runs, medians",
        f"machine: {info['cpus']} x {info['cpu_model']}, {info['memory_mb']} MB, "
        f"Linux {info['kernel']}, Python {info['python']}",
        "",
    ]
    for sc in scenarios:
        lines.append(f"({sc.key}) {sc.title}")
        lines.append(
            f"  {'command':<48} {'median s':>9} {'min-max s':>12} {'peak RSS':>9}  "
            "open ports / results"
        )
        for c in sc.commands:
            spread = f"{min(c.times):.2f}-{max(c.times):.2f}" if c.times else "-"
            rss = f"{max(c.rss_kb) / 1024:.0f} MB" if c.rss_kb else "-"
            count = sum(len(v) for v in (c.ports or {}).values())
            what = f"{count} open"
            if c.findings is not None and sc.key in ("4", "5", "6", "7"):
                what += f", {c.findings} findings, {c.errors} errors"
            if c.scripts is not None and sc.key in ("4", "6", "7"):
                what += f", {c.scripts} script results"
            if c.port_checks:
                same = sum(1 for x in c.port_checks if x == "same")
                what += f", ports as expected in {same}/{len(c.port_checks)} runs"
            bad = [x for x in c.codes if x not in (0, 1)]
            if bad:
                what += f", EXIT {bad}"
            lines.append(f"  {c.label:<48} {c.median():>9.2f} {spread:>12} {rss:>9}  {what}")
        for g in sc.goals:
            lines.append(f"  {g.describe(sc)}")
        peak = peak_rss_mb(sc)
        if peak is not None:
            lines.append(
                f"  exposcan peak RSS {peak:.0f} MB  (goal <= {RSS_GOAL_MB:g} MB: "
                f"{'met' if peak <= RSS_GOAL_MB else 'NOT met'})"
            )
        lines.append("")
    lines.append("goals:")
    for sc in scenarios:
        for g in sc.goals:
            if g.limit is not None:
                lines.append(f"  {g.verdict(sc):<8} {g.what}: {g.value(sc):.2f}")
    peaks = [r for sc in scenarios if (r := peak_rss_mb(sc)) is not None]
    if peaks:
        verdict = "met" if max(peaks) <= RSS_GOAL_MB else "NOT met"
        lines.append(
            f"  {verdict:<8} peak RSS <= {RSS_GOAL_MB:g} MB everywhere: {max(peaks):.0f} MB"
        )
    return "\n".join(lines)


def peak_rss_mb(sc: Scenario) -> float | None:
    """The highest peak RSS of exposcan's runs in ``sc`` (MB)."""
    kb = [r for c in sc.commands if c.tool == "exposcan" for r in c.rss_kb]
    return max(kb) / 1024 if kb else None


def to_json(scenarios: list[Scenario], info: dict[str, Any], runs: int) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "runs": runs,
        "scenarios": [
            {
                "key": sc.key,
                "title": sc.title,
                "commands": [
                    {
                        "label": c.label,
                        "tool": c.tool,
                        "argv": c.argv,
                        "times_s": c.times,
                        "median_s": round(c.median(), 3),
                        "peak_rss_kb": c.rss_kb,
                        "exit_codes": c.codes,
                        "open_ports": sum(len(v) for v in (c.ports or {}).values()),
                        "findings": c.findings,
                        "script_results": c.scripts,
                        "port_checks": c.port_checks,
                        "probes_after_port_scan_s": c.after_scan or None,
                    }
                    for c in sc.commands
                ],
                "goals": [
                    {
                        "goal": g.what,
                        "kind": g.kind,
                        "ours": g.ours,
                        "theirs": g.theirs,
                        "limit": g.limit,
                        "value": round(g.value(sc), 3),
                        "verdict": g.verdict(sc),
                    }
                    for g in sc.goals
                ],
                "peak_rss_mb": peak_rss_mb(sc),
            }
            for sc in scenarios
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--runs",
        "--rounds",
        type=int,
        default=int(os.environ.get("RUNS", "5")),
        help="interleaved rounds; medians over them [5]",
    )
    parser.add_argument(
        "--name",
        default=os.environ.get("EXPOSCAN_LAB_NAME", "bench"),
        help="lab name: namespaces exb-NAME-* and exl-NAME-* [bench]",
    )
    parser.add_argument("--only", default="", help="scenarios to run, e.g. 1,2 [all]")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the figures [bench/results/bench-DATE.json]",
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("make bench needs root (network namespaces, nmap -sS)", file=sys.stderr)
        return 2
    if shutil.which("nmap") is None or not os.access(GNU_TIME, os.X_OK):
        print("nmap and GNU time are needed (scripts/install-deps.sh)", file=sys.stderr)
        return 2
    from exposcan.catalogue import default_catalogue
    from exposcan_lab import Lab
    from exposcan_lab import topology as t

    ports = format_ports(default_catalogue().default_ports())
    only = set(filter(None, args.only.split(",")))
    info = machine()
    # The runs' history goes to a throw-away place, not the user's.
    with tempfile.TemporaryDirectory(prefix="exposcan-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        env = dict(
            os.environ,
            XDG_DATA_HOME=str(tmp / "data"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        )
        # exposcan as installed: pip compiles a wheel's modules once; a source
        # tree under PYTHONDONTWRITEBYTECODE would compile them in every run
        # (0.1 s of each scan's start here).  Compiled before the first round,
        # next to the sources (__pycache__/ is ignored by git), as Python does
        # by default; not under a PYTHONPYCACHEPREFIX, where the interpreter
        # would look for every other module's bytecode too and write it there
        # in the first run (0.9 s more in round 1).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(REPO / "exposcan")],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        scale: ScaleLab | None = None
        lab: Lab | None = None
        # SIGTERM (make interrupted, CI timeout) must tear down as ^C does.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
        try:
            print("building the scale labs and the practice lab ...", file=sys.stderr)
            scale = ScaleLab.up(args.name)
            # Scenarios 1-3 run on the scale labs alone: the practice lab
            # (a minute to build) only when a scenario of it is asked for.
            lab_ns = {"ws": "", "inet": ""}
            if not only or only - SCALE_ONLY:
                lab = Lab.up(args.name)
                lab_ns = {"ws": lab.netns("ws"), "inet": lab.netns("inet")}
            scenarios = [
                s
                for s in build_scenarios(
                    scale, lab_ns, ports, tmp, str(t.BOX_WAN_IP), str(t.LAN_NET)
                )
                if not only or s.key in only
            ]
            for round_no in range(args.runs):
                for sc in scenarios:
                    shift = round_no % len(sc.commands)
                    with spinners(sc.busy):
                        for cmd in sc.commands[shift:] + sc.commands[:shift]:
                            run_one(cmd, env, tmp)
                            print(
                                f"  round {round_no + 1}/{args.runs} ({sc.key}) {cmd.label}: "
                                f"{cmd.times[-1]:.2f} s",
                                file=sys.stderr,
                            )
                    check_ports(sc)
        finally:
            if lab is not None:
                lab.down()
            if scale is not None:
                scale.down()
    text = render(scenarios, info, args.runs)
    print(text)
    out = args.json or REPO / "bench" / "results" / (
        f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_json(scenarios, info, args.runs), indent=1) + "\n")
    print(f"figures written to {out}")
    return 0
