"""The practice lab: bring it up, use it, tear it down.

``Lab.up()`` builds the namespaces (netns.py), renders the server configs of
docker/ into the runtime dir, writes the canary data, starts the real Debian
servers, waits until each answers from the workstation, loads the PACS, and
records everything in ``<runtime dir>/state.json`` as it goes. ``down()``
(also ``Lab.teardown(name)``) works from that file and from the namespace
names alone, so it also cleans a lab left by a crashed process.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from . import canary, netns, procs
from . import topology as t

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,23}$")
_LAB_DIR = Path(__file__).resolve().parent
#: The shared configuration files. EXPOSCAN_LAB_DOCKER_DIR overrides it for an
#: installed (non-editable) exposcan, whose package has no docker/ beside it.
DOCKER_DIR = Path(os.environ.get("EXPOSCAN_LAB_DOCKER_DIR", _LAB_DIR.parent / "docker"))

#: Binaries the lab cannot run without (checked before anything is built).
REQUIRED_BINARIES: tuple[str, ...] = (
    "/usr/sbin/Orthanc",
    "/usr/sbin/smbd",
    "/usr/sbin/vsftpd",
    "/usr/sbin/nginx",
    "/usr/sbin/miniupnpd",
    "/usr/bin/storescp",
    "/usr/bin/dcmqrscp",
    "/usr/bin/wlmscpfs",
    "/usr/bin/storescu",
    "/usr/sbin/iptables-legacy-restore",
    "/usr/sbin/ip6tables-legacy-restore",
    "/usr/sbin/radvd",
)
READY_DEADLINE_S = 20.0


@dataclass(frozen=True)
class LabReflector:
    """Where the lab's reflector answers, and what a client needs to ask it."""

    url: str
    ca_file: Path
    token_file: Path
    #: The same reflector over IPv6, and its certificate's SHA-256 to pin.
    url6: str = ""
    pin_sha256: str = ""


def x509_der(pem: Path) -> bytes:
    """The DER bytes of the first certificate of a PEM file (what a pin hashes)."""
    import base64

    text = pem.read_text()
    body = text.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


class LabError(RuntimeError):
    """The lab could not be brought up (message holds the servers' logs)."""


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise LabError(f"lab name {name!r}: use 1-24 of a-z 0-9 -, starting with a letter or digit")
    return name


def missing_requirements() -> list[str]:
    """What prevents a lab here (empty: a lab can run)."""
    out = [b for b in REQUIRED_BINARIES if not os.access(b, os.X_OK)]
    if os.geteuid() != 0:
        out.insert(0, "root (network namespaces)")
    for plugin in (
        "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
        # libnginx-mod-stream: the PACS's IPv6 relay.
        "/usr/lib/nginx/modules/ngx_stream_module.so",
    ):
        if not os.path.exists(plugin):
            out.append(plugin)
    if importlib.util.find_spec("sqlalchemy") is None:
        out.append("SQLAlchemy (python -m pynetdicom qrscp)")
    if shutil.which("ip") is None:
        out.append("ip (iproute2)")
    return out


class Lab:
    """A running (or being built) lab. Use ``Lab.up()``; ``with`` tears down."""

    def __init__(self, name: str = t.DEFAULT_LAB_NAME) -> None:
        self.name = _check_name(name)
        self.runtime_dir = Path(t.RUNTIME_ROOT) / self.name
        self.namespaces: list[str] = []
        self.processes: list[procs.ProcRecord] = []
        self._popen: list[subprocess.Popen[bytes]] = []
        self.timings: dict[str, float] = {}

    # --- paths and names -------------------------------------------------------

    def netns(self, host: str) -> str:
        if host not in t.NAMESPACE_ROLES:
            raise KeyError(f"no lab host {host!r} (hosts: {', '.join(t.NAMESPACE_ROLES)})")
        return t.netns_name(self.name, host)

    def host_dir(self, host: str) -> Path:
        return self.runtime_dir / host

    @property
    def state_file(self) -> Path:
        return self.runtime_dir / "state.json"

    @property
    def storescp_dir(self) -> Path:
        """Where the modality's storescp writes what it receives: a scan must
        leave it empty (exposcan proves write access by negotiation only)."""
        return self.host_dir(t.MODALITY.name) / "incoming"

    @property
    def nas_share_dir(self) -> Path:
        return self.host_dir(t.NAS.name) / "shares" / t.NAS_GUEST_SHARE

    def ftp_zone(self, host: str = t.FTP.name) -> Path:
        """What vsftpd serves (anon_root, or the named users' local_root)."""
        return self.host_dir(host) / "zone"

    @property
    def web_root(self) -> Path:
        return self.host_dir(t.WEB.name) / "www"

    # --- running things in hosts ------------------------------------------------

    def exec_argv(self, host: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns(host), *argv]

    def run(
        self, host: str, argv: Sequence[str], timeout: float = 60.0, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``host``'s namespace; output captured as text."""
        kw.setdefault("capture_output", True)
        return subprocess.run(self.exec_argv(host, argv), text=True, timeout=timeout, **kw)

    def _inside(self, host: str, *args: str) -> Any:
        p = self.run(host, [sys.executable, str(_LAB_DIR / "inside.py"), *args], timeout=60)
        if p.returncode != 0:
            raise LabError(f"{host}: inside.py {args[0]} failed: {p.stderr.strip()[-2000:]}")
        return json.loads(p.stdout)

    def orthanc_statistics(self, host: str = t.PACS.name) -> dict[str, Any]:
        """Orthanc's /statistics, asked locally (127.0.0.1) in ``host``."""
        port = {
            t.PACS_SECURE.name: t.SECURE_HTTP_PORT,
            t.DICOMWEB.name: t.DICOMWEB_ORTHANC_PORT,
        }.get(host, t.PACS_HTTP_PORT)
        auth = (
            ["--user", t.SECURE_USER, "--password", t.SECURE_PASSWORD]
            if host == t.PACS_SECURE.name
            else []
        )
        stats: dict[str, Any] = self._inside(
            host, *auth, "orthanc-stats", f"http://127.0.0.1:{port}"
        )
        return stats

    def orthanc_instance_count(self, host: str = t.PACS.name) -> int:
        return int(self.orthanc_statistics(host)["CountInstances"])

    # --- state ------------------------------------------------------------------

    def _save(self) -> None:
        state = {
            "name": self.name,
            "runtime_dir": str(self.runtime_dir),
            "namespaces": self.namespaces,
            "processes": [p.to_json() for p in self.processes],
            "python": sys.executable,
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def _load(self) -> None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        self.namespaces = list(state.get("namespaces", []))
        self.processes = [procs.ProcRecord(**p) for p in state.get("processes", [])]

    # --- up -----------------------------------------------------------------------

    @classmethod
    def up(cls, name: str = t.DEFAULT_LAB_NAME) -> Lab:
        missing = missing_requirements()
        if missing:
            raise LabError("cannot run the lab here, missing: " + ", ".join(missing))
        lab = cls(name)
        lab.down()  # a stale lab of the same name (crash, ^C) goes first
        try:
            lab._up()
        except BaseException:
            lab.down()
            raise
        return lab

    def _up(self) -> None:
        t0 = time.monotonic()
        self.runtime_dir.mkdir(parents=True, mode=0o755)
        # Servers drop to "nobody" (smbd guest, nginx workers): every folder
        # on the way to their files must be traversable.
        os.chmod(t.RUNTIME_ROOT, 0o755)  # noqa: S103 (synthetic data only)
        os.chmod(self.runtime_dir, 0o755)  # noqa: S103
        self._save()

        def record_ns(ns: str) -> None:
            self.namespaces.append(ns)
            self._save()

        netns.build(self.name, record_ns)
        self.timings["network"] = time.monotonic() - t0

        self._prepare_files()
        self.timings["files"] = time.monotonic() - t0

        self._configure_box()
        for host, service, argv in self._services():
            self._start(host, service, argv)
        self._wait_ready()
        self._add_forwards()
        self.timings["ready"] = time.monotonic() - t0

        self._load_pacs()
        self._load_qrscp()
        self.timings["up"] = time.monotonic() - t0

    def _render(self, host: str, rel: str) -> Path:
        """Copy docker/<rel> into the host's runtime dir, replacing the one
        token CONFIG_ROOT_TOKEN (/srv/lab) with that dir. Nothing else of the
        shared config changes."""
        src = DOCKER_DIR / rel
        dst = self.host_dir(host) / Path(rel).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(src.read_text().replace(t.CONFIG_ROOT_TOKEN, str(self.host_dir(host))))
        return dst

    def _prepare_files(self) -> None:
        for h in t.HOSTS:
            self.host_dir(h.name).mkdir(parents=True, exist_ok=True)
        for h in t.HOSTS:
            for rel in h.config_files:
                self._render(h.name, rel)
        # Orthanc: its database; the studies it loads once up.
        for h, studies in ((t.PACS, t.PACS_STUDIES), (t.PACS_SECURE, t.SECURE_STUDIES)):
            (self.host_dir(h.name) / "orthanc-db").mkdir()
            canary.write_studies(studies, self.host_dir(h.name) / "canary")
        # Samba: its private state dirs; the two shares.
        nas = self.host_dir(t.NAS.name)
        for d in ("private", "lock", "state", "cache", "run", "ncalrpc", "bind-dns", "log"):
            (nas / "samba" / d).mkdir(parents=True)
        os.chmod(nas / "samba" / "private", 0o700)
        canary.write_tree(t.NAS_IMAGING_FILES, nas / "shares" / t.NAS_GUEST_SHARE, site=3)
        canary.write_tree(t.NAS_PRIVATE_FILES, nas / "shares" / t.NAS_PRIVATE_SHARE, site=3)
        for h in (t.FILES, t.OLDNAS, t.OLDPC, t.ARCHIVES, t.MAC):
            server = self.host_dir(h.name)
            for d in ("private", "lock", "state", "cache", "run", "ncalrpc", "bind-dns", "log"):
                (server / "samba" / d).mkdir(parents=True)
            os.chmod(server / "samba" / "private", 0o700)
        canary.write_deep_share(self.host_dir(t.FILES.name) / "shares" / t.FILES_SHARE)
        canary.write_oldnas_shares(self.host_dir(t.OLDNAS.name) / "shares")
        canary.write_archives_share(self.host_dir(t.ARCHIVES.name) / "shares")
        canary.write_mac_share(self.host_dir(t.MAC.name) / "shares")
        canary.write_tree(
            t.OLDPC_FILES, self.host_dir(t.OLDPC.name) / "shares" / t.OLDPC_SHARE, site=8
        )
        # nginx: temp and log dirs; the autoindex root.
        (self.host_dir(t.WEB.name) / "nginx" / "tmp").mkdir(parents=True)
        canary.write_tree(t.WEB_FILES, self.web_root, site=4)
        (self.host_dir(t.PACS.name) / "nginx-relay").mkdir()
        # storescp: what a scan must never fill (the viewer's too); the
        # archive's (empty) database.
        self.storescp_dir.mkdir(parents=True)
        (self.host_dir(t.VIEWER.name) / "incoming").mkdir(parents=True)
        (self.host_dir(t.ARCHIVE.name) / "qrdb").mkdir(parents=True)
        (self.host_dir(t.QRSCP.name) / "instances").mkdir(parents=True)
        # The twins: the Orthanc's (empty) database, the storescp's folder.
        (self.host_dir(t.TWIN_ORTHANC.name) / "orthanc-db").mkdir()
        (self.host_dir(t.TWIN_SCP.name) / "incoming").mkdir()
        # The honest listing beside the stalled ports.
        (self.host_dir(t.DRIP_LISTING.name) / "nginx" / "tmp").mkdir(parents=True)
        canary.write_export_listing(
            self.host_dir(t.DRIP_LISTING.name) / "www", t.DRIP_LISTING_FILES
        )
        canary.write_studies(t.QRSCP_STUDIES, self.host_dir(t.QRSCP.name) / "canary")
        # wlmscpfs: the RIS's worklist files; the DICOMweb Orthanc's database
        # and its nginx's temp dirs.
        canary.write_worklist(self.host_dir(t.RIS.name) / "worklist")
        (self.host_dir(t.DICOMWEB.name) / "orthanc-db").mkdir()
        (self.host_dir(t.DICOMWEB.name) / "nginx" / "tmp").mkdir(parents=True)
        # vsftpd: an empty secure_chroot_dir, and each zone (root-owned,
        # read-only to the ftp user: vsftpd refuses a writable chroot).
        for h, files in ((t.FTP, t.FTP_FILES), (t.FTP_PRIVATE, t.FTP_PRIVATE_FILES)):
            (self.host_dir(h.name) / "empty").mkdir(mode=0o755)
            canary.write_tree(files, self.ftp_zone(h.name), site=5)
        self._install_resolvers()
        # The internet host's /etc/hosts: the practice's name, A and AAAA.
        hosts = self._resolver_dir(t.INET.name)
        hosts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.host_dir(t.INET.name) / "hosts", hosts / "hosts")
        # miniupnpd reads its lease file at start, deletes it and rewrites it.
        leases = self.host_dir(t.BOX.name) / "miniupnpd" / "leases"
        leases.parent.mkdir(parents=True)
        shutil.copyfile(DOCKER_DIR / "box" / "leases", leases)

    def _resolver_dir(self, host: str) -> Path:
        # `ip netns exec NS` bind-mounts /etc/netns/NS/* over /etc: the one
        # way to give a namespace its own resolv.conf (ip-netns(8)).
        return Path("/etc/netns") / self.netns(host)

    def _install_resolvers(self) -> None:
        """Each host with a resolv.conf in its config files gets it as its
        /etc/resolv.conf, before any of its servers starts."""
        for h in t.HOSTS:
            if any(Path(rel).name == "resolv.conf" for rel in h.config_files):
                target = self._resolver_dir(h.name)
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.host_dir(h.name) / "resolv.conf", target / "resolv.conf")

    def _configure_box(self) -> None:
        box = self.netns(t.BOX.name)
        # /proc/sys/net is per network namespace; no need for procps' sysctl.
        # IPv6 forwarding on and no ip6tables rule: the LAN's global /64 is
        # routed from the internet with no inbound filter (set_ipv6_filter).
        netns.run_in(
            box,
            [
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward; "
                "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
            ],
        )
        rules = (self.host_dir(t.BOX.name) / "iptables.rules").read_text()
        # iptables-legacy: the miniupnpd-iptables build drives the legacy
        # tables through libiptc; rules in nftables would be invisible to it.
        netns.run_in(box, ["iptables-legacy-restore"], stdin=rules)

    def _add_forwards(self) -> None:
        """The box's DNAT rules, only once miniupnpd has read its leases (it
        drops a lease whose port PREROUTING already redirects)."""
        rules = (self.host_dir(t.BOX.name) / "forwards").read_text()
        netns.run_in(self.netns(t.BOX.name), ["iptables-legacy-restore", "--noflush"], stdin=rules)

    def _services(self) -> list[tuple[str, str, list[str]]]:
        d = self.host_dir
        return [
            (t.PACS.name, "orthanc", ["/usr/sbin/Orthanc", str(d(t.PACS.name) / "orthanc.json")]),
            # vsftpd 3.0.3: background=NO in its config keeps it attached.
            (t.FTP.name, "vsftpd", ["/usr/sbin/vsftpd", str(d(t.FTP.name) / "vsftpd.conf")]),
            (
                t.FTP_PRIVATE.name,
                "vsftpd",
                ["/usr/sbin/vsftpd", str(d(t.FTP_PRIVATE.name) / "vsftpd.conf")],
            ),
            (
                t.FTP_PRIVATE.name,
                "vsftpd-implicit",
                ["/usr/sbin/vsftpd", str(d(t.FTP_PRIVATE.name) / "vsftpd-implicit.conf")],
            ),
            (
                t.PACS_SECURE.name,
                "orthanc",
                ["/usr/sbin/Orthanc", str(d(t.PACS_SECURE.name) / "orthanc.json")],
            ),
            # Samba 4.17: -F/--foreground keeps it attached;
            # --no-process-group keeps it (and its children, incl. the
            # on-demand samba-dcerpcd) in the group we kill.
            *(
                (
                    h.name,
                    "smbd",
                    [
                        "/usr/sbin/smbd",
                        "--foreground",
                        "--no-process-group",
                        "--debug-stdout",
                        "--configfile",
                        str(d(h.name) / "smb.conf"),
                    ],
                )
                for h in (t.NAS, t.FILES, t.OLDNAS, t.OLDPC, t.ARCHIVES, t.MAC)
            ),
            (
                t.WEB.name,
                "nginx",
                [
                    "/usr/sbin/nginx",
                    "-c",
                    str(d(t.WEB.name) / "nginx.conf"),
                    "-e",
                    str(d(t.WEB.name) / "nginx" / "error.log"),
                    "-g",
                    "daemon off;",
                ],
            ),
            (t.MODALITY.name, "storescp", self._argv(t.MODALITY.name, t.MODALITY_ARGV)),
            (t.MODALITY.name, "storescp-tls", self._argv(t.MODALITY.name, t.MODALITY_TLS_ARGV)),
            (
                t.MODALITY.name,
                "storescp-tls-open",
                self._argv(t.MODALITY.name, t.MODALITY_TLS_OPEN_ARGV),
            ),
            (t.VIEWER.name, "storescp", self._argv(t.VIEWER.name, t.VIEWER_ARGV)),
            (t.ARCHIVE.name, "dcmqrscp", self._argv(t.ARCHIVE.name, t.ARCHIVE_ARGV)),
            (t.QRSCP.name, "qrscp", [sys.executable, *self._argv(t.QRSCP.name, t.QRSCP_ARGV)]),
            (t.RIS.name, "wlmscpfs", self._argv(t.RIS.name, t.RIS_ARGV)),
            (
                t.DICOMWEB.name,
                "orthanc",
                ["/usr/sbin/Orthanc", str(d(t.DICOMWEB.name) / "orthanc.json")],
            ),
            (
                t.DICOMWEB.name,
                "nginx",
                [
                    "/usr/sbin/nginx",
                    "-c",
                    str(d(t.DICOMWEB.name) / "nginx.conf"),
                    "-e",
                    str(d(t.DICOMWEB.name) / "nginx" / "error.log"),
                    "-g",
                    "daemon off;",
                ],
            ),
            (
                t.TWIN_ORTHANC.name,
                "orthanc",
                ["/usr/sbin/Orthanc", str(d(t.TWIN_ORTHANC.name) / "orthanc.json")],
            ),
            (t.TWIN_SCP.name, "storescp", self._argv(t.TWIN_SCP.name, t.TWIN_SCP_ARGV)),
            (
                t.DRIP_LISTING.name,
                "nginx",
                [
                    "/usr/sbin/nginx",
                    "-c",
                    str(d(t.DRIP_LISTING.name) / "nginx.conf"),
                    "-e",
                    str(d(t.DRIP_LISTING.name) / "nginx" / "error.log"),
                    "-g",
                    "daemon off;",
                ],
            ),
            (
                t.DRIP_LISTING.name,
                "hostile",
                [sys.executable, str(_LAB_DIR / "hostile.py"), *t.DRIP_LISTING_ARGV],
            ),
            (
                t.PACS.name,
                "nginx-relay",
                [
                    "/usr/sbin/nginx",
                    "-c",
                    str(d(t.PACS.name) / "nginx-relay.conf"),
                    "-e",
                    str(d(t.PACS.name) / "nginx-relay" / "error.log"),
                    "-g",
                    "daemon off;",
                ],
            ),
            (
                t.BOX.name,
                "radvd",
                # -n: foreground; its own pid file, logs to stderr (our log).
                [
                    "/usr/sbin/radvd",
                    "-n",
                    "-C",
                    str(d(t.BOX.name) / "radvd.conf"),
                    "-p",
                    str(d(t.BOX.name) / "radvd.pid"),
                    "-m",
                    "stderr",
                ],
            ),
            (
                t.DNS.name,
                "resolver",
                [sys.executable, str(_LAB_DIR / "resolver.py"), *t.RESOLVER_ARGV],
            ),
            (
                t.JUNK.name,
                "hostile",
                [
                    sys.executable,
                    str(_LAB_DIR / "hostile.py"),
                    "--tarpit",
                    str(t.HOSTILE_TARPIT_PORT),
                    "--spew",
                    str(t.HOSTILE_SPEW_PORT),
                    "--dicom",
                    str(t.HOSTILE_DICOM_PORT),
                    "--http",
                    str(t.HOSTILE_HTTP_PORT),
                ],
            ),
            (
                t.HOSTILE.name,
                "hostile",
                [
                    sys.executable,
                    str(_LAB_DIR / "hostile.py"),
                    *t.HOSTILE_ARGV,
                ],
            ),
            *(
                (
                    h.name,
                    "hostile",
                    [
                        sys.executable,
                        str(_LAB_DIR / "hostile.py"),
                        *(a.replace(t.CONFIG_ROOT_TOKEN, str(d(h.name))) for a in argv),
                    ],
                )
                for h, argv in ((t.HOSTILE2, t.HOSTILE2_ARGV), (t.HOSTILE3, t.HOSTILE3_ARGV))
            ),
            (
                t.BOX.name,
                "miniupnpd",
                # -d: foreground, log to stderr; -P: a pid file of this lab's
                # own, not /run/miniupnpd.pid shared by every lab.
                [
                    "/usr/sbin/miniupnpd",
                    "-d",
                    "-f",
                    str(d(t.BOX.name) / "miniupnpd.conf"),
                    "-P",
                    str(d(t.BOX.name) / "miniupnpd" / "miniupnpd.pid"),
                ],
            ),
        ]

    def _argv(self, host: str, argv: Sequence[str]) -> list[str]:
        return [a.replace(t.CONFIG_ROOT_TOKEN, str(self.host_dir(host))) for a in argv]

    def _start(self, host: str, service: str, argv: list[str]) -> None:
        log = self.host_dir(host) / f"{service}.log"
        p = procs.spawn(self.netns(host), argv, log, cwd=self.host_dir(host))
        self._popen.append(p)
        ticks = procs.start_ticks(p.pid) or 0
        self.processes.append(procs.ProcRecord(host, service, p.pid, ticks, str(log)))
        self._save()

    def _ready_checks(self) -> list[dict[str, Any]]:
        checks: list[dict[str, Any]] = [
            {
                "name": "pacs REST",
                "kind": "http",
                "status": 200,
                "url": f"http://{t.PACS.ip}:{t.PACS_HTTP_PORT}/system",
            },
            {
                "name": "pacs-secure REST",
                "kind": "http",
                "status": 401,
                "url": f"http://{t.PACS_SECURE.ip}:{t.SECURE_HTTP_PORT}/system",
            },
            {"name": "web", "kind": "http", "status": 200, "url": f"http://{t.WEB.ip}/"},
            {
                "name": "dicomweb REST",
                "kind": "http",
                "status": 200,
                "url": f"http://{t.DICOMWEB.ip}:{t.DICOMWEB_HTTP_PORT}/system",
            },
            {"name": "box IGD", "kind": "http", "status": 200, "url": t.IGD_ROOTDESC_URL},
        ]
        # Not the viewer: a connection costs it a 15 s look-up, during which
        # it serves nobody (the scan would queue behind the readiness check):
        # its port is checked in its own kernel instead (_wait_listening).
        for h in (
            t.PACS,
            t.PACS_SECURE,
            t.WEB,
            t.NAS,
            t.FILES,
            t.OLDNAS,
            t.OLDPC,
            t.MODALITY,
            t.ARCHIVE,
            t.QRSCP,
            t.RIS,
            t.DICOMWEB,
            t.FTP,
            t.FTP_PRIVATE,
            t.JUNK,
            t.HOSTILE,
            t.HOSTILE2,
            t.HOSTILE3,
            t.TWIN_ORTHANC,
            t.TWIN_SCP,
            t.DRIP_LISTING,
        ):
            for port in h.tcp_ports:
                checks.append(
                    {"name": f"{h.name}:{port}", "kind": "tcp", "host": str(h.ip), "port": port}
                )
        # Over IPv6 once the announcements gave the addresses (ws's too).
        ipv6_ports = ((t.PACS, t.PACS_RELAY_PORTS), (t.NAS, t.SMB_PORTS[:1]))
        for h, ports in ipv6_ports:
            address = t.global_ipv6(h)
            for port in ports:
                checks.append(
                    {
                        "name": f"{h.name} v6:{port}",
                        "kind": "tcp",
                        "host": str(address),
                        "port": port,
                    }
                )
        return checks

    def _service_of(self, check: str) -> procs.ProcRecord | None:
        host = re.split(r"[ :]", check)[0]
        host = {"web": t.WEB.name, "box": t.BOX.name}.get(host, host)
        return next((p for p in self.processes if p.host == host), None)

    def _wait_ready(self) -> None:
        """Wait (bounded) until every service answers from the workstation;
        stop early if a server died. On failure the error carries the log
        tail of each server concerned."""
        spec = json.dumps(self._ready_checks())
        argv = self.exec_argv(
            t.WS.name,
            [sys.executable, str(_LAB_DIR / "inside.py"), "wait", spec, str(READY_DEADLINE_S)],
        )
        waiter = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        dead: list[procs.ProcRecord] = []
        while waiter.poll() is None:
            dead = [p for p in self.processes if not procs.is_alive(p.pid, p.start_ticks)]
            if dead:
                waiter.kill()
                break
            time.sleep(0.1)
        out, err = waiter.communicate(timeout=10)
        if not dead and waiter.returncode == 0:
            self._wait_listening(t.VIEWER.name, t.VIEWER_PORT)
            return
        failed: dict[str, str] = {}
        if out.strip():
            failed = json.loads(out).get("failed", {})
        concerned = set(dead)
        for check in failed:
            rec = self._service_of(check)
            if rec is not None:
                concerned.add(rec)
        lines = [f"lab {self.name!r} did not come up (waited at most {READY_DEADLINE_S:.0f} s)"]
        lines += [f"  server exited: {p.host}/{p.service} (pid {p.pid})" for p in dead]
        lines += [f"  no answer: {c}: {why}" for c, why in failed.items()]
        if err.strip():
            lines.append(f"  readiness check: {err.strip()[-1000:]}")
        for p in sorted(concerned, key=lambda r: r.pid):
            lines.append(f"--- {p.host}/{p.service} log tail ({p.log}) ---")
            lines.append(procs.log_tail(Path(p.log)))
        raise LabError("\n".join(lines))

    def _wait_listening(self, host: str, port: int) -> None:
        """Until ``host``'s kernel lists a listening socket on ``port``
        (``ss``, not a connection: see _ready_checks)."""
        end = time.monotonic() + READY_DEADLINE_S
        while time.monotonic() < end:
            out = self.run(host, ["ss", "-Hltn", f"sport = :{port}"], timeout=10).stdout
            if out.strip():
                return
            time.sleep(0.1)
        rec = next((p for p in self.processes if p.host == host), None)
        tail = procs.log_tail(Path(rec.log)) if rec else ""
        raise LabError(f"{host}:{port} not listening after {READY_DEADLINE_S:.0f} s\n{tail}")

    def _load_pacs(self) -> None:
        """POST the canary studies to each Orthanc from 127.0.0.1 in its own
        namespace (Orthanc trusts the local side; the secure one still wants
        its credentials), both at once."""
        jobs = []
        for h, port, auth, expected in (
            (t.PACS, t.PACS_HTTP_PORT, [], t.EXPECTED_PACS_INSTANCES),
            (
                t.PACS_SECURE,
                t.SECURE_HTTP_PORT,
                ["--user", t.SECURE_USER, "--password", t.SECURE_PASSWORD],
                t.EXPECTED_SECURE_INSTANCES,
            ),
        ):
            files = sorted(str(f) for f in (self.host_dir(h.name) / "canary").glob("*.dcm"))
            argv = self.exec_argv(
                h.name,
                [
                    sys.executable,
                    str(_LAB_DIR / "inside.py"),
                    *auth,
                    "orthanc-load",
                    f"http://127.0.0.1:{port}",
                    *files,
                ],
            )
            jobs.append(
                (
                    h,
                    expected,
                    subprocess.Popen(
                        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                    ),
                )
            )
        for h, expected, job in jobs:
            out, err = job.communicate(timeout=60)
            if job.returncode != 0:
                raise LabError(f"loading {h.name} failed: {err.strip()[-2000:]}")
            count = int(json.loads(out)["CountInstances"])
            if count != expected:
                raise LabError(f"{h.name} holds {count} instances, expected {expected}")

    # --- the box's IPv6 firewall (the negative case) ------------------------------

    def set_ipv6_filter(self, on: bool) -> None:
        """Turn the box's inbound IPv6 filter on (docker/box/ip6tables.rules)
        or off (no rule: the lab's default)."""
        no_filter = "*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\nCOMMIT\n"
        rules = (self.host_dir(t.BOX.name) / "ip6tables.rules").read_text() if on else no_filter
        netns.run_in(self.netns(t.BOX.name), ["ip6tables-legacy-restore"], stdin=rules)

    def _load_qrscp(self) -> None:
        """C-STORE the qrscp host's canary studies from its own loopback
        (dcmtk storescu), then check its database holds them all."""
        host = t.QRSCP.name
        files = sorted(str(f) for f in (self.host_dir(host) / "canary").glob("*.dcm"))
        argv = ["storescu", "-aec", t.QRSCP_AET, "127.0.0.1", str(t.QRSCP_PORT), *files]
        p = self.run(host, argv, timeout=60)
        stored = list((self.host_dir(host) / "instances").rglob("*"))
        if p.returncode != 0 or sum(1 for f in stored if f.is_file()) != len(files):
            raise LabError(f"loading {host} failed: {p.stderr.strip()[-2000:]}")

    # --- a change in the practice (cron audit tests) ------------------------------

    EXTRA_EXPOSURE = "storescp-extra"

    def start_extra_exposure(
        self, host: str = t.WEB.name, port: int = t.MODALITY_PORT
    ) -> tuple[str, int]:
        """A new exposure appears: a second storescp (anyone may send images)
        on ``host``:``port``, a (rule, host, port) no finding had before.
        Recorded in the lab state, so ``down`` kills it; returns its address."""
        incoming = self.host_dir(host) / "incoming-extra"
        incoming.mkdir(parents=True, exist_ok=True)
        argv = [
            a.replace(f"{t.CONFIG_ROOT_TOKEN}/incoming", str(incoming))
            for a in t.STORESCP_ARGV[:-1]
        ] + [str(port)]
        self._start(host, self.EXTRA_EXPOSURE, argv)
        ip = str(t.HOSTS_BY_NAME[host].ip)
        spec = json.dumps([{"name": f"{host}:{port}", "kind": "tcp", "host": ip, "port": port}])
        p = self.run(
            t.WS.name,
            [sys.executable, str(_LAB_DIR / "inside.py"), "wait", spec, str(READY_DEADLINE_S)],
            timeout=READY_DEADLINE_S + 10,
        )
        if p.returncode != 0:
            log = self.host_dir(host) / f"{self.EXTRA_EXPOSURE}.log"
            raise LabError(
                f"extra storescp on {ip}:{port} not up: {p.stdout.strip()}\n" + procs.log_tail(log)
            )
        return ip, port

    def stop_extra_exposure(self) -> None:
        """The exposure is fixed again (by pid: only the process we started)."""
        mine = [p for p in self.processes if p.service == self.EXTRA_EXPOSURE]
        if not mine:
            return
        left = procs.terminate(mine, [])
        for popen in [p for p in self._popen if p.pid in {r.pid for r in mine}]:
            popen.wait(timeout=5)
            self._popen.remove(popen)
        self.processes = [p for p in self.processes if p.service != self.EXTRA_EXPOSURE]
        self._save()
        if left:
            raise LabError(f"extra exposure pids {left} survived SIGKILL")

    # --- the reflector on the lab internet -------------------------------

    REFLECTOR = "reflector"

    def start_reflector(self) -> LabReflector:
        """``exposcan reflector serve`` on the internet host (in-process jobs),
        with a private CA and a token of its own: one on its IPv4 address
        (sources: the lab internet), one on its IPv6 address (sources: the
        lab's 2001:db8::/32), as a reflector reached over IPv6 scans the
        IPv6 addresses a request names. Recorded in the lab state, so
        ``down`` stops them; works on a lab brought up by another process
        (``python -m exposcan_lab reflector``)."""
        from exposcan.reflector.tokens import add_token

        from .practices import write_certificate  # cryptography: only when asked

        if not self.processes:
            self._load()
        folder = self.host_dir(t.INET.name) / self.REFLECTOR
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "cert.pem").exists():
            write_certificate(folder, str(t.INET_IP))
            token, _ = add_token(folder / "tokens", "lab workstation")
            fd = os.open(folder / "token", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(token + "\n")
        der = x509_der(folder / "cert.pem")
        info = LabReflector(
            url=f"https://{t.INET_IP}:{t.REFLECTOR_PORT}/",
            ca_file=folder / "ca.pem",
            token_file=folder / "token",
            url6=f"https://[{t.INET_IP6}]:{t.REFLECTOR_PORT}/",
            # The certificate names the IPv4 address: over IPv6 it is pinned.
            pin_sha256=hashlib.sha256(der).hexdigest(),
        )
        for service, address, sources in (
            (self.REFLECTOR, str(t.INET_IP), str(t.WAN_NET)),
            (self.REFLECTOR + "6", str(t.INET_IP6), "2001:db8::/32"),
        ):
            if any(p.service == service for p in self.processes):
                continue
            listen = f"[{address}]" if ":" in address else address
            argv = [
                # The reflector is exposcan itself: importable from this checkout.
                "env",
                f"PYTHONPATH={_LAB_DIR.parent}",
                sys.executable,
                "-m",
                "exposcan",
                "reflector",
                "serve",
                "--listen",
                f"{listen}:{t.REFLECTOR_PORT}",
                "--cert",
                str(folder / "cert.pem"),
                "--key",
                str(folder / "key.pem"),
                "--tokens",
                str(folder / "tokens"),
                # The lab's internet is a test range: served explicitly.
                "--sources",
                sources,
            ]
            self._start(t.INET.name, service, argv)
            spec = json.dumps(
                [{"name": service, "kind": "tcp", "host": address, "port": t.REFLECTOR_PORT}]
            )
            p = self.run(
                t.INET.name,
                [sys.executable, str(_LAB_DIR / "inside.py"), "wait", spec, str(READY_DEADLINE_S)],
                timeout=READY_DEADLINE_S + 10,
            )
            if p.returncode != 0:
                log = self.host_dir(t.INET.name) / f"{service}.log"
                raise LabError(
                    f"the reflector did not come up: {p.stdout.strip()}\n" + procs.log_tail(log)
                )
        return info

    HUB = "hub"
    HUB_PORT = 8444
    HUB_STAFF = ("lab", "lab staff password")

    def start_hub(self, sites: tuple[str, ...] = ("cabinet-lab",)) -> dict[str, str]:
        """``exposcan hub serve`` on the internet host (SQLite in its folder,
        a private CA), a staff account and one site per name; returns the
        environment a ``scan --hub`` needs (URL, CA file, token file of the
        first site). Recorded in the lab state, so ``down`` stops it."""
        from .practices import write_certificate  # cryptography: only when asked

        if not self.processes:
            self._load()
        folder = self.host_dir(t.INET.name) / self.HUB
        db = folder / "hub.sqlite3"
        exposcan = ["env", f"PYTHONPATH={_LAB_DIR.parent}", sys.executable, "-m", "exposcan"]
        if not (folder / "cert.pem").exists():
            folder.mkdir(parents=True, exist_ok=True)
            write_certificate(folder, str(t.INET_IP))
            for site in sites:
                made = self.run(
                    t.INET.name, [*exposcan, "hub", "add-site", "--db", str(db), site], timeout=60
                )
                if made.returncode != 0:
                    raise LabError(f"hub add-site {site}: {made.stderr.strip()}")
                path = folder / f"{site}.token"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(made.stdout.strip() + "\n")
            user, password = self.HUB_STAFF
            made = self.run(
                t.INET.name,
                [*exposcan, "hub", "add-user", "--db", str(db), user],
                timeout=60,
                input=password + "\n",
            )
            if made.returncode != 0:
                raise LabError(f"hub add-user: {made.stderr.strip()}")
        if not any(p.service == self.HUB for p in self.processes):
            argv = [*exposcan, "hub", "serve", "--db", str(db)]
            argv += ["--listen", f"{t.INET_IP}:{self.HUB_PORT}"]
            argv += ["--cert", str(folder / "cert.pem"), "--key", str(folder / "key.pem")]
            self._start(t.INET.name, self.HUB, argv)
            spec = json.dumps(
                [{"name": self.HUB, "kind": "tcp", "host": str(t.INET_IP), "port": self.HUB_PORT}]
            )
            p = self.run(
                t.INET.name,
                [sys.executable, str(_LAB_DIR / "inside.py"), "wait", spec, str(READY_DEADLINE_S)],
                timeout=READY_DEADLINE_S + 10,
            )
            if p.returncode != 0:
                log = self.host_dir(t.INET.name) / f"{self.HUB}.log"
                raise LabError(
                    f"the hub did not come up: {p.stdout.strip()}\n" + procs.log_tail(log)
                )
        return {
            "EXPOSCAN_HUB": f"https://{t.INET_IP}:{self.HUB_PORT}/",
            "EXPOSCAN_HUB_CA": str(folder / "ca.pem"),
            "EXPOSCAN_HUB_TOKEN_FILE": str(folder / f"{sites[0]}.token"),
        }

    def hub_sites(self) -> list[dict[str, Any]]:
        """The lab hub's ``GET /api/v1/sites``, asked from the internet host."""
        folder = self.host_dir(t.INET.name) / self.HUB
        code = (
            "import base64,ssl,sys,urllib.request\n"
            "ctx=ssl.create_default_context(cafile=sys.argv[2])\n"
            "req=urllib.request.Request(sys.argv[1])\n"
            "req.add_header('Authorization','Basic '+sys.argv[3])\n"
            "print(urllib.request.urlopen(req,context=ctx,timeout=30).read().decode())\n"
        )
        user, password = self.HUB_STAFF
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        url = f"https://{t.INET_IP}:{self.HUB_PORT}/api/v1/sites"
        p = self.run(
            t.INET.name,
            [sys.executable, "-c", code, url, str(folder / "ca.pem"), basic],
            timeout=60,
        )
        if p.returncode != 0:
            raise LabError(f"the hub did not answer: {p.stderr.strip()[-400:]}")
        sites: list[dict[str, Any]] = json.loads(p.stdout)
        return sites

    # --- status and down -----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What of this lab exists now (works on a lab started elsewhere)."""
        if not self.processes:
            self._load()
        present = netns.existing_namespaces()
        expected = [self.netns(r) for r in t.NAMESPACE_ROLES]
        return {
            "name": self.name,
            "runtime_dir": str(self.runtime_dir) if self.runtime_dir.exists() else None,
            "namespaces": {n: n in present for n in expected},
            "processes": [
                {
                    "host": p.host,
                    "service": p.service,
                    "pid": p.pid,
                    "alive": procs.is_alive(p.pid, p.start_ticks),
                }
                for p in self.processes
            ],
        }

    def down(self) -> None:
        """Idempotent and total: our processes (by pid and process group),
        anything else left in our namespaces, the namespaces, the runtime dir.
        """
        t0 = time.monotonic()
        self._load()
        names = [t.netns_name(self.name, r) for r in t.NAMESPACE_ROLES]
        present = netns.existing_namespaces()
        ours = [n for n in names if n in present]
        strays = [pid for n in ours for pid in netns.namespace_pids(n)]
        left = procs.terminate(self.processes, strays)
        for p in self._popen:  # reap our own children (no zombies, no warnings)
            if p.poll() is None:
                try:
                    p.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=2)
        self._popen.clear()
        netns.delete(ours)
        # A second look: a process that was still starting when we listed.
        present = netns.existing_namespaces()
        leftover_ns = [n for n in names if n in present]
        if leftover_ns:
            procs.terminate([], [pid for n in leftover_ns for pid in netns.namespace_pids(n)])
            netns.delete(leftover_ns)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        for role in t.NAMESPACE_ROLES:
            shutil.rmtree(Path("/etc/netns") / t.netns_name(self.name, role), ignore_errors=True)
        self.namespaces.clear()
        self.processes.clear()
        self.timings["down"] = time.monotonic() - t0
        if left:
            raise LabError(f"lab {self.name!r}: pids {left} survived SIGKILL")

    @classmethod
    def teardown(cls, name: str = t.DEFAULT_LAB_NAME) -> None:
        cls(name).down()

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()
