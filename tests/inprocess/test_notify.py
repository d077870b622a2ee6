"""Notifications against real receivers on 127.0.0.1: an aiohttp webhook and
an aiosmtpd mail server (tests/notify_servers.py), never a mock."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exposcan.audit.diff import diff_reports
from exposcan.audit.notify.deliver import Alert, Mail, Webhook, deliver, parse_targets
from exposcan.audit.notify.targets import NotifyConfigError, parse_target
from exposcan.models import Finding, Severity, finding_key
from tests.inprocess.servers import tarpit, tcp_server
from tests.notify_servers import free_port, smtp_server, webhook_server
from tests.support.cli import CliRun, run_cli_async
from tests.unit.test_report_schema import sample_report

SECRET_EVIDENCE = "evidence-never-in-a-webhook"

#: Not inherited from the developer's shell: each test says where the
#: password comes from.
SMTP_PASSWORD = "EXPOSCAN_SMTP_PASSWORD"


def _new_finding() -> Finding:
    return Finding(
        rule="dicom.store-open",
        severity=Severity.MEDIUM,
        host="198.18.0.30",
        port=11112,
        protocol="dicom",
        title="DICOM node accepts images",
        evidence={"note": SECRET_EVIDENCE},
        key=finding_key("dicom.store-open", "198.18.0.30", 11112),
    )


def _alert(fail_on: str = "medium") -> Alert:
    old = sample_report()
    new = old.model_copy(update={"findings": [*old.findings, _new_finding()]})
    return Alert.build(new, diff_reports(old, new), "run 1 (2026-01-01)", fail_on)


async def test_webhook_receives_the_verdict_and_no_evidence() -> None:
    # Given a webhook receiver on loopback
    async with webhook_server() as (port, hook):
        # When an alert with one new medium finding is delivered
        (result,) = await deliver([Webhook(f"http://127.0.0.1:{port}/hook")], _alert())
    # Then it arrived once, with the verdict, the counts and the new finding
    assert result.ok, result.error
    (body,) = hook.bodies
    assert body["schema"] == "exposcan.audit.notify/1"
    assert body["verdict"] == "new"
    assert body["counts"] == {"critical": 0, "high": 1, "medium": 1, "low": 0, "info": 0}
    assert body["new_counts"]["medium"] == 1 and body["unchanged"] == 1
    assert [(f["host"], f["port"], f["rule"]) for f in body["new_findings"]] == [
        ("198.18.0.30", 11112, "dicom.store-open")
    ]
    # And no evidence at all went to the third party
    assert SECRET_EVIDENCE.encode() not in hook.raw[0]
    assert "evidence" not in body["new_findings"][0]


async def test_below_the_threshold_is_no_new() -> None:
    # Given the only new finding is medium and --fail-on high
    alert = _alert(fail_on="high")
    # Then the verdict says nothing new worth an alarm
    assert alert.verdict == "no-new" and alert.alarming == []
    assert alert.new  # but the finding is still listed as new
    assert _alert(fail_on="never").alarming == []


async def test_webhook_failures_are_bounded_reported_errors() -> None:
    # Given a receiver that answers 500, one that redirects, one that never
    # answers, and a port nobody listens on
    closed = free_port()
    async with (
        webhook_server(status=500) as (p500, _),
        webhook_server(status=302) as (p302, redirected),
        tcp_server(tarpit) as silent,
    ):
        targets = [Webhook(f"http://127.0.0.1:{p}/hook") for p in (p500, p302, silent, closed)]
        started = time.monotonic()
        # When the alert is delivered with a 1 s deadline
        results = await deliver(list(targets), _alert(), deadline_s=1.0)
        elapsed = time.monotonic() - started
    # Then each is an error record naming the problem, within the deadline
    errors = [r.error for r in results]
    assert errors[0] == "the receiver answered HTTP 500"
    assert errors[1] == "the receiver answered HTTP 302"  # not followed
    assert len(redirected.bodies) == 1
    assert errors[2] == "no answer within 1 s"
    assert errors[3] is not None and errors[3].startswith("cannot connect: ")
    assert elapsed < 3.0


async def test_mail_carries_the_verdict_and_the_report() -> None:
    # Given an SMTP server on loopback
    with smtp_server() as (port, box):
        target = parse_target(
            f"smtp://127.0.0.1:{port}?to=dr@cabinet.example,it@cabinet.example"
            "&from=audit@cabinet.example"
        )
        # When the alert is mailed
        (result,) = await deliver([target], _alert())
    # Then one mail arrived, to both, with the verdict in the body
    assert result.ok, result.error
    (msg,) = box.messages
    assert msg["To"] == "dr@cabinet.example, it@cabinet.example"
    assert msg["From"] == "audit@cabinet.example"
    assert msg["X-Exposcan-Verdict"] == "new"
    assert "NEW EXPOSURE" in msg["Subject"]
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("NEW EXPOSURE: 1 new finding(s) at or above medium")
    assert "198.18.0.30:11112" in text
    # And the HTML report is attached
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "text/html"
    name = attachment.get_filename()
    assert name is not None and name.startswith("exposcan-report-20260101-")
    assert name.endswith(".html")
    html = attachment.get_content()
    assert html.lstrip().lower().startswith("<!doctype html") and "198.18.0.30" in html


async def test_smtp_password_from_a_file_never_shown(tmp_path: Path) -> None:
    # Given a relay that requires a login, and the password in a private file
    password = "Sm7p-Secret-Never-Print"
    pw_file = tmp_path / "smtp-password"
    pw_file.write_text(password + "\n")
    pw_file.chmod(0o600)
    with smtp_server(password=password) as (port, box):
        # When the CLI scans (nothing there) and always notifies that relay
        run = await run_cli_async(
            "scan",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "--no-discovery",
            "--db",
            str(tmp_path / "h.sqlite3"),
            "--notify-always",
            "--notify",
            f"smtp://doc@127.0.0.1:{port}?to=dr@cabinet.example",
            "-v",
            env={"EXPOSCAN_SMTP_PASSWORD_FILE": str(pw_file)},
            drop_env=[SMTP_PASSWORD],
        )
    # Then it logged in with the file's password and the mail arrived
    assert run.returncode == 0, run.stderr
    assert box.logins == [("doc", password)]
    (msg,) = box.messages
    assert msg["X-Exposcan-Verdict"] == "no-new"
    # And the password is nowhere in what it printed
    assert password not in run.stdout + run.stderr
    assert f"notified smtp://127.0.0.1:{port}" in run.stderr


async def test_a_refused_login_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a relay whose password is not the one we have
    monkeypatch.setenv("EXPOSCAN_SMTP_PASSWORD", "wrong-one")
    with smtp_server(password="right-one") as (port, box):
        (target,) = parse_targets([f"smtp://doc@127.0.0.1:{port}?to=a@b.example"])
        (result,) = await deliver([target], _alert())
    # Then delivery failed with the SMTP code, and no mail went through
    assert result.error == "authentication refused (SMTP 535)"
    assert box.raw == []


async def test_cli_notifies_only_when_something_is_new(tmp_path: Path) -> None:
    # Given a webhook, and a port where nothing listens (no finding)
    db = str(tmp_path / "h.sqlite3")
    async with webhook_server() as (port, hook):
        url = f"http://127.0.0.1:{port}/hook"
        args = [
            "scan",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "--no-discovery",
            "--db",
            db,
            "--baseline",
            "last",
            "-q",
            "--notify",
            url,
        ]
        # When two audits find nothing new
        first = await _cli(*args)
        second = await _cli(*args)
        # Then both exit 0 and nothing was posted
        assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
        assert hook.bodies == []
        # When the third one says --notify-always
        third = await _cli(*args, "--notify-always")
    # Then the verdict was posted, against the previous run
    assert third.returncode == 0, third.stderr
    (body,) = hook.bodies
    assert body["verdict"] == "no-new" and body["baseline"].startswith("run 2 ")


async def test_bad_notify_urls_exit_2_before_scanning() -> None:
    for url, message in (
        ("smtp://doc:hunter2@127.0.0.1?to=a@b.example", "EXPOSCAN_SMTP_PASSWORD"),
        ("smtp://127.0.0.1", "?to=a@b"),
        ("ftp://127.0.0.1/x", "use http(s)://"),
        ("https://user:pw@127.0.0.1/x", "password on the command line"),
        ("smtp://127.0.0.1?to=a@b.example&cc=x@y.example", "unknown parameter"),
    ):
        run = await _cli("scan", "127.0.0.1", "-p", "1", "--notify", url)
        # Then it refuses, says why, and never echoes a password
        assert run.returncode == 2 and message in run.stderr, (url, run.stderr)
        assert "hunter2" not in run.stderr and ":pw@" not in run.stderr


def test_mail_target_hides_its_password() -> None:
    target = Mail("relay.example", 587, False, ("a@b.example",), "c@d.example", "u", "pw-123")
    assert "pw-123" not in repr(target) and target.label == "smtp://relay.example:587"
    with pytest.raises(NotifyConfigError, match="no password"):
        parse_target("smtp://u@relay.example?to=a@b.example")


async def _cli(*args: str) -> CliRun:
    return await run_cli_async(*args, drop_env=[SMTP_PASSWORD])
