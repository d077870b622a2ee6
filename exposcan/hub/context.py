"""What every request handler of the hub shares: the state, and who asks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from exposcan.hub.alerts import Alerts
from exposcan.hub.auth import AuthError, Staff, basic_credentials, same_token
from exposcan.hub.store import Store

SESSION_COOKIE = "__Host-exposcan-hub"
LOGIN_COOKIE = "__Host-exposcan-login"
SESSION_TTL = timedelta(hours=8)


@dataclass
class HubState:
    store: Store
    alerts: Alerts
    staff: Staff = field(init=False)
    stale_days: int = 7

    def __post_init__(self) -> None:
        self.staff = Staff(self.store)


HUB: web.AppKey[HubState] = web.AppKey("hub", HubState)


def state(request: web.Request) -> HubState:
    return request.app[HUB]


def client(request: web.Request) -> str:
    return request.remote or "unknown"


@dataclass(frozen=True)
class Who:
    name: str
    #: The session's CSRF token; None for HTTP Basic (no cookie, no form).
    csrf: str | None


async def session_user(request: web.Request) -> Who | None:
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid or len(sid) > 128:
        return None
    found = await state(request).store.session(sid)
    return Who(found[0], found[1]) if found else None


async def api_user(request: web.Request) -> Who:
    """Staff, by HTTP Basic or by a session; raises 401 or 429."""
    header = request.headers.get("Authorization", "")
    if header:
        creds = basic_credentials(header)
        if creds is None:
            raise _unauthorized("staff credentials are HTTP Basic (user:password)")
        try:
            name = await state(request).staff.check(creds[0], creds[1], client(request))
        except AuthError as exc:
            if str(exc) == "limited":
                raise web.HTTPTooManyRequests(
                    text='{"error": "too many failed logins: wait a few minutes"}',
                    content_type="application/json",
                ) from None
            raise _unauthorized("wrong user name or password") from None
        return Who(name, None)
    who = await session_user(request)
    if who is None:
        raise _unauthorized("log in: HTTP Basic with a staff account, or a session")
    return who


def _unauthorized(message: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=json.dumps({"error": message}),
        content_type="application/json",
        headers={"WWW-Authenticate": 'Basic realm="exposcan hub", charset="UTF-8"'},
    )


def check_csrf(who: Who, form_value: object) -> None:
    if who.csrf is None or not isinstance(form_value, str) or not same_token(who.csrf, form_value):
        raise web.HTTPForbidden(text="the form's CSRF token is missing or wrong: reload the page")
