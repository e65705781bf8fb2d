"""`/admin` in `serve`: the programme reports for whoever holds ADMIN_TOKEN (web adapter).

    GET /admin                 the programmes, with links          (?lang=en|da)
    GET /admin/<slug>          one programme's report as HTML      (?lang=en|da)
    GET /admin/<slug>.csv      the same figures as CSV

The token comes as `Authorization: Bearer <token>` or once as `?token=<token>`; a good token
in the query also sets an HttpOnly cookie (a keyed hash of the token, not the token), so the
links on the page work without carrying the token. Without ADMIN_TOKEN the pages do not exist
(404) and the log says how to turn them on; a missing or wrong token is 401. The token never
reaches the log: the access log line is redacted.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re

from aiohttp import web

from bot.report.csv import render_csv
from bot.report.html import language, render_admin, render_html
from conversations.health import programme_report
from storage import report

log = logging.getLogger(__name__)
COOKIE = "mentor_admin"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']*", re.IGNORECASE)


class _RedactToken(logging.Filter):
    """Access log lines show `token=[redacted]`, never the admin token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg.lower():
            record.msg = _TOKEN_IN_URL.sub(r"\1[redacted]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_URL.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def _install_redaction() -> None:
    access = logging.getLogger("aiohttp.access")
    if not any(isinstance(f, _RedactToken) for f in access.filters):
        access.addFilter(_RedactToken())


def _cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"mentor-admin-cookie", hashlib.sha256).hexdigest()


def _authorised(request: web.Request, token: str) -> tuple[bool, bool]:
    """(allowed, came with the query token); compared in constant time."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and hmac.compare_digest(header[7:].strip().encode(),
                                                               token.encode()):
        return True, False
    query = request.query.get("token")
    if query is not None and hmac.compare_digest(query.encode(), token.encode()):
        return True, True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(),
                                                _cookie_value(token).encode()), False


def add_admin_routes(app: web.Application, services, env: dict[str, str]) -> str:
    """Add /admin to the app; returns a line for the start-up banner."""
    token = env.get("ADMIN_TOKEN", "").strip()
    _install_redaction()

    if not token:
        log.warning("ADMIN_TOKEN is not set, so /admin (the programme reports) answers 404; "
                    "set ADMIN_TOKEN to a long random value to turn it on")

        async def off(request: web.Request) -> web.Response:
            log.info("%s %s: 404 because ADMIN_TOKEN is not set (set it to serve the reports)",
                     request.method, request.path)
            raise web.HTTPNotFound()

        app.router.add_get("/admin", off)
        app.router.add_get("/admin/{name}", off)
        return "Admin reports: off (set ADMIN_TOKEN to serve /admin)"

    def guard(handler):
        async def guarded(request: web.Request) -> web.StreamResponse:
            allowed, from_query = _authorised(request, token)
            if not allowed:
                log.info("%s %s: 401, no valid admin token", request.method, request.path)
                raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="admin"',
                                                    **HEADERS})
            response = await handler(request)
            response.headers.update(HEADERS)
            if from_query:
                response.set_cookie(COOKIE, _cookie_value(token), path="/admin", httponly=True,
                                    samesite="Strict", max_age=8 * 3600,
                                    secure=request.secure or
                                    request.headers.get("X-Forwarded-Proto") == "https")
            return response
        return guarded

    async def index(request: web.Request) -> web.Response:
        lang = language(request.query.get("lang"))
        page = await asyncio.to_thread(_index, services, lang)
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def programme(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        as_csv = name.endswith(".csv")
        slug = name.removesuffix(".csv")
        health = await asyncio.to_thread(_health, services, slug)
        if health is None:
            raise web.HTTPNotFound()
        if as_csv:
            body = render_csv(health)
            return web.Response(text=body, content_type="text/csv", charset="utf-8", headers={
                "Content-Disposition": f'attachment; filename="{slug}-report.csv"'})
        lang = language(request.query.get("lang"), health.programme.language)
        page = await asyncio.to_thread(render_html, health, lang)
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    app.router.add_get("/admin", guard(index))
    app.router.add_get("/admin/{name}", guard(programme))
    return "Admin reports: on at /admin (ADMIN_TOKEN as a Bearer token or ?token=)"


def _index(services, lang: str) -> str:
    with services.db.unit() as session:
        known = report.programmes(session)
    return render_admin(known, lang)


def _health(services, slug: str) -> report.Report | None:
    with services.db.unit() as session:
        programme = report.programme_by_slug(session, slug)
        if programme is None:
            return None
        return programme_report(session, programme, services.clock.now())
