"""`/admin` in `serve`: the programme reports for whoever holds ADMIN_TOKEN (web adapter).

    GET /admin                 the programmes, with links          (?lang=en|da)
    GET /admin/<slug>          one programme's report as HTML      (?lang=en|da)
    GET /admin/<slug>.csv      the same figures as CSV

The token comes as `Authorization: Bearer <token>` or once as `?token=<token>`. A good token
in the query is answered with a redirect (303) to the same page without it, setting an
HttpOnly session cookie: its issue time and an HMAC of it under a key derived from the token
(never the token itself). The server refuses the cookie once it is older than eight hours,
whatever the browser keeps, and every cookie dies when ADMIN_TOKEN changes. The cookie is
`Secure` unless `HOST` is a loopback address (`COOKIE_SECURE=1`/`0` overrides, e.g. behind a
TLS proxy). Without ADMIN_TOKEN the pages do not exist (404) and the log says how to turn
them on; a missing or wrong token is 401. The token never reaches the log: the access log
line is redacted.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import re
from datetime import datetime, timedelta

from aiohttp import web

from bot.report.csv import render_csv
from bot.report.html import language, render_admin, render_html
from conversations.health import programme_report
from storage import report

log = logging.getLogger(__name__)
COOKIE = "mentor_admin"
SESSION = timedelta(hours=8)
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


def _cookie_key(token: str) -> bytes:
    return hmac.new(token.encode(), b"mentor-admin-session-key", hashlib.sha256).digest()


def session_cookie(token: str, issued: datetime) -> str:
    """`<issue time, unix seconds>.<HMAC of it>`: the server, not the browser, judges its age."""
    return _signed(token, str(int(issued.timestamp())))


def _signed(token: str, stamp: str) -> str:
    return f"{stamp}.{hmac.new(_cookie_key(token), stamp.encode(), hashlib.sha256).hexdigest()}"


def _session_valid(cookie: str, token: str, now: datetime) -> bool:
    stamp, _, _ = cookie.partition(".")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return False
    if not hmac.compare_digest(cookie.encode(), _signed(token, stamp).encode()):
        return False
    age = now.timestamp() - int(stamp)
    return -60 <= age <= SESSION.total_seconds()  # a minute of clock skew between replicas


def _authorised(request: web.Request, token: str, now: datetime) -> tuple[bool, bool]:
    """(allowed, came with the query token); compared in constant time. A good token in the
    address wins, so it is always redirected away."""
    query = request.query.get("token")
    if query is not None and hmac.compare_digest(query.encode(), token.encode()):
        return True, True
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and hmac.compare_digest(header[7:].strip().encode(),
                                                               token.encode()):
        return True, False
    return _session_valid(request.cookies.get(COOKIE, ""), token, now), False


def cookie_secure(env: dict[str, str]) -> bool:
    """`Secure` unless `serve` listens on loopback only; COOKIE_SECURE=1/0 says it outright."""
    if env.get("COOKIE_SECURE", "").strip() in ("0", "1"):
        return env["COOKIE_SECURE"].strip() == "1"
    host = env.get("HOST", "").strip() or "127.0.0.1"
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True


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

    secure = cookie_secure(env)

    def guard(handler):
        async def guarded(request: web.Request) -> web.StreamResponse:
            now = services.clock.now()
            allowed, from_query = _authorised(request, token, now)
            if not allowed:
                log.info("%s %s: 401, no valid admin token or session", request.method,
                         request.path)
                raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="admin"',
                                                    **HEADERS})
            if from_query:  # the token leaves the address bar (and history) at once
                query = request.rel_url.query.copy()
                query.popall("token", None)
                response = web.Response(status=303, headers={
                    **HEADERS, "Location": str(request.rel_url.with_query(query))})
                response.set_cookie(COOKIE, session_cookie(token, now), path="/admin",
                                    httponly=True, samesite="Strict",
                                    max_age=int(SESSION.total_seconds()),
                                    secure=secure or request.secure)
                return response
            response = await handler(request)
            response.headers.update(HEADERS)
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
