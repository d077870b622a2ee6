"""``scan --hub URL``: the finished report goes to the contractor's hub.

The site pushes; the hub never reaches into a practice. Every report is
first written to a local outbox (``$XDG_DATA_HOME/exposcan/outbox``, 0700,
each file 0600), then the outbox is sent oldest first, so a report made
while the hub was down or refused goes out before the new one at the next
scan. A hub that cannot be reached or refuses changes neither the scan's
exit code nor its files: the reports wait. A report the hub calls malformed
(HTTP 400, 413, 415) would be refused for ever: it is moved aside to
``outbox/refused/`` (kept, not resent) so that it does not hold the others
back; one the hub already has (409, an answer lost on the way) is done.

Settings, as for ``--outside``: ``--hub URL``, else ``$EXPOSCAN_HUB``, else
``url`` in the ``[hub]`` table of the config file; ``--hub-ca FILE`` or
``--hub-pin SHA256`` (also ``$EXPOSCAN_HUB_CA``, ``$EXPOSCAN_HUB_PIN``,
``ca_file``, ``pin_sha256``). The site's token only from a file
(``token_file`` in ``[hub]``, ``$EXPOSCAN_HUB_TOKEN_FILE``) or
``$EXPOSCAN_HUB_TOKEN``; never the command line::

    [hub]
    url = "https://hub.example:8443/"
    token_file = "/etc/exposcan/hub.token"
    ca_file = "/etc/exposcan/hub-ca.pem"
"""

from __future__ import annotations

import argparse
import io
import os
import re
import secrets
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from exposcan.config_file import ENV_CONFIG, config_path, read_table

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

    from exposcan.models import Report

ENV_URL = "EXPOSCAN_HUB"
ENV_TOKEN = "EXPOSCAN_HUB_TOKEN"  # noqa: S105 (the variable's name)
ENV_TOKEN_FILE = "EXPOSCAN_HUB_TOKEN_FILE"  # noqa: S105
ENV_CA = "EXPOSCAN_HUB_CA"
ENV_PIN = "EXPOSCAN_HUB_PIN"
UPLOAD_PATH = "/api/v1/reports"
OUTBOX = "outbox"
#: The outbox keeps at most this many reports (almost three years of daily
#: scans); past it the oldest goes, and the scan says so.
MAX_OUTBOX = 1000
#: One upload's deadline, and the whole delivery's.
REQUEST_DEADLINE_S = 30.0
TOTAL_DEADLINE_S = 120.0
#: What a hub's answer may hold (a short JSON).
MAX_ANSWER_BYTES = 64 * 1024
_KEYS = frozenset({"url", "token_file", "ca_file", "pin_sha256"})
_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{1,256}$")


class HubConfigError(ValueError):
    """``--hub`` is asked for but cannot be set up (exit code 2, before the scan)."""


@dataclass(frozen=True)
class HubSettings:
    url: str
    token: str = field(repr=False)
    ca_file: str | None = None
    pin_sha256: str | None = None


@dataclass
class Delivery:
    delivered: int = 0
    waiting: int = 0
    refused: int = 0
    dropped: int = 0
    error: str | None = None
    outbox: Path | None = None


def add_options(scan: argparse.ArgumentParser) -> None:
    scan.add_argument(
        "--hub",
        metavar="URL",
        help="send the finished report to this hub (https://...); also $EXPOSCAN_HUB or "
        "[hub] url in the config file. Its token only from a file (token_file, "
        "$EXPOSCAN_HUB_TOKEN_FILE) or $EXPOSCAN_HUB_TOKEN. A hub down or refusing "
        "changes nothing: the report waits in the outbox for the next scan",
    )
    trust = scan.add_mutually_exclusive_group()
    trust.add_argument("--hub-ca", metavar="FILE", help="CA certificate(s) (PEM) of the hub")
    trust.add_argument(
        "--hub-pin", metavar="SHA256", help="the hub's pinned certificate (SHA-256 of its DER)"
    )
    scan.add_argument("--no-hub", action="store_true", help="send no report, whatever is set")


def _table(path: Path, explicit: bool) -> dict[str, str]:
    return read_table(path, "hub", _KEYS, explicit, HubConfigError)


def upload_url(url: str) -> URL:
    from yarl import URL  # with the hub only: a plain scan's start-up does without

    try:
        base = URL(url)
    except (ValueError, TypeError):
        raise HubConfigError(f"--hub {url!r}: not a URL") from None
    # The token travels in the request: only over TLS, to a named host.
    if base.scheme != "https" or not base.host:
        raise HubConfigError(f"--hub {url!r}: the hub's address must be https://HOST[:PORT]")
    if base.user or base.password or base.query_string:
        raise HubConfigError("--hub: the URL must hold no user, password or query")
    return base.with_path(base.path.rstrip("/") + UPLOAD_PATH)


def resolve(
    url: str | None,
    ca_file: str | None = None,
    pin_sha256: str | None = None,
    env: Mapping[str, str] | None = None,
) -> HubSettings | None:
    """The hub's settings, or None when none is configured anywhere."""
    if url is not None and not url.strip():
        raise HubConfigError("--hub: an empty URL; to send nothing, use --no-hub")
    env = os.environ if env is None else env
    path = config_path(env)
    table = _table(path, explicit=bool(env.get(ENV_CONFIG)))
    chosen = url or env.get(ENV_URL) or table.get("url")
    if not chosen:
        return None
    upload_url(chosen)
    from exposcan.reflector.client import ReflectorError, load_token

    token = env.get(ENV_TOKEN, "").strip()
    token_file = env.get(ENV_TOKEN_FILE) or table.get("token_file")
    try:
        if token:
            token = load_token_text(token)
        elif token_file:
            token = load_token(Path(token_file))
        else:
            raise HubConfigError(
                f"--hub needs the site's token: a file named by token_file in {path} or by "
                f"${ENV_TOKEN_FILE}, or ${ENV_TOKEN} (never on the command line)"
            )
    except ReflectorError as exc:
        raise HubConfigError(str(exc).replace("reflector", "hub")) from None
    ca, pin = None, None
    for level_ca, level_pin in (
        (ca_file, pin_sha256),
        (env.get(ENV_CA), env.get(ENV_PIN)),
        (table.get("ca_file"), table.get("pin_sha256")),
    ):
        if level_ca or level_pin:
            ca, pin = level_ca or None, level_pin or None
            break
    if ca and pin:
        raise HubConfigError("give the hub's CA file or its certificate pin, not both")
    return HubSettings(chosen, token, ca, pin)


def load_token_text(value: str) -> str:
    """A token given in the environment, held to a token file's rules; the
    message never quotes it."""
    if not _TOKEN.match(value):
        raise HubConfigError(
            f"${ENV_TOKEN} does not hold a token (one line of letters, digits, -_.~)"
        )
    return value


def outbox_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "exposcan" / OUTBOX


def put(report: Report, folder: Path) -> tuple[Path, int]:
    """Write ``report`` to the outbox; returns its file and how many old
    reports had to go to keep the outbox within :data:`MAX_OUTBOX`."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.json"
    path = folder / name
    partial = folder / f".{name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(report.to_json())
    os.replace(partial, path)  # never a half-written report in the outbox
    waiting = pending(folder)
    dropped = 0
    while len(waiting) > MAX_OUTBOX:
        waiting.pop(0).unlink(missing_ok=True)
        dropped += 1
    return path, dropped


def pending(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == ".json" and p.is_file())
    except FileNotFoundError:
        return []


def _tls(settings: HubSettings) -> ssl.SSLContext | aiohttp.Fingerprint:
    import aiohttp

    if settings.pin_sha256:
        digest = settings.pin_sha256.replace(":", "").strip().lower()
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise HubConfigError("--hub-pin: a SHA-256, 64 hex digits")
        return aiohttp.Fingerprint(raw)
    try:
        context = ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise HubConfigError(f"cannot load the hub's CA file {settings.ca_file}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # BCP 195
    return context


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


async def _send(session: aiohttp.ClientSession, settings: HubSettings, body: bytes) -> int:
    tls = _tls(settings)
    async with session.post(
        upload_url(settings.url),
        # A file-like body: aiohttp sends it in chunks (and sets its length).
        data=io.BytesIO(body),
        headers={
            "Authorization": f"Bearer {settings.token}",
            "Content-Type": "application/json",
        },
        ssl=tls,
        allow_redirects=False,
    ) as response:
        await response.content.read(MAX_ANSWER_BYTES)
        return response.status


async def deliver(settings: HubSettings, folder: Path) -> Delivery:
    """Send the outbox, oldest first, until it is empty or the hub fails."""
    import asyncio

    import aiohttp

    from exposcan.reflector.client import client_connector

    result = Delivery(outbox=folder)
    timeout = aiohttp.ClientTimeout(total=REQUEST_DEADLINE_S, connect=10.0)
    try:
        async with (
            asyncio.timeout(TOTAL_DEADLINE_S),
            aiohttp.ClientSession(
                timeout=timeout, trust_env=False, connector=client_connector()
            ) as session,
        ):
            for path in pending(folder):
                body = await asyncio.to_thread(path.read_bytes)
                status = await _send(session, settings, body)
                if status in (201, 409):
                    path.unlink(missing_ok=True)
                    result.delivered += 1
                elif status in (400, 413, 415):
                    aside = folder / "refused"
                    aside.mkdir(exist_ok=True, mode=0o700)
                    path.replace(aside / path.name)
                    result.refused += 1
                else:
                    what = {401: "the site token was refused", 403: "refused"}.get(
                        status, "the hub refused"
                    )
                    result.error = f"{what} (HTTP {status})"
                    break
    except TimeoutError:
        result.error = f"no answer within {TOTAL_DEADLINE_S:g} s"
    except aiohttp.ServerFingerprintMismatch:
        result.error = "the hub's certificate is not the pinned one"
    except aiohttp.ClientConnectorCertificateError as exc:
        result.error = f"the hub's certificate is not trusted: {_one_line(str(exc))}"
    except aiohttp.ClientError as exc:
        result.error = f"cannot reach the hub: {_one_line(str(exc)) or type(exc).__name__}"
    except OSError as exc:
        result.error = f"cannot read the outbox: {exc.strerror}"
    result.waiting = len(pending(folder))
    return result


def push(report: Report, settings: HubSettings, folder: Path | None = None) -> Delivery:
    """Put ``report`` in the outbox and send what waits there (this scan's last)."""
    import asyncio  # with the hub only, as aiohttp

    folder = folder or outbox_dir()
    _, dropped = put(report, folder)
    result = asyncio.run(deliver(settings, folder))
    result.dropped = dropped
    return result


def describe(result: Delivery) -> tuple[str, bool]:
    """The line the scan prints, and whether it is a warning (cron mails those)."""
    parts = []
    if result.delivered:
        parts.append(f"{result.delivered} report(s) sent to the hub")
    if result.refused:
        parts.append(
            f"{result.refused} report(s) refused by the hub as malformed, kept in "
            f"{result.outbox}/refused"
        )
    if result.dropped:
        parts.append(f"the outbox was full: its {result.dropped} oldest report(s) dropped")
    if result.error:
        parts.append(
            f"the hub did not take the report: {result.error}; {result.waiting} report(s) "
            f"wait in {result.outbox} for the next scan"
        )
    warn = bool(result.error or result.refused or result.dropped)
    return "exposcan: " + "; ".join(parts or ["nothing sent to the hub"]), warn
