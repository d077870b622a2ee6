"""Several practices on one lab internet, for the reflector.

A small lab of its own, apart from the main practice lab (topology.py):

    exl-<lab>-rx-net    the internet: a bridge, 203.0.113.2 the reflector
                        (its HTTPS front, a redis-server and two workers)
    exl-<lab>-rx-boxN   practice N's box: WAN 203.0.113.1N, NAT (masquerade)
                        and one port forward set by hand (iptables DNAT):
                        public 800N -> the LAN host's nginx on 80
    exl-<lab>-rx-lanN   practice N's LAN host, 198.18.10N.10, running nginx
                        (a page naming a canary patient: it must never reach
                        a report) and the reflector's client

Practice 1 also has IPv6: its box routes 2001:db8:ca01::/56 (no NAT, no
inbound filter), the LAN host has 2001:db8:ca01:1::10 and a second device
address ::20; the reflector has 2001:db8:ffff::2.

Each practice asks the reflector from its LAN host; the box's NAT makes the
request come from its own public address, which is what the reflector scans
back.  Everything stays inside the namespaces (198.18.0.0/15, 203.0.113.0/24);
no namespace has a route to the machine's own interfaces.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from . import netns, procs
from . import topology as t

NET = "rx-net"
REFLECTOR_IP = "203.0.113.2"
REFLECTOR_IP6 = "2001:db8:ffff::2"
REFLECTOR_PORT = 8443
#: The contractor's hub (exposcan hub serve), on the same internet host.
HUB_IP = "203.0.113.60"
HUB_PORT = 8443
REDIS_URL = "redis://127.0.0.1:6379/0"
WAN_SOURCES = "203.0.113.0/24,2001:db8::/32"
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Practice:
    number: int

    @property
    def box(self) -> str:
        return f"rx-box{self.number}"

    @property
    def lan(self) -> str:
        return f"rx-lan{self.number}"

    @property
    def public_ip(self) -> str:
        return f"203.0.113.{10 + self.number}"

    @property
    def box_lan_ip(self) -> str:
        return f"198.18.{100 + self.number}.1"

    @property
    def host_ip(self) -> str:
        return f"198.18.{100 + self.number}.10"

    @property
    def public_port(self) -> int:
        return 8000 + self.number

    # IPv6, practice 1 only: its box routes the /56 its provider delegates
    # (no NAT66, no inbound filter), as French boxes do (docs/imaging-exposure.md, IPv6).
    @property
    def ipv6(self) -> bool:
        return self.number == 1

    @property
    def box_wan_ip6(self) -> str:
        return f"2001:db8:ffff::1{self.number}"

    @property
    def prefix56(self) -> str:
        return f"2001:db8:ca0{self.number}::/56"

    @property
    def box_lan_ip6(self) -> str:
        return f"2001:db8:ca0{self.number}:1::1"

    @property
    def host_ip6(self) -> str:
        return f"2001:db8:ca0{self.number}:1::10"

    @property
    def device_ip6(self) -> str:
        """A second device of the practice (a second address of the LAN
        host, deprecated so that it is never the source of a request)."""
        return f"2001:db8:ca0{self.number}:1::20"


PRACTICES = tuple(Practice(n) for n in (1, 2, 3))


class PracticesError(RuntimeError):
    pass


def _missing() -> list[str]:
    needed = ["/usr/sbin/nginx", "/usr/bin/redis-server", "/usr/sbin/iptables-legacy"]
    missing = [p for p in needed if not Path(p).exists()]
    if os.geteuid() != 0:
        missing.append("root")
    return missing


class Practices:
    """Bring up with :meth:`up`, tear down with :meth:`down` (idempotent)."""

    def __init__(self, name: str, workers: int = 2, max_jobs: int = 1) -> None:
        self.name = name
        self.workers = workers
        self.max_jobs = max_jobs
        self.dir = Path(t.RUNTIME_ROOT) / f"{name}-practices"
        self.records: list[procs.ProcRecord] = []
        self._popen: list[subprocess.Popen[bytes]] = []
        self.token = ""  # the first practice's
        #: One token per practice: the reflector runs one scan at a time per token.
        self.tokens: list[str] = []
        self.timings: dict[str, float] = {}

    # -- names ------------------------------------------------------------

    def token_file(self, practice: Practice) -> Path:
        """The practice's own token (mode 0600)."""
        return self.dir / f"token-{practice.lan}"

    def ns(self, role: str) -> str:
        return t.netns_name(self.name, role)

    def roles(self) -> list[str]:
        return [NET] + [r for p in PRACTICES for r in (p.box, p.lan)]

    @property
    def url(self) -> str:
        return f"https://{REFLECTOR_IP}:{REFLECTOR_PORT}"

    @property
    def url6(self) -> str:
        return f"https://[{REFLECTOR_IP6}]:{REFLECTOR_PORT}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    # -- up ---------------------------------------------------------------

    @classmethod
    def up(cls, name: str, workers: int = 2, max_jobs: int = 1) -> Practices:
        missing = _missing()
        if missing:
            raise PracticesError("cannot run the practices lab, missing: " + ", ".join(missing))
        lab = cls(name, workers, max_jobs)
        lab.down()
        try:
            lab._up()
        except BaseException:
            lab.down()
            raise
        return lab

    def _up(self) -> None:
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, mode=0o755)
        os.chmod(t.RUNTIME_ROOT, 0o755)  # noqa: S103 (synthetic data only)
        os.chmod(self.dir, 0o755)  # noqa: S103
        self._network()
        self.timings["network"] = time.monotonic() - t0
        self._files()
        for p in PRACTICES:
            conf = self.dir / p.lan / "nginx.conf"
            self._start(p.lan, "nginx", ["/usr/sbin/nginx", "-c", str(conf), "-e", "stderr"])
        self._start(
            NET,
            "redis",
            ["/usr/bin/redis-server", "--bind", "127.0.0.1", "--port", "6379", "--save", ""],
        )
        self._wait_tcp(NET, "127.0.0.1", 6379)
        # The job key signs jobs and results; Redis never holds it.
        common = ["--redis", REDIS_URL, "--job-key", str(self.dir / "job.key")]
        common += ["--sources", WAN_SOURCES, "-v"]
        for n in range(self.workers):
            # One job at a time each: three practices at once need both workers.
            argv = [*self._exposcan("worker"), *common, "--max-jobs", str(self.max_jobs)]
            self._start(NET, f"worker{n + 1}", argv)
        self._start(
            NET,
            "front",
            [
                *self._exposcan("serve"),
                "--listen",
                f"{REFLECTOR_IP}:{REFLECTOR_PORT}",
                "--listen",
                f"[{REFLECTOR_IP6}]:{REFLECTOR_PORT}",
                "--cert",
                str(self.dir / "cert.pem"),
                "--key",
                str(self.dir / "key.pem"),
                "--tokens",
                str(self.dir / "tokens"),
                *common,
            ],
        )
        self._wait_tcp(NET, REFLECTOR_IP, REFLECTOR_PORT)
        for p in PRACTICES:
            self._wait_tcp(p.lan, p.host_ip, 80)
        self.timings["up"] = time.monotonic() - t0

    def _network(self) -> None:
        ip = netns.ip
        net = self.ns(NET)
        for role in self.roles():
            ip("netns", "add", self.ns(role))
            self._save()
            ip("-n", self.ns(role), "link", "set", "lo", "up")
        ip("-n", net, "link", "add", "br0", "type", "bridge")
        ip("-n", net, "addr", "add", f"{REFLECTOR_IP}/24", "dev", "br0")
        ip("-n", net, "addr", "add", f"{HUB_IP}/24", "dev", "br0")
        ip("-n", net, "-6", "addr", "add", f"{REFLECTOR_IP6}/64", "dev", "br0", "nodad")
        ip("-n", net, "link", "set", "br0", "up")
        for p in PRACTICES:
            box, lan = self.ns(p.box), self.ns(p.lan)
            port = f"p-box{p.number}"
            ip("-n", box, "link", "add", "wan0", "type", "veth", "peer", "name", port, "netns", net)
            ip("-n", net, "link", "set", port, "master", "br0", "up")
            ip("-n", box, "addr", "add", f"{p.public_ip}/24", "dev", "wan0")
            ip("-n", box, "link", "set", "wan0", "up")
            ip(
                "-n",
                box,
                "link",
                "add",
                "lan0",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                lan,
            )
            ip("-n", box, "addr", "add", f"{p.box_lan_ip}/24", "dev", "lan0")
            ip("-n", box, "link", "set", "lan0", "up")
            ip("-n", lan, "addr", "add", f"{p.host_ip}/24", "dev", "eth0")
            ip("-n", lan, "link", "set", "eth0", "up")
            ip("-n", lan, "route", "add", "default", "via", p.box_lan_ip)
            script = (
                "set -e; echo 1 > /proc/sys/net/ipv4/ip_forward; "
                "iptables-legacy -t nat -A POSTROUTING -o wan0 -j MASQUERADE; "
                # The forward set by hand in the box's pages: no UPnP lists it.
                f"iptables-legacy -t nat -A PREROUTING -i wan0 -p tcp --dport {p.public_port} "
                f"-j DNAT --to-destination {p.host_ip}:80; "
                # A rule with no target: it counts every packet the reflector
                # sends this box (what a test reads to prove none came).
                f"iptables-legacy -t raw -A PREROUTING -i wan0 -s {REFLECTOR_IP}"
            )
            netns.run_in(box, ["sh", "-c", script])
            if p.ipv6:
                self._ipv6(p)

    def _ipv6(self, p: Practice) -> None:
        ip = netns.ip
        net, box, lan = self.ns(NET), self.ns(p.box), self.ns(p.lan)
        ip("-n", box, "-6", "addr", "add", f"{p.box_wan_ip6}/64", "dev", "wan0", "nodad")
        ip("-n", box, "-6", "addr", "add", f"{p.box_lan_ip6}/64", "dev", "lan0", "nodad")
        netns.run_in(box, ["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"])
        ip("-n", net, "-6", "route", "add", p.prefix56, "via", p.box_wan_ip6)
        ip("-n", lan, "-6", "addr", "add", f"{p.host_ip6}/64", "dev", "eth0", "nodad")
        argv = ["addr", "add", f"{p.device_ip6}/64", "dev", "eth0", "nodad", "preferred_lft", "0"]
        ip("-n", lan, "-6", *argv)
        ip("-n", lan, "-6", "route", "add", "default", "via", p.box_lan_ip6)

    def _files(self) -> None:
        write_certificate(self.dir, REFLECTOR_IP, REFLECTOR_IP6)
        from exposcan.reflector.signing import make_key
        from exposcan.reflector.tokens import add_token

        make_key(self.dir / "job.key")
        for p in PRACTICES:
            token, _ = add_token(self.dir / "tokens", f"lab practice {p.number}")
            self.tokens.append(token)
            self.token_file(p).write_text(token + "\n")
            os.chmod(self.token_file(p), 0o600)
        self.token = self.tokens[0]
        canary = t.CANARY_STRINGS[0]
        for p in PRACTICES:
            d = self.dir / p.lan
            (d / "www").mkdir(parents=True)
            (d / "nginx-tmp").mkdir()
            (d / "www" / "index.html").write_text(
                f"<html><head><title>Cabinet {p.number} imagerie</title></head>"
                f"<body>Dernier patient : {canary}</body></html>\n"
            )
            (d / "nginx.conf").write_text(
                f"""user nobody nogroup;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/nginx-tmp/body;
    proxy_temp_path {d}/nginx-tmp/proxy;
    fastcgi_temp_path {d}/nginx-tmp/fastcgi;
    uwsgi_temp_path {d}/nginx-tmp/uwsgi;
    scgi_temp_path {d}/nginx-tmp/scgi;
    server {{
        listen {p.host_ip}:80;
        {"listen [::]:80 ipv6only=on;" if p.ipv6 else ""}
        root {d}/www;
    }}
}}
"""
            )
            for path in (d, d / "www", d / "nginx-tmp"):
                os.chmod(path, 0o755)  # noqa: S103 (nginx workers run as nobody)

    def _exposcan(self, command: str) -> list[str]:
        return [sys.executable, "-m", "exposcan", "reflector", command]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        return env

    def _start(self, role: str, service: str, argv: list[str]) -> None:
        log = self.dir / "logs" / f"{role}-{service}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(role), *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=self.env(),
                start_new_session=True,
            )
        self._popen.append(proc)
        ticks = procs.start_ticks(proc.pid) or 0
        self.records.append(procs.ProcRecord(role, service, proc.pid, ticks, str(log)))
        self._save()

    def start_service(self, role: str, service: str, argv: list[str]) -> None:
        """Start one more server in ``role``'s namespace (stopped by :meth:`stop_service`
        or :meth:`down`), and wait for nothing."""
        self._start(role, service, argv)

    def stop_service(self, service: str) -> None:
        mine = [r for r in self.records if r.service == service]
        left = procs.terminate(mine, [])
        if left:
            raise PracticesError(f"{service}: pids {left} survived SIGKILL")

    def wait_tcp(self, role: str, host: str, port: int, seconds: float = 30.0) -> None:
        self._wait_tcp(role, host, port, seconds)

    def _wait_tcp(self, role: str, host: str, port: int, seconds: float = 30.0) -> None:
        code = (
            "import socket,sys,time\n"
            f"end=time.time()+{seconds}\n"
            "while time.time()<end:\n"
            "    try:\n"
            f"        socket.create_connection(({host!r},{port}),0.5).close(); sys.exit(0)\n"
            "    except OSError: time.sleep(0.1)\n"
            "sys.exit(1)\n"
        )
        done = self.run(role, [sys.executable, "-c", code], timeout=seconds + 5)
        if done.returncode != 0:
            logs = "\n".join(procs.log_tail(Path(r.log), 8) for r in self.records)
            raise PracticesError(f"{host}:{port} did not open in {role}:\n{logs}")

    def run(
        self, role: str, argv: Sequence[str], timeout: float = 120.0, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        kw.setdefault("capture_output", True)
        kw.setdefault("env", self.env())
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(role), *argv], text=True, timeout=timeout, **kw
        )

    def packets_from_reflector(self, practice: Practice) -> int:
        """Packets the reflector has sent to ``practice``'s box so far."""
        argv = ["iptables-legacy", "-t", "raw", "-L", "PREROUTING", "-v", "-x", "-n"]
        out = self.run(practice.box, argv).stdout
        return sum(int(line.split()[0]) for line in out.splitlines() if REFLECTOR_IP in line)

    def logs(self, service: str) -> str:
        return "".join(
            Path(r.log).read_text(errors="replace")
            for r in self.records
            if r.service.startswith(service) and Path(r.log).exists()
        )

    # -- down -------------------------------------------------------------

    @property
    def _state(self) -> Path:
        return Path(t.RUNTIME_ROOT) / f"{self.name}-practices.json"

    def _save(self) -> None:
        self._state.parent.mkdir(parents=True, exist_ok=True)
        data = {"processes": [r.to_json() for r in self.records]}
        self._state.write_text(json.dumps(data))

    def down(self) -> None:
        try:
            saved = json.loads(self._state.read_text())
            records = [procs.ProcRecord(**r) for r in saved.get("processes", [])]
        except (OSError, ValueError):
            records = []
        records = records + [r for r in self.records if r not in records]
        names = [self.ns(r) for r in self.roles()]
        present = netns.existing_namespaces()
        ours = [n for n in names if n in present]
        strays = [pid for n in ours for pid in netns.namespace_pids(n)]
        left = procs.terminate(records, strays)
        for proc in self._popen:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2)
        self._popen.clear()
        netns.delete(ours)
        shutil.rmtree(self.dir, ignore_errors=True)
        self._state.unlink(missing_ok=True)
        self.records.clear()
        if left:
            raise PracticesError(f"practices lab {self.name!r}: pids {left} survived SIGKILL")

    def __enter__(self) -> Practices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


def write_certificate(folder: Path, *addresses: str) -> None:
    """A private CA (ca.pem) and the reflector's certificate for ``address``
    (cert.pem, key.pem): a self-hosted reflector's set-up."""
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("exposcan lab CA"))
        .issuer_name(name("exposcan lab CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("reflector.lab"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem))
    (folder / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.chmod(folder / "key.pem", 0o600)
