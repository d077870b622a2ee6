"""The webhook: one JSON POST of the alert, bounded in time.

No redirect is followed (a 3xx is an error): the payload goes to the URL
the user wrote and nowhere else. The answer's body is not read: only its
status counts, so a hostile or broken receiver cannot make us hold its
body in memory.
"""

from __future__ import annotations

from exposcan import __version__
from exposcan.audit.notify.targets import Webhook


class NotifyError(RuntimeError):
    """A notification that could not be delivered (reported, never fatal)."""


async def post_json(target: Webhook, payload: dict[str, object], deadline_s: float) -> None:
    """POST ``payload`` (JSON) to the webhook; :class:`NotifyError` on failure."""
    # Imported here: aiohttp costs ~0.1 s of start-up to every scan that
    # never notifies (bench: python -X importtime).
    import aiohttp

    timeout = aiohttp.ClientTimeout(
        total=deadline_s, connect=min(5.0, deadline_s), sock_read=deadline_s
    )
    headers = {"User-Agent": f"exposcan/{__version__}"}
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            async with session.post(target.url, json=payload, allow_redirects=False) as response:
                status = response.status
    except TimeoutError as exc:
        raise NotifyError(f"no answer within {deadline_s:g} s") from exc
    except aiohttp.ClientConnectorError as exc:
        raise NotifyError(f"cannot connect: {exc.os_error.strerror or 'refused'}") from exc
    except aiohttp.ClientError as exc:
        # The exception's text may repeat the full URL (its secret path):
        # only its class name goes into the message.
        raise NotifyError(f"{type(exc).__name__}") from exc
    if not 200 <= status < 300:
        raise NotifyError(f"the receiver answered HTTP {status}")
