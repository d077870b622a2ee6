"""Ground truth of the lab, read around a scan without going through exposcan.

- :func:`listening_ports`: what a host's kernel says listens;
- :func:`target_state`: what every store of the practice holds (Orthanc's
  counts asked locally, the storescp folder, the shares' and the web root's
  trees with sizes and mtimes, the box's IGD mappings through ``upnpc -l``
  and its NAT rules), so that a test proves a scan wrote nothing;
- :class:`PacketCounter`: an iptables rule that only counts, in one host's
  namespace, so that a test proves a scan never reached a host;
- :func:`run_measured`: the real CLI in a namespace, with its wall time and
  peak resident memory (``wait4``'s rusage of that very process).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.support.cli import cli_argv, cli_env

REPO = Path(__file__).resolve().parents[2]

#: The LAN hosts a scan from the workstation must find (all but itself).
LAN_HOSTS = [h for h in t.HOSTS if h.side == "lan" and h.name != "ws"]


def listening_ports(lab: Lab, host: str) -> set[int]:
    """Ground truth, independent of the scanner: what the kernel of ``host``
    says listens (``ss``), loopback-only sockets left out."""
    out = lab.run(host, ["ss", "-Hltn"], timeout=10).stdout
    ports = set()
    for line in out.splitlines():
        address, _, port = line.split()[3].rpartition(":")
        if not address.startswith("127.") and address != "[::1]":
            ports.add(int(port))
    return ports


def tree(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every file and folder under ``root``: kind, size, mtime (ns), mode.
    A folder's mtime changes when anything is created or deleted in it, even
    a file removed again, so that a write cannot hide."""
    out: dict[str, tuple[str, int, int, int]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        kind = "dir" if path.is_dir() else "file"
        out[str(path.relative_to(root))] = (
            kind,
            st.st_size if kind == "file" else 0,
            st.st_mtime_ns,
            st.st_mode,
        )
    st = root.lstat()
    out["."] = ("dir", 0, st.st_mtime_ns, st.st_mode)
    return out


_MAPPING = re.compile(r"^\s*\d+\s+(TCP|UDP)\s+(\d+)->([\d.]+):(\d+)\s+'([^']*)'")


def igd_mappings(lab: Lab) -> list[tuple[str, int, str, int, str]]:
    """The box's forwards as miniupnpc lists them (GetGenericPortMappingEntry)."""
    proc = lab.run(t.WS.name, ["upnpc", "-u", t.IGD_ROOTDESC_URL, "-l"], timeout=30)
    assert proc.returncode == 0, proc.stderr
    out = []
    for line in proc.stdout.splitlines():
        if m := _MAPPING.match(line):
            out.append((m[1], int(m[2]), m[3], int(m[4]), m[5]))
    return sorted(out)


def box_nat_rules(lab: Lab) -> list[str]:
    """The box's NAT table, without packet counters."""
    proc = lab.run(t.BOX.name, ["iptables-legacy-save", "-t", "nat"], timeout=15)
    assert proc.returncode == 0, proc.stderr
    return [
        re.sub(r"\[\d+:\d+\]", "", line)
        for line in proc.stdout.splitlines()
        if line and not line.startswith("#")
    ]


def target_state(lab: Lab) -> dict[str, Any]:
    return {
        "orthanc": {h.name: lab.orthanc_statistics(h.name) for h in (t.PACS, t.PACS_SECURE)},
        "storescp": tree(lab.storescp_dir),
        "shares": tree(lab.host_dir(t.NAS.name) / "shares"),
        "web": tree(lab.web_root),
        "ftp": {h.name: tree(lab.ftp_zone(h.name)) for h in (t.FTP, t.FTP_PRIVATE)},
        "igd_mappings": igd_mappings(lab),
        "box_nat": box_nat_rules(lab),
    }


class PacketCounter:
    """A rule without a target at the head of INPUT in ``host``'s namespace:
    it only counts the packets that match ``match`` (iptables arguments)."""

    def __init__(self, lab: Lab, host: str, match: list[str]) -> None:
        self.lab, self.host, self.match = lab, host, match

    def _ipt(self, *args: str) -> str:
        proc = self.lab.run(self.host, ["iptables-legacy", *args], timeout=15)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def __enter__(self) -> PacketCounter:
        self._ipt("-I", "INPUT", "1", *self.match)
        return self

    def packets(self) -> int:
        line = self._ipt("-L", "INPUT", "1", "-v", "-x", "-n").split()
        return int(line[0])

    def __exit__(self, *exc: object) -> None:
        self._ipt("-D", "INPUT", "1")


@dataclass
class MeasuredRun:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    #: Peak resident set size of the exposcan process, MiB (ru_maxrss).
    max_rss_mib: float


def run_measured(
    lab: Lab,
    host: str,
    args: list[str],
    workdir: Path,
    timeout: float = 300.0,
    env: dict[str, str] | None = None,
) -> MeasuredRun:
    """``python -m exposcan ARGS`` in ``host``'s namespace, measured.

    ``ip netns exec`` execs the command in place, so the child we wait for
    *is* the scanner: ``wait4`` gives its own peak RSS."""
    full_env = cli_env(env)
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    started = time.monotonic()
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(
            lab.exec_argv(host, cli_argv(args)),
            stdout=o,
            stderr=e,
            cwd=REPO,
            env=full_env,
        )
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                proc.wait()
                raise AssertionError(f"exposcan {args} ran past {timeout} s")
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return MeasuredRun(
        proc.returncode,
        out.read_text(),
        err.read_text(),
        time.monotonic() - started,
        usage.ru_maxrss / 1024,
    )
