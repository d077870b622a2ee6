"""``--notify URL``: where an audit's verdict goes, parsed before the scan.

- ``http(s)://...``: a webhook (JSON POST).
- ``smtp://[user@]host[:port]?to=a@b[,c@d]&from=x@y``: a mail, STARTTLS when
  the server offers it; ``smtps://`` for TLS from the first byte (port 465).

Credentials never come from the command line, where ``ps`` and the shell
history show them to every user of the machine: a password in the URL is
refused, and the SMTP password comes from ``EXPOSCAN_SMTP_PASSWORD`` or the
file named by ``EXPOSCAN_SMTP_PASSWORD_FILE``. Messages about a target show
only its scheme, host and port (:func:`redact`): a webhook's path is often
its secret (chat incoming-webhook URLs are).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from socket import gethostname
from urllib.parse import parse_qs, unquote, urlsplit

PASSWORD_ENV = "EXPOSCAN_SMTP_PASSWORD"  # noqa: S105 (the variable's name)
PASSWORD_FILE_ENV = "EXPOSCAN_SMTP_PASSWORD_FILE"  # noqa: S105


class NotifyConfigError(ValueError):
    """A --notify URL that cannot be used (checked before scanning)."""


@dataclass(frozen=True)
class Webhook:
    url: str

    @property
    def label(self) -> str:
        return redact(self.url)


@dataclass(frozen=True)
class Mail:
    host: str
    port: int
    implicit_tls: bool
    to: tuple[str, ...]
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{_host_port(self.host, self.port)}"


Target = Webhook | Mail


def _host_port(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def redact(url: str) -> str:
    """scheme://host[:port] only: no user, no path, no query."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{_host_port(parts.hostname or '?', parts.port)}"
    except ValueError:
        return "(unparsable URL)"


def _address(text: str, what: str, label: str) -> str:
    if "\r" in text or "\n" in text:
        raise NotifyConfigError(f"{label}: {what} address holds a line break")
    _, addr = parseaddr(text)
    if "@" not in addr or addr != text.strip():
        raise NotifyConfigError(f"{label}: {what}={text!r} is not a mail address")
    return addr


def smtp_password() -> str | None:
    """From the environment, else from a file (first line); never argv."""
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    path = os.environ.get(PASSWORD_FILE_ENV)
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise NotifyConfigError(
                f"{PASSWORD_FILE_ENV}: cannot read it: {exc.strerror or exc}"
            ) from exc
        return lines[0] if lines and lines[0] else None
    return None


def parse_target(url: str) -> Target:
    label = redact(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise NotifyConfigError(f"--notify {label}: not a URL ({exc})") from exc
    if parts.password is not None:
        raise NotifyConfigError(
            f"--notify {label}: a password on the command line is visible to every user "
            f"of this machine; put it in {PASSWORD_ENV} or {PASSWORD_FILE_ENV}"
        )
    if not parts.hostname:
        raise NotifyConfigError(f"--notify {label}: no host")
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if parts.username is not None:
            raise NotifyConfigError(f"--notify {label}: no credentials in a webhook URL")
        return Webhook(url)
    if scheme not in ("smtp", "smtps"):
        raise NotifyConfigError(
            f"--notify {label}: use http(s):// (a webhook) or smtp(s):// (a mail)"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"to", "from"}
    if unknown:
        raise NotifyConfigError(f"--notify {label}: unknown parameter(s) {sorted(unknown)}")
    to = tuple(
        _address(a, "to", label) for v in query.get("to", []) for a in v.split(",") if a.strip()
    )
    if not to:
        raise NotifyConfigError(f"--notify {label}: say where the mail goes: ?to=a@b")
    senders = query.get("from", [])
    sender = (
        _address(senders[-1], "from", label)
        if senders
        else f"exposcan@{gethostname() or 'localhost'}"
    )
    user = unquote(parts.username) if parts.username else None
    password = smtp_password() if user else None
    if user and not password:
        raise NotifyConfigError(
            f"--notify {label}: user given but no password: set {PASSWORD_ENV} or "
            f"{PASSWORD_FILE_ENV}"
        )
    implicit = scheme == "smtps"
    return Mail(
        host=parts.hostname,
        port=port or (465 if implicit else 25),
        implicit_tls=implicit,
        to=to,
        sender=sender,
        user=user,
        password=password,
    )


def parse_targets(urls: list[str]) -> list[Target]:
    return [parse_target(u) for u in urls]
