"""The scale labs of the benchmark, in network namespaces ``exb-<name>-*``.

Three namespaces, nothing in the root namespace::

    exb-<name>-scan   the scanner: a0 198.19.0.1/23, a1 198.19.32.1/19
      a0 <-> b0       exb-<name>-dense: 254 addresses 198.19.1.1-254 (/23),
                      each with 8-12 of the practice ports listening
      a1 <-> b1       exb-<name>-sparse: a /20 (198.19.48.0/20) in which
                      only SPARSE_ALIVE answer, 3 ports each

198.18.0.0/15 is RFC 2544's benchmarking range: no address here can be a
real host.  The dense hosts are one namespace holding 254 addresses, so the
kernel answers ARP and TCP for each of them; one small listener process per
namespace (bench/listeners.py) owns every listening socket.

``ScaleLab.up()`` removes a stale lab of the same name first; ``down()``
kills the listeners by pid and deletes the namespaces; the benchmark calls
it in a ``finally`` and at exit.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

PREFIX = "exb-"
SCANNER_DENSE = IPv4Address("198.19.0.1")
DENSE_NET = IPv4Network("198.19.1.0/24")  # the /24 of scenario 2
DENSE_LINK = 23  # scanner and hosts on one /23: 198.19.0.0-198.19.1.255
SCANNER_SPARSE = IPv4Address("198.19.32.1")
SPARSE_LINK = 19  # 198.19.32.0-198.19.63.255
SPARSE_NET = IPv4Network("198.19.48.0/20")  # the /20 of scenario 3
SPARSE_ALIVE = (
    IPv4Address("198.19.48.10"),
    IPv4Address("198.19.50.77"),
    IPv4Address("198.19.55.200"),
    IPv4Address("198.19.63.254"),
)
REPO = Path(__file__).resolve().parents[1]


def practice_ports() -> list[int]:
    from exposcan.catalogue import default_catalogue

    return default_catalogue().default_ports()


def dense_ports(index: int, ports: list[int]) -> list[int]:
    """The listening ports of dense host ``index`` (1-254): 8 to 12 of the
    practice list, a different selection per host."""
    count = 8 + index % 5
    step = 7 if len(ports) % 7 else 5  # coprime with len(ports): no repeats
    return sorted({ports[(index + k * step) % len(ports)] for k in range(count)})


def _ip(*args: str, stdin: str | None = None) -> None:
    proc = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def namespaces_of(name: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    mine = f"{PREFIX}{name}-"
    return [line.split()[0] for line in out.splitlines() if line.startswith(mine)]


@dataclass
class ScaleLab:
    name: str
    expected: dict[str, set[int]] = field(default_factory=dict)  # address -> open ports
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _tmp: Path | None = None

    @property
    def scan_ns(self) -> str:
        return f"{PREFIX}{self.name}-scan"

    @property
    def dense_ns(self) -> str:
        return f"{PREFIX}{self.name}-dense"

    @property
    def sparse_ns(self) -> str:
        return f"{PREFIX}{self.name}-sparse"

    @classmethod
    def up(cls, name: str) -> ScaleLab:
        lab = cls(name)
        lab.down()  # a stale lab of this name (a killed run) goes first
        atexit.register(lab.down)
        try:
            lab._build()
        except BaseException:
            lab.down()
            raise
        return lab

    def _build(self) -> None:
        ports = practice_ports()
        self._tmp = Path(tempfile.mkdtemp(prefix=f"exb-{self.name}-"))
        for ns in (self.scan_ns, self.dense_ns, self.sparse_ns):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        for mine, peer, ns in (("a0", "b0", self.dense_ns), ("a1", "b1", self.sparse_ns)):
            _ip(
                "-n",
                self.scan_ns,
                "link",
                "add",
                mine,
                "type",
                "veth",
                "peer",
                "name",
                peer,
                "netns",
                ns,
            )
        _ip("-n", self.scan_ns, "addr", "add", f"{SCANNER_DENSE}/{DENSE_LINK}", "dev", "a0")
        _ip("-n", self.scan_ns, "addr", "add", f"{SCANNER_SPARSE}/{SPARSE_LINK}", "dev", "a1")
        dense = [(DENSE_NET.network_address + i, dense_ports(i, ports)) for i in range(1, 255)]
        sparse = [(a, ports[i :: len(ports) // 3][:3]) for i, a in enumerate(SPARSE_ALIVE)]
        batch = "".join(f"addr add {a}/{DENSE_LINK} dev b0\n" for a, _ in dense)
        _ip("-n", self.dense_ns, "-batch", "-", stdin=batch)
        batch = "".join(f"addr add {a}/{SPARSE_LINK} dev b1\n" for a, _ in sparse)
        _ip("-n", self.sparse_ns, "-batch", "-", stdin=batch)
        for ns, link in (
            (self.scan_ns, "a0"),
            (self.scan_ns, "a1"),
            (self.dense_ns, "b0"),
            (self.sparse_ns, "b1"),
        ):
            _ip("-n", ns, "link", "set", link, "up")
        # 254 neighbours fit the default table (gc_thresh3 1024).
        for ns, hosts in ((self.dense_ns, dense), (self.sparse_ns, sparse)):
            spec = self._tmp / f"{ns}.listen"
            spec.write_text("".join(f"{a} {p}\n" for a, ps in hosts for p in ps))
            self._listen(ns, spec)
            for address, open_ports in hosts:
                self.expected[str(address)] = set(open_ports)

    def _listen(self, ns: str, spec: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "bench.listeners", str(spec)],
            stdout=subprocess.PIPE,
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
        self._procs.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"listeners in {ns} did not start")

    def exec_argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.scan_ns, *argv]

    def down(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._procs.clear()
        for ns in namespaces_of(self.name):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        if self._tmp is not None:
            for f in self._tmp.iterdir():
                f.unlink()
            self._tmp.rmdir()
            self._tmp = None
