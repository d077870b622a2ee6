"""The wheel is what users get: built, installed with pipx outside the tree,
with no environment variable, it must scan (issue: a wheel that works)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_listed_packages_are_the_tree() -> None:
    # Given the packages pyproject lists (listed because probes/ is mapped in)
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    # Then they are every package folder of exposcan/, plus the catalogue
    found = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "exposcan").rglob("__init__.py")
    }
    assert listed == found | {"exposcan.probes"}


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><title>hello</title></html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.timeout(600)
def test_wheel_installed_with_pipx_scans_loopback(tmp_path: Path) -> None:
    # Given the wheel, built from a copy of the tree as a release would be
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("exposcan-*.whl")
    shutil.rmtree(REPO / "build", ignore_errors=True)
    # When pipx installs it in a home of its own, with no EXPOSCAN_* variable
    home = tmp_path / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EXPOSCAN_", "PYTHON", "VIRTUAL_ENV"))
    }
    env |= {
        "HOME": str(home),
        "PIPX_HOME": str(home / "pipx"),
        "PIPX_BIN_DIR": str(home / "bin"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    pipx = subprocess.run(
        [sys.executable, "-m", "pipx", "install", str(wheel)],
        capture_output=True,
        text=True,
        timeout=480,
        env=env,
        cwd=tmp_path,
    )
    assert pipx.returncode == 0, pipx.stdout + pipx.stderr
    exposcan = home / "bin" / "exposcan"
    # Then the command runs from the installed copy, outside the source tree
    version = subprocess.run(
        [str(exposcan), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert version.returncode == 0 and version.stdout.startswith("exposcan "), version.stderr
    where = subprocess.run(
        [
            str(home / "pipx" / "venvs" / "exposcan" / "bin" / "python"),
            "-c",
            "import exposcan, exposcan.catalogue as c; "
            "print(exposcan.__file__); print(c.catalogue_dir())",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    module, catalogue = where.stdout.split()
    assert str(REPO) not in module and str(REPO) not in catalogue
    # And the practice lab is not part of the product
    lab = subprocess.run(
        [str(home / "pipx" / "venvs" / "exposcan" / "bin" / "python"), "-c", "import exposcan_lab"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert lab.returncode == 1 and "ModuleNotFoundError" in lab.stderr
    # And a loopback scan of a web server finds it and writes a valid report
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        out = tmp_path / "r.json"
        scan = subprocess.run(
            [
                str(exposcan),
                "scan",
                "127.0.0.1",
                "-p",
                str(port),
                "-q",
                "--db",
                str(tmp_path / "h.db"),
                "-o",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=tmp_path,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert scan.returncode == 0, scan.stdout + scan.stderr
    report = json.loads(out.read_text())
    ports = [
        (h["address"], s["port"], s["protocol"]) for h in report["hosts"] for s in h["services"]
    ]
    assert ("127.0.0.1", port, "http") in ports, ports
