"""Small jobs the lab runs *inside* a host's namespace.

Python 3.11 has no ``os.setns``, so code that must talk from a given host
(readiness checks from the workstation, Orthanc's local REST API on
127.0.0.1, which Orthanc trusts differently from remote clients) runs as
this script under ``ip netns exec``. Standalone and stdlib only: it must not
import the engine, which may be half-written while the lab runs.

Subcommands (output is one JSON document on stdout):
  wait SPEC_JSON DEADLINE_S    poll checks until all pass or the deadline
  orthanc-load URL FILE...     POST /instances for each file
  orthanc-stats URL            GET /statistics
Options --user/--password add HTTP Basic credentials (orthanc-* only).
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any


def _tcp_ok(host: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, "connected"
    except OSError as e:
        return False, str(e)


def _http_status(url: str, timeout: float) -> tuple[int | None, str]:
    try:
        # Only http:// URLs this module builds from the topology: no S310 risk.
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310
            r.read(65536)  # bounded: never trust a lab server's length
            return int(r.status), "ok"
    except urllib.error.HTTPError as e:
        return int(e.code), str(e)
    except (OSError, ValueError) as e:
        return None, str(e)


def wait(spec: list[dict[str, Any]], deadline_s: float) -> int:
    """Each check: {"name", "kind": "tcp"|"http", "host", "port"} plus for
    http "url" and "status" (the expected code). Checks are retried every
    0.1 s until all pass or the deadline."""
    end = time.monotonic() + deadline_s
    pending = {c["name"]: c for c in spec}
    last: dict[str, str] = {}
    while pending and time.monotonic() < end:
        for name, c in list(pending.items()):
            if c["kind"] == "tcp":
                ok, why = _tcp_ok(c["host"], int(c["port"]), 0.5)
            else:
                code, why = _http_status(c["url"], 1.0)
                ok = code == int(c["status"])
                why = f"HTTP {code}: {why}"
            last[name] = why
            if ok:
                del pending[name]
        if pending:
            time.sleep(0.1)
    json.dump({"ok": not pending, "failed": {n: last.get(n, "") for n in pending}}, sys.stdout)
    return 0 if not pending else 1


def _request(url: str, auth: str | None, data: bytes | None = None) -> Any:
    method = "POST" if data is not None else "GET"
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (our own URLs)
    if data is not None:
        req.add_header("Content-Type", "application/dicom")
    if auth:
        req.add_header("Authorization", f"Basic {auth}")
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        return json.loads(r.read(1 << 20))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("cmd", choices=["wait", "orthanc-load", "orthanc-stats"])
    ap.add_argument("args", nargs="*")
    a = ap.parse_args(argv)
    auth = base64.b64encode(f"{a.user}:{a.password}".encode()).decode() if a.user else None
    if a.cmd == "wait":
        return wait(json.loads(a.args[0]), float(a.args[1]))
    url = a.args[0].rstrip("/")
    if a.cmd == "orthanc-load":
        for f in a.args[1:]:
            with open(f, "rb") as fh:
                _request(f"{url}/instances", auth, fh.read())
    json.dump(_request(f"{url}/statistics", auth), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
