"""`/files/<token>` on `serve`: a file behind a one-time link, for chats where Teams takes no file.

    GET  /files/<token>    a small page naming the file, with a Download button
    POST /files/<token>    the file itself, once; the link is gone after it

The download is a POST so that link previews (Teams unfurls links it shows) cannot use the link
up. The token is random and the database keeps only its hash (storage/files.py); it expires
within the hour and with `forget`. The access log names the route, never the token
(bot/logs.py).
"""
from __future__ import annotations

import asyncio
import html
import logging
import re

from aiohttp import web

from conversations.texts import strip_markers
from storage.db import Unavailable
from storage.files import File, peek_download, purge_files, take_download

log = logging.getLogger(__name__)
ROUTE = "/files/{token}"
PURGE_SECONDS = 600
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def public_url(env: dict[str, str], host: str, port: int) -> str:
    """Where people reach `serve`: PUBLIC_URL, else http://HOST:PORT (fine on one machine)."""
    return (env.get("PUBLIC_URL") or f"http://{host}:{port}").rstrip("/")


def add_file_routes(app: web.Application, services, env: dict[str, str]) -> str:
    links = DownloadLinks(services)
    app.router.add_get(ROUTE, links.page, allow_head=False)
    app.router.add_post(ROUTE, links.download)
    app.cleanup_ctx.append(links.purging)
    base = env.get("PUBLIC_URL", "")
    if base and not base.startswith("https://"):
        return f"Files: one-time links at {base}/files/… (set PUBLIC_URL to an https address)"
    return f"Files: one-time links at {base or 'http://HOST:PORT'}/files/…"


class DownloadLinks:
    def __init__(self, services) -> None:
        self.db, self.clock, self.texts = services.db, services.clock, services.texts

    async def page(self, request: web.Request) -> web.Response:
        lang = _language(request)
        name = await self._in_db(peek_download, request.match_info["token"])
        if name is None:
            return self._gone(lang)
        body = (f"<!doctype html><html lang=\"{lang}\"><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width\">"
                f"<title>{html.escape(name)}</title>"
                f"<body style=\"font-family:sans-serif;max-width:36em;margin:3em auto\">"
                f"<p>{self._text(lang, 'files/ready', name=name)}</p>"
                f"<form method=\"post\"><button type=\"submit\">"
                f"{self._text(lang, 'files/download')}</button></form></body></html>")
        return web.Response(text=body, content_type="text/html", headers=HEADERS)

    async def download(self, request: web.Request) -> web.Response:
        file: File | None = await self._in_db(take_download, request.match_info["token"])
        if file is None:
            return self._gone(_language(request))
        name = _UNSAFE_NAME.sub("_", file.name) or "file"
        return web.Response(body=file.content, content_type=file.mime.split(";")[0].strip(), headers={
            **HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

    async def purging(self, _app: web.Application):
        """Files nobody took are deleted when their time is up, even if nothing else happens."""
        async def every_few_minutes() -> None:
            while True:
                await asyncio.sleep(PURGE_SECONDS)
                try:
                    await self._in_db(lambda session, _token, now: purge_files(session, now), "")
                except Unavailable:
                    log.warning("database unavailable while deleting old files; trying later")

        task = asyncio.ensure_future(every_few_minutes())
        yield
        task.cancel()

    def _gone(self, lang: str) -> web.Response:
        return web.Response(status=410, text=strip_markers(self.texts.render(lang, "files/gone")),
                            headers=HEADERS)

    def _text(self, lang: str, template: str, **values) -> str:
        return html.escape(strip_markers(self.texts.render(lang, template, **values)))

    async def _in_db(self, query, token: str):
        def run():
            with self.db.unit() as session:
                return query(session, token, self.clock.now())
        return await asyncio.to_thread(run)


def _language(request: web.Request) -> str:
    """Danish when the browser asks for Danish before English; English otherwise."""
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("da"):
            return "da"
        if tag.startswith("en"):
            return "en"
    return "en"
