"""`/console` on `serve`: the programme manager's web console (web adapter).

    GET  /console                          your programmes (or how to sign in)
    GET  /console/in/<token>               the one-time link from chat: a Sign in button
    POST /console/in/<token>               uses the link up and opens a session
    POST /console/out                      sign out
    GET  /console/p/<slug>                 pairs and groups: health and why, meetings, follow-up
    POST /console/p/<slug>/followup        mark a pair followed up
    GET  /console/p/<slug>/report[.csv]    the programme report (bot/report)
    …/import and …/announce                see importing.py and announcing.py

A manager sees the programmes they manage now, nothing else (someone else's programme is a 404,
like one that does not exist); ADMIN_TOKEN opens every programme. Every page is served with a
strict Content-Security-Policy and no script at all; every form works without JavaScript.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.report.admin import cookie_secure
from bot.report.csv import render_csv
from bot.report.html import render_html
from bot.webconsole import auth, pages
from bot.webconsole.auth import CSRF_FIELD, HEADERS
from conversations.health import programme_report
from storage import console_access as access
from storage.console_access import Visitor
from storage.managers import mark_followed_up
from storage.tables import Programme

log = logging.getLogger(__name__)
SEVERITY = {"silent": 0, "drooping": 1, "meeting": 2, "ended": 3}
MAX_FORM = 2 * 1024 * 1024  # a roster upload fits easily


@dataclass
class Asked:
    """One signed-in request: who, in which language, and the CSRF token for its forms."""

    visitor: Visitor
    lang: str
    csrf: str


@dataclass(frozen=True)
class PairRow:
    """What the console shows of a pair: names, health and dates; never what anyone wrote."""

    key: str
    names: tuple[str, ...]
    status: str
    weeks_quiet: int
    met: bool
    flagged: bool
    last_met: date | None
    next_at: datetime | None
    followed_up: date | None


Handler = Callable[[web.Request, Asked], Awaitable[web.StreamResponse]]


class Console:
    def __init__(self, services, env: dict[str, str]) -> None:
        self.services = services
        self.db, self.clock = services.db, services.clock
        self.admin_token = env.get("ADMIN_TOKEN", "").strip()
        self.secure = cookie_secure(env)

    # -- plumbing -------------------------------------------------------------------------

    async def in_db(self, work: Callable, *args):
        def run():
            with self.db.unit() as session:
                return work(session, *args)
        return await asyncio.to_thread(run)

    def page(self, asked: Asked | None, lang: str, template: str, *, status: int = 200,
             **values) -> web.Response:
        body = pages.render(lang, template, asked=asked, csrf_field=CSRF_FIELD, **values)
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                            headers=HEADERS)

    def lang_of(self, request: web.Request, visitor: Visitor | None = None) -> str:
        person = visitor.person if visitor else None
        return pages.language(request.query.get("lang"), request.cookies.get(auth.LANG_COOKIE),
                              person.language if person else None, _accepted(request))

    def signed_in(self, handler: Handler, *, form: bool = False):
        """Only for a visitor with a session (or the operator's Bearer token); a form must
        carry the session's CSRF token."""
        async def guarded(request: web.Request) -> web.StreamResponse:
            if auth.query_token(request, self.admin_token):
                return await self._operator_session(request)
            cookie = request.cookies.get(auth.COOKIE, "")
            if auth.bearer(request, self.admin_token):
                visitor, csrf = Visitor(None), ""
            else:
                now = self.clock.now()
                visitor = await self.in_db(access.visitor_of, cookie, now) if cookie else None
                csrf = auth.csrf_token(cookie) if cookie else ""
            lang = self.lang_of(request, visitor)
            if visitor is None:
                log.info("%s %s: 401, no console session", request.method, request.path)
                response = self.page(None, lang, "signin_needed.html.j2", status=401)
                if cookie:
                    auth.drop_session_cookie(response)
                return response
            if form:
                data = await request.post()
                if csrf and not auth.csrf_valid(request, str(data.get(CSRF_FIELD, ""))):
                    log.info("%s %s: 403, CSRF token missing or wrong", request.method,
                             request.path)
                    return self.page(None, lang, "forbidden.html.j2", status=403)
            response = await handler(request, Asked(visitor, lang, csrf))
            if "lang" in request.query and request.query["lang"] == lang:
                response.set_cookie(auth.LANG_COOKIE, lang, path="/console", httponly=True,
                                    samesite="Lax", secure=self.secure or request.secure,
                                    max_age=365 * 86400)
            return response
        return guarded

    async def _operator_session(self, request: web.Request) -> web.StreamResponse:
        token = await self.in_db(access.open_session, None, self.clock.now())
        query = request.rel_url.query.copy()
        query.popall("token", None)
        response = web.Response(status=303, headers={
            **HEADERS, "Location": str(request.rel_url.with_query(query))})
        auth.set_session_cookie(response, token, self.secure or request.secure)
        return response

    async def programme_or_404(self, request: web.Request, asked: Asked) -> Programme:
        slug = request.match_info["slug"]
        programme = await self.in_db(access.visible_programme, asked.visitor, slug)
        if programme is None:  # unknown, or not yours: the same answer
            raise web.HTTPNotFound(text=pages.render(asked.lang, "not_found.html.j2",
                                                     asked=asked, csrf_field=CSRF_FIELD),
                                   content_type="text/html", headers=HEADERS)
        return programme

    # -- signing in and out -----------------------------------------------------------------

    async def link_page(self, request: web.Request) -> web.Response:
        lang = self.lang_of(request)
        works = await self.in_db(access.link_works, request.match_info["token"],
                                 self.clock.now())
        if not works:
            return self.page(None, lang, "link_gone.html.j2", status=410)
        return self.page(None, lang, "link.html.j2")

    async def use_link(self, request: web.Request) -> web.Response:
        lang = self.lang_of(request)
        if not _same_origin(request):  # another site cannot sign a browser in to its session
            log.info("console sign-in refused: the form came from another site")
            return self.page(None, lang, "forbidden.html.j2", status=403)
        token = await self.in_db(access.redeem_link, request.match_info["token"],
                                 self.clock.now())
        if token is None:
            log.info("console sign-in refused: the link is used, expired or unknown")
            return self.page(None, lang, "link_gone.html.j2", status=410)
        response = web.Response(status=303, headers={**HEADERS, "Location": "/console"})
        auth.set_session_cookie(response, token, self.secure or request.secure)
        return response

    async def sign_out(self, request: web.Request, asked: Asked) -> web.Response:
        if asked.visitor.session_hash:
            await self.in_db(access.end_session, asked.visitor.session_hash)
        response = self.page(None, asked.lang, "signed_out.html.j2")
        auth.drop_session_cookie(response)
        return response

    # -- programmes -------------------------------------------------------------------------

    async def index(self, request: web.Request, asked: Asked) -> web.Response:
        programmes = await self.in_db(access.visible_programmes, asked.visitor)
        return self.page(asked, asked.lang, "programmes.html.j2", programmes=programmes)

    async def programme(self, request: web.Request, asked: Asked) -> web.Response:
        programme = await self.programme_or_404(request, asked)
        view = await self.in_db(self._programme_view, programme.id)
        return self.page(asked, asked.lang, "programme.html.j2", **view,
                         marked=request.query.get("marked", ""))

    def _programme_view(self, session, programme_id: int) -> dict:
        now = self.clock.now()
        programme = session.get(Programme, programme_id)
        health = programme_report(session, programme, now)
        zone = ZoneInfo(programme.timezone)
        upcoming = access.next_meetings(session, programme_id, now)
        marks = access.follow_ups(session, programme_id)
        rows = [PairRow(p.key, p.names, p.status, p.weeks_quiet, p.last_met is not None,
                        p.flagged, p.last_met,
                        upcoming[p.key].astimezone(zone) if p.key in upcoming else None,
                        marks[p.key].astimezone(zone).date() if marks.get(p.key) else None)
                for p in sorted(health.pairs, key=lambda p: (SEVERITY.get(p.status, 0), p.key))]
        return {"programme": programme, "health": health, "rows": rows}

    async def followup(self, request: web.Request, asked: Asked) -> web.Response:
        programme = await self.programme_or_404(request, asked)
        key = str((await request.post()).get("pair", ""))[:80]
        marked = await self.in_db(mark_followed_up, programme.id, key, self.clock.now())
        if not marked:
            raise web.HTTPNotFound(headers=HEADERS)
        location = request.app.router["console_programme"].url_for(slug=programme.slug)
        raise web.HTTPSeeOther(location.with_query(marked=key).with_fragment(f"pair-{key}"),
                               headers=HEADERS)

    async def report(self, request: web.Request, asked: Asked) -> web.Response:
        programme = await self.programme_or_404(request, asked)
        health = await self.in_db(lambda s: programme_report(s, s.get(Programme, programme.id),
                                                             self.clock.now()))
        if request.match_info.get("csv"):
            return web.Response(text=render_csv(health), content_type="text/csv",
                                charset="utf-8", headers={
                                    **HEADERS, "Content-Disposition":
                                    f'attachment; filename="{programme.slug}-report.csv"'})
        page = await asyncio.to_thread(render_html, health, asked.lang)
        return web.Response(text=page, content_type="text/html", charset="utf-8",
                            headers=auth.REPORT_HEADERS)

    async def stylesheet(self, request: web.Request) -> web.Response:
        return web.Response(text=pages.CSS, content_type="text/css", headers={
            "Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


def _same_origin(request: web.Request) -> bool:
    """No `Origin` (an older browser), or this server's own host."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def _accepted(request: web.Request) -> str | None:
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in ("da", "en"):
            return tag
    return None


def add_console_routes(app: web.Application, services, env: dict[str, str]) -> str:
    """Add /console to the app; returns a line for the start-up banner."""
    if env.get("PUBLIC_URL"):
        services.engine.public_url = env["PUBLIC_URL"]
    from bot.webconsole.announcing import add_announce_routes
    from bot.webconsole.importing import add_import_routes

    console = Console(services, env)
    guard = console.signed_in
    router = app.router
    router.add_get("/console", guard(console.index), name="console_home")
    router.add_get("/console/static/console.css", console.stylesheet)
    router.add_get("/console/in/{token}", console.link_page, allow_head=False)
    router.add_post("/console/in/{token}", console.use_link)
    router.add_post("/console/out", guard(console.sign_out, form=True))
    router.add_get("/console/p/{slug}", guard(console.programme), name="console_programme")
    router.add_post("/console/p/{slug}/followup", guard(console.followup, form=True))
    router.add_get("/console/p/{slug}/report", guard(console.report))
    router.add_get("/console/p/{slug}/report{csv:\\.csv}", guard(console.report))
    add_import_routes(app, console)
    add_announce_routes(app, console)
    return (f"Manager console: on at {env.get('PUBLIC_URL', '')}/console "
            "(managers say `console` in chat for a sign-in link)")
