"""A throw-away PostgreSQL cluster for the hub's tests and bench.

Debian's ``postgresql`` 15 binaries (``initdb``, ``pg_ctl``), run as an
unprivileged user (PostgreSQL refuses to run as root; as root we switch to
``nobody``), with trust authentication on a unix socket in the cluster's
own folder only (``listen_addresses=''``: no TCP port at all), torn down and
deleted after. Nothing touches the machine's own clusters.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "nobody"


class PostgresError(RuntimeError):
    pass


def available() -> str | None:
    """None when a cluster can be made here, else what is missing."""
    if not (PG_BIN / "initdb").exists():
        return "PostgreSQL 15 (Debian package postgresql-15)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser"
    return None


def _as_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", USER, "--", *argv]
    return argv


@dataclass
class Cluster:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def url(self, database: str = "postgres") -> str:
        user = USER if os.geteuid() == 0 else os.environ.get("USER", "postgres")
        return f"postgresql://{user}@/{database}?host={quote(str(self.socket_dir), safe='/')}"

    @classmethod
    def start(cls) -> Cluster:
        missing = available()
        if missing:
            raise PostgresError(f"cannot make a PostgreSQL cluster, missing: {missing}")
        root = Path(tempfile.mkdtemp(prefix="exposcan-pg-"))
        cluster = cls(root)
        try:
            cluster.socket_dir.mkdir()
            if os.geteuid() == 0:
                os.chmod(root, 0o755)  # noqa: S103 (runuser must reach its folders)
                shutil.chown(root, USER)
                shutil.chown(cluster.socket_dir, USER)
            cluster._run(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(cluster.data),
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            )
            options = (
                f"-c listen_addresses='' -c unix_socket_directories={cluster.socket_dir} "
                "-c fsync=off"
            )
            cluster._run(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(cluster.data),
                    "-l",
                    str(root / "log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(
            _as_user(argv), capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise PostgresError(
                f"{Path(argv[0]).name} failed: {(done.stderr or done.stdout)[-800:]}"
            )

    def createdb(self, name: str) -> str:
        self._run([str(PG_BIN / "createdb"), "-h", str(self.socket_dir), name])
        return self.url(name)

    def log(self) -> str:
        try:
            return (self.root / "log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                _as_user(
                    [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
