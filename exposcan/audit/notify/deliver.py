"""Notifications of a cron audit: a webhook POST or a mail per --notify URL.

Delivery is best effort and bounded: each target has its own deadline, all
are sent at once, and a failure is reported (stderr) without changing the
scan's exit code: the exit code is about the network, not the mail relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from exposcan.audit.notify.alert import Alert
from exposcan.audit.notify.mail import build_message, build_plain, send_blocking
from exposcan.audit.notify.targets import (
    Mail,
    NotifyConfigError,
    Target,
    Webhook,
    parse_targets,
    redact,
)
from exposcan.audit.notify.webhook import NotifyError, post_json

__all__ = [
    "Alert",
    "Delivery",
    "Mail",
    "NotifyConfigError",
    "NotifyError",
    "Target",
    "Webhook",
    "deliver",
    "deliver_message",
    "parse_targets",
    "redact",
]

#: Per target: a webhook's whole request, or each SMTP operation.
DEFAULT_DEADLINE_S = 15.0


@dataclass(frozen=True)
class Delivery:
    label: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def _send(
    target: Target,
    payload: dict[str, object],
    mail: Callable[[Mail], EmailMessage],
    deadline_s: float,
) -> Delivery:
    """``payload`` to a webhook, or the message ``mail`` makes to a mailbox."""
    try:
        if isinstance(target, Webhook):
            await post_json(target, payload, deadline_s)
        else:
            msg = mail(target)
            # smtplib's timeout bounds each socket operation; the outer
            # deadline bounds the whole conversation (a server that answers
            # one byte at a time). The thread then ends at its next timeout.
            await asyncio.wait_for(
                asyncio.to_thread(send_blocking, target, msg, deadline_s), timeout=deadline_s * 4
            )
    except NotifyError as exc:
        return Delivery(target.label, str(exc))
    except TimeoutError:
        return Delivery(target.label, f"no delivery within {deadline_s * 4:g} s")
    return Delivery(target.label)


async def deliver(
    targets: list[Target],
    alert: Alert,
    lang: str | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> list[Delivery]:
    payload = alert.payload()

    def mail(target: Mail) -> EmailMessage:
        return build_message(target, alert, lang)

    return list(await asyncio.gather(*(_send(t, payload, mail, deadline_s) for t in targets)))


async def deliver_message(
    targets: list[Target],
    subject: str,
    text: str,
    payload: dict[str, object],
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> list[Delivery]:
    """A message that is not one scan's verdict (the hub's fleet alerts): the
    webhooks get ``payload``, the mails ``subject`` and ``text``."""

    def mail(target: Mail) -> EmailMessage:
        return build_plain(target, subject, text)

    return list(await asyncio.gather(*(_send(t, payload, mail, deadline_s) for t in targets)))
