"""Headless Chromium for the report tests, over the DevTools protocol on a pipe.

Debian's ``chromium`` with ``--remote-debugging-pipe``: commands are JSON
objects separated by NUL, written to the browser's fd 3, answers and events
read from its fd 4. No port is opened. The browser only ever opens file://
URLs, and it runs in an empty network namespace (``unshare --net``, root)
when it can: even a background request of its own has nowhere to go. The
flags below turn its background traffic off besides, and a proxy on a dead
loopback port plus a resolver that finds nothing catch anything left.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _isolated() -> list[str]:
    """``unshare --net`` when we may make namespaces (root): no network at all."""
    unshare = shutil.which("unshare")
    if unshare and os.geteuid() == 0:
        probe = subprocess.run([unshare, "--net", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [unshare, "--net", "--"]
    return []


@dataclass
class Page:
    url: str
    #: Console messages, uncaught exceptions and browser log entries
    #: (CSP violations, failed loads), as (level, text).
    messages: list[tuple[str, str]] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [text for level, text in self.messages if level == "error"]


class Browser:
    def __init__(self, timeout: float = 30.0) -> None:
        path = chromium_path()
        if path is None:
            raise RuntimeError("chromium is not installed (scripts/install-deps.sh)")
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="exposcan-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()
        # The child's ends go above 10 first, so that making them fds 3 and 4
        # cannot overwrite one with the other.
        for_child = []
        for fd in (cmd_r, res_w):
            for_child.append(fcntl.fcntl(fd, fcntl.F_DUPFD, 10))
            os.close(fd)
        cmd_r, res_w = for_child
        # bash, not sh: dash only redirects single-digit descriptors.
        argv = [
            *_isolated(),
            "bash",
            "-c",
            f'exec "$@" 3<&{cmd_r} 4>&{res_w}',
            "bash",
            path,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self._profile.name}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            argv,
            pass_fds=(cmd_r, res_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(cmd_r)
        os.close(res_w)
        self._buf = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    # -- the pipe ---------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})  # type: ignore[no-any-return]
            self._events.append(answer)

    def _wait_event(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, ev in enumerate(self._events):
                if ev.get("method") == method and ev.get("sessionId") == session:
                    del self._events[i]
                    return
            self._events.append(self._read_message(deadline))

    # -- pages ------------------------------------------------------------------

    def open(self, path: Path, width: int = 1100, height: int = 1000) -> tuple[Page, str]:
        """Load a local file; return its console record and the session id."""
        url = path.resolve().as_uri()
        assert url.startswith("file://")  # never a network page
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self.send("Page.navigate", {"url": url}, session=session)
        self._wait_event("Page.loadEventFired", session)
        # One round trip more: late console messages are queued before its answer.
        self.send("Runtime.evaluate", {"expression": "1"}, session=session)
        page = Page(url)
        for ev in self._events:
            if ev.get("sessionId") != session:
                continue
            params = ev.get("params", {})
            if ev.get("method") == "Runtime.consoleAPICalled":
                level = "error" if params["type"] in ("error", "assert") else params["type"]
                text = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
                page.messages.append((level, text))
            elif ev.get("method") == "Runtime.exceptionThrown":
                page.messages.append(("error", json.dumps(params["exceptionDetails"])[:500]))
            elif ev.get("method") == "Log.entryAdded":
                entry = params["entry"]
                page.messages.append((entry["level"], f"{entry['source']}: {entry['text']}"))
        return page, session

    def text(self, session: str, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
        )
        return result["result"].get("value")

    def screenshot(self, session: str, out: Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            params |= {
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": size["height"],
                    "scale": 1,
                },
            }
        data = self.send("Page.captureScreenshot", params, session=session)["data"]
        out.write_bytes(base64.b64decode(data))
        return out

    def pdf(self, session: str, out: Path) -> Path:
        data = self.send(
            "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True}, session=session
        )["data"]
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._res_r)
        if self.proc.stderr:
            self.proc.stderr.close()
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    """Page sizes (points) of a PDF Chromium printed (Skia writes plain page
    dictionaries, each with its MediaBox)."""
    sizes = []
    for m in re.finditer(
        rb"/Type\s*/Page\b(?!s).{0,400}?/MediaBox\s*\[\s*([\d.\s]+)\]", data, re.S
    ):
        x0, y0, x1, y1 = (float(v) for v in m.group(1).split())
        sizes.append((x1 - x0, y1 - y0))
    return sizes


def artifacts_dir() -> Path:
    """Where tests keep what a person looks at: $EXPOSCAN_ARTIFACTS, else
    tests/artifacts/ (gitignored)."""
    path = Path(
        os.environ.get("EXPOSCAN_ARTIFACTS") or Path(__file__).resolve().parent / "artifacts"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path
