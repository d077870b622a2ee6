"""The dashboard: pages rendered on the server, no JavaScript.

Every form carries the session's CSRF token (the login form a cookie's,
double-submit) and every page a Content-Security-Policy with no script at
all. A site's report is the HTML report the scan itself writes, rendered
from the stored JSON in the reader's language.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from exposcan.audit.diff import diff_reports
from exposcan.hub.api import stale_cutoff
from exposcan.hub.auth import AuthError, same_token
from exposcan.hub.context import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL,
    Who,
    check_csrf,
    client,
    session_user,
    state,
)
from exposcan.hub.store import SEVERITIES, SiteRow, now_utc
from exposcan.hub.words import LANGS, hub_words, pick_lang
from exposcan.models import Report

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: The stale filter's choices of days.
STALE_CHOICES = (3, 7, 14, 30)


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("exposcan.hub", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _lang(request: web.Request) -> str:
    return pick_lang(
        request.query.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("Accept-Language", ""),
    )


def _page(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    lang = _lang(request)
    html = (
        _env()
        .get_template(template)
        .render(w=hub_words(lang), lang=lang, severities=SEVERITIES, **values)
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    response.headers["Content-Security-Policy"] = CSP
    if request.query.get("lang") in LANGS:
        response.set_cookie(
            "lang", lang, secure=True, httponly=True, samesite="Strict", max_age=31536000
        )
    return response


async def _staff(request: web.Request) -> Who:
    who = await session_user(request)
    if who is None:
        raise web.HTTPSeeOther("/login")
    return who


async def login_form(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.Response:
    nonce = secrets.token_urlsafe(24)
    response = _page(request, "login.html.j2", status, csrf=nonce, error=error, who=None)
    response.set_cookie(
        LOGIN_COOKIE, nonce, secure=True, httponly=True, samesite="Strict", path="/"
    )
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    return await login_form(request)


async def login(request: web.Request) -> web.StreamResponse:
    hub = state(request)
    form = await request.post()
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    posted = form.get("csrf")
    if not cookie or not isinstance(posted, str) or not same_token(cookie, posted):
        raise web.HTTPForbidden(text="the form's CSRF token is missing or wrong: reload the page")
    name, password = form.get("user"), form.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        return await login_form(request, "bad_login", 400)
    try:
        await hub.staff.check(name, password, client(request))
    except AuthError as exc:
        limited = str(exc) == "limited"
        return await login_form(
            request, "limited" if limited else "bad_login", 429 if limited else 401
        )
    found = await hub.store.user(name)
    assert found is not None
    sid, _ = await hub.store.new_session(found[0], SESSION_TTL)
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        secure=True,
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=int(SESSION_TTL.total_seconds()),
    )
    _forget(response, LOGIN_COOKIE)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    who = await _staff(request)
    form = await request.post()
    check_csrf(who, form.get("csrf"))
    await state(request).store.end_session(request.cookies.get(SESSION_COOKIE, ""))
    response = web.HTTPSeeOther("/login")
    _forget(response, SESSION_COOKIE)
    raise response


def _forget(response: web.StreamResponse, name: str) -> None:
    # A __Host- cookie is only replaced by one that is Secure too (RFC 6265bis).
    response.set_cookie(
        name, "", max_age=0, secure=True, httponly=True, samesite="Strict", path="/"
    )


def _stale_days(request: web.Request, default: int) -> int:
    try:
        days = int(request.query.get("days", default))
    except ValueError:
        return default
    return min(max(days, 1), 3650)


def _dashboard_row(site: SiteRow, cutoff: str) -> dict[str, object]:
    """What one line of the dashboard shows, worked out here: a thousand
    sites through Jinja macros took 0.4 s of a busy CPU."""
    last = site.last
    counts = ""
    if last is not None:
        counts = ", ".join(f"{n} {s}" for s, n in last.counts.items() if n)
    return {
        "name": site.name,
        "href": quote(site.name, safe=""),
        "internet": last.internet if last else "unknown",
        "lan": last.lan if last else "unknown",
        "last": last.finished if last else None,
        "stale": site.stale(cutoff),
        "new": last.new if last else "",
        "new_critical": bool(last and last.new_critical),
        "counts": counts,
    }


async def dashboard(request: web.Request) -> web.StreamResponse:
    who = await _staff(request)
    hub = state(request)
    days = _stale_days(request, hub.stale_days)
    cutoff = stale_cutoff(days)
    shown = request.query.get("show", "all")
    sites = await hub.store.sites()
    if shown == "new-critical":
        names = await hub.store.sites_with_new_critical(now_utc() - timedelta(days=7))
        sites = [s for s in sites if s.name in names]
    elif shown == "stale":
        sites = [s for s in sites if s.stale(cutoff)]
    else:
        shown = "all"
    return _page(
        request,
        "dashboard.html.j2",
        who=who,
        rows=[_dashboard_row(s, cutoff) for s in sites],
        shown=shown,
        days=days,
        day_choices=sorted({*STALE_CHOICES, days}),
    )


async def _site_or_404(request: web.Request) -> str:
    name = request.match_info["name"]
    if not await state(request).store.sites(name):
        raise web.HTTPNotFound(text="no such site")
    return name


async def site_page(request: web.Request) -> web.StreamResponse:
    who = await _staff(request)
    name = await _site_or_404(request)
    reports = await state(request).store.reports(name)
    return _page(request, "site.html.j2", who=who, site=name, reports=reports)


async def evidence(request: web.Request) -> web.StreamResponse:
    who = await _staff(request)
    name = await _site_or_404(request)
    reports = await state(request).store.reports(name, limit=5000)
    return _page(
        request,
        "evidence.html.j2",
        who=who,
        site=name,
        reports=reports,
        printed=now_utc().strftime("%Y-%m-%d %H:%M UTC"),
    )


async def _report(request: web.Request, name: str, key: str) -> Report:
    try:
        report_id = int(request.query.get(key, request.match_info.get(key, "")))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{key}: a report number") from None
    body = await state(request).store.report_body(name, report_id)
    if body is None:
        raise web.HTTPNotFound(text="no such report")
    return Report.from_json(body)


async def diff_page(request: web.Request) -> web.StreamResponse:
    who = await _staff(request)
    name = await _site_or_404(request)
    old, new = await _report(request, name, "old"), await _report(request, name, "new")
    return _page(
        request,
        "diff.html.j2",
        who=who,
        site=name,
        old=old,
        new=new,
        diff=diff_reports(old, new),
    )


async def report_page(request: web.Request) -> web.StreamResponse:
    await _staff(request)
    name = await _site_or_404(request)
    report = await _report(request, name, "id")
    from exposcan.report.html import render_html

    response = web.Response(text=render_html(report, _lang(request)), content_type="text/html")
    response.headers["Content-Security-Policy"] = CSP
    return response


def routes() -> list[web.RouteDef]:
    return [
        web.get("/login", login_page),
        web.post("/login", login),
        web.post("/logout", logout),
        web.get("/", dashboard),
        web.get("/sites/{name}", site_page),
        web.get("/sites/{name}/evidence", evidence),
        web.get("/sites/{name}/diff", diff_page),
        web.get(r"/sites/{name}/reports/{id:\d{1,18}}", report_page),
    ]
