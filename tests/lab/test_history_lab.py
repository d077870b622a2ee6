"""In the lab: cron audits with a history, a baseline and alerts.

From the practice workstation (ws): a first audit records the baseline; a
second with nothing changed exits 0 and notifies nothing; a new exposure
appears (a second storescp, a (rule, host, port) key no run had); the third
audit exits 1, the diff names it, and a real SMTP server and a real webhook
(both inside the ws namespace, on its 127.0.0.1) receive it, without a
single canary string, as neither does the history database.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from exposcan_lab import Lab
from exposcan_lab import topology as t
from tests.lab.conftest import REPO, run_exposcan

pytestmark = pytest.mark.lab

# The ws namespace is the lab's own: these ports are free there.
SMTP_PORT, HTTP_PORT = 2525, 8099
LEAKS = (*t.CANARY_STRINGS, *t.SECRET_STRINGS)


@dataclass
class Sink:
    out: Path
    proc: subprocess.Popen[bytes]

    def files(self, pattern: str) -> list[Path]:
        return sorted(self.out.glob(pattern))

    def wait_for(self, pattern: str, deadline_s: float = 15.0) -> list[Path]:
        end = time.monotonic() + deadline_s
        while not self.files(pattern) and time.monotonic() < end:
            time.sleep(0.1)
        return self.files(pattern)


@pytest.fixture
def sink(lab: Lab, tmp_path: Path) -> Iterator[Sink]:
    """aiosmtpd + aiohttp on 127.0.0.1 *inside* ws, where the scanner runs."""
    out = tmp_path / "sink"
    out.mkdir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    log = (tmp_path / "sink.log").open("wb")
    proc = subprocess.Popen(
        lab.exec_argv(
            t.WS.name,
            [
                sys.executable,
                "-m",
                "tests.lab.notify_sink",
                str(out),
                str(SMTP_PORT),
                str(HTTP_PORT),
            ],
        ),
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        end = time.monotonic() + 20
        while not (out / "ready").exists() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.1)
        assert (out / "ready").exists(), (tmp_path / "sink.log").read_text()
        yield Sink(out, proc)
    finally:
        proc.terminate()  # our own child, by its pid
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _mail_text(path: Path) -> tuple[EmailMessage, str]:
    """The message, and every part decoded (attachments are base64 on the wire)."""
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    parts = [str(p.get_content()) for p in msg.walk() if not p.is_multipart()]
    return msg, "\n".join(parts)


def test_a_cron_audit_alerts_only_on_what_is_new(lab: Lab, sink: Sink, tmp_path: Path) -> None:
    db = tmp_path / "history" / "exposcan.sqlite3"
    targets = [str(t.WEB.ip), str(t.MODALITY.ip)]
    base = ["scan", *targets, "-p", f"{t.WEB_HTTP_PORT},{t.MODALITY_PORT}", "--db", str(db)]
    audit = [
        *base,
        "--baseline",
        "last",
        "--fail-on",
        "medium",
        "--notify",
        f"smtp://127.0.0.1:{SMTP_PORT}?to=dr@cabinet.example&from=audit@cabinet.example",
        "--notify",
        f"http://127.0.0.1:{HTTP_PORT}/hook",
    ]
    new_key = (str(t.WEB.ip), t.MODALITY_PORT)

    # Given a first scan of the web server and the modality, recorded
    first = run_exposcan(lab, "ws", [*base, "-q", "-o", str(tmp_path / "r1.json")])
    # (exit 1: the modality accepts any association, a high finding)
    assert first.returncode == 1, first.stderr
    # When the cron audit runs again with nothing changed
    second = run_exposcan(lab, "ws", [*audit, "-o", str(tmp_path / "r2.json")])
    # Then it exits 0, compared with the first run, and notified nobody
    assert second.returncode == 0, second.stdout + second.stderr
    assert "compared with run 1 " in second.stdout and "no change" in second.stdout
    time.sleep(0.5)  # what was sent is received before the scan ends; the sink flushes
    assert sink.files("mail-*") == [] and sink.files("hook-*") == []

    try:
        # Given a new exposure in the practice: a second storescp on the web server
        assert lab.start_extra_exposure(t.WEB.name, t.MODALITY_PORT) == new_key
        # When the audit runs again
        third = run_exposcan(lab, "ws", [*audit, "-o", str(tmp_path / "r3.json")])
    finally:
        lab.stop_extra_exposure()
    # Then it exits 1 and names the new finding against run 2
    assert third.returncode == 1, third.stdout + third.stderr
    assert "compared with run 2 " in third.stdout
    new_lines = [ln for ln in third.stdout.splitlines() if ln.startswith("+ ")]
    assert any(
        f"{new_key[0]}:{new_key[1]}" in ln and "dicom.store-open" in ln for ln in new_lines
    ), third.stdout
    assert not [ln for ln in new_lines if f"{new_key[0]}:{new_key[1]}" not in ln]

    # And `exposcan diff` (default: the last two runs of these targets) names it
    diff = run_exposcan(lab, "ws", ["diff", "--db", str(db), "--json"])
    assert diff.returncode == 1, diff.stderr
    data = json.loads(diff.stdout)
    assert data["old"].startswith("run 2 ") and data["new"].startswith("run 3 ")
    assert {(f["host"], f["port"]) for f in data["new_findings"]} == {new_key}
    assert data["resolved"] == [] and data["unchanged"]

    # And the webhook received the verdict with the new finding
    (hook_file,) = sink.wait_for("hook-*")
    hook = json.loads(hook_file.read_text())
    assert hook["verdict"] == "new" and hook["baseline"].startswith("run 2 ")
    assert ("dicom.store-open", *new_key) in {
        (f["rule"], f["host"], f["port"]) for f in hook["new_findings"]
    }
    # And so did the mail server: verdict in the body, the report attached
    (mail_file,) = sink.wait_for("mail-*")
    msg, mail_text = _mail_text(mail_file)
    assert msg["X-Exposcan-Verdict"] == "new" and msg["To"] == "dr@cabinet.example"
    assert mail_text.startswith("NEW EXPOSURE")
    assert f"{new_key[0]}:{new_key[1]}" in mail_text
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "text/html"

    # And the history lists the three runs, the last one with something new
    history = run_exposcan(lab, "ws", ["history", "--db", str(db), "--json"])
    runs = json.loads(history.stdout)
    assert [(r["id"], r["previous"], r["complete"]) for r in runs] == [
        (3, 2, True),
        (2, 1, True),
        (1, None, True),
    ]
    assert runs[1]["new"] == 0 and runs[0]["new"] >= 1

    # And no canary patient string or lab secret is in the database, the
    # mail (decoded) or the webhook body; the database is private
    for name, text in (
        ("database", db.read_bytes().decode("utf-8", "replace")),
        ("mail", mail_text),
        ("webhook", hook_file.read_text()),
    ):
        assert [s for s in LEAKS if s in text] == [], name
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
