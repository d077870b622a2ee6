"""The mail: the verdict in the body, the report attached.

smtplib is blocking: it runs in a thread with its own socket timeout set on
every operation (asyncio cannot cancel a thread, STYLE.md). STARTTLS
(RFC 3207) is used whenever the server offers it, with the certificate
checked; a password is only ever sent inside TLS, except to a server on this
machine's loopback (a local relay), where nothing crosses a network.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import UTC
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from ipaddress import ip_address

from exposcan.audit.notify.alert import Alert
from exposcan.audit.notify.targets import Mail
from exposcan.audit.notify.webhook import NotifyError
from exposcan.models import Report

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def report_attachment(report: Report, lang: str | None) -> tuple[bytes, str, str, str]:
    """(data, maintype, subtype, extension): the HTML report, the one a
    practitioner can read; the JSON report should rendering fail, because
    the alert matters more than its looks."""
    from exposcan.report.html import render_html  # jinja2 only when a mail goes

    try:
        return render_html(report, lang).encode(), "text", "html", "html"
    except Exception:  # any renderer bug: still deliver the alert
        log.warning("HTML report failed; the mail carries the JSON report", exc_info=True)
        return report.to_json().encode(), "application", "json", "json"


def build_message(target: Mail, alert: Alert, lang: str | None) -> EmailMessage:
    msg = EmailMessage()
    scan = alert.report.scan
    tag = "NEW EXPOSURE" if alert.alarming else "no new exposure"
    msg["Subject"] = f"[exposcan] {tag}: {', '.join(scan.targets) or 'scan'}"
    msg["From"] = target.sender
    msg["To"] = ", ".join(target.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="exposcan.invalid")
    msg["X-Exposcan-Verdict"] = alert.verdict
    msg.set_content(alert.text())
    data, maintype, subtype, ext = report_attachment(alert.report, lang)
    stamp = scan.started.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    msg.add_attachment(
        data, maintype=maintype, subtype=subtype, filename=f"exposcan-report-{stamp}.{ext}"
    )
    return msg


def build_plain(target: Mail, subject: str, text: str) -> EmailMessage:
    """A mail of plain text, nothing attached (the hub's fleet alerts)."""
    msg = EmailMessage()
    msg["Subject"] = f"[exposcan] {subject}"
    msg["From"] = target.sender
    msg["To"] = ", ".join(target.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="exposcan.invalid")
    msg.set_content(text)
    return msg


def send_blocking(target: Mail, msg: EmailMessage, timeout_s: float) -> None:
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if target.implicit_tls:
            smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=timeout_s)
        with smtp:
            smtp.ehlo()
            secure = target.implicit_tls
            if not secure and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                secure = True
            if target.user is not None:
                if not secure and not _is_loopback(target.host):
                    raise NotifyError(
                        "the server offers no TLS: the password is not sent "
                        "in clear over the network"
                    )
                assert target.password is not None
                smtp.login(target.user, target.password)
            refused = smtp.send_message(msg)
            if refused:
                raise NotifyError(f"{len(refused)} recipient(s) refused")
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(f"authentication refused (SMTP {exc.smtp_code})") from exc
    except smtplib.SMTPResponseException as exc:
        raise NotifyError(f"SMTP {exc.smtp_code}") from exc
    except smtplib.SMTPException as exc:
        raise NotifyError(type(exc).__name__) from exc
    except TimeoutError as exc:
        raise NotifyError(f"no answer within {timeout_s:g} s") from exc
    except ssl.SSLError as exc:
        raise NotifyError(f"TLS: {exc.reason or type(exc).__name__}") from exc
    except OSError as exc:
        raise NotifyError(exc.strerror or type(exc).__name__) from exc
