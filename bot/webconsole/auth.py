"""Who is asking, for the web console: a session cookie, or the operator's ADMIN_TOKEN.

    cookie `mentor_console`    a random token; the database keeps its SHA-256 and when it was
                               last used (storage/console_access.py): 8 idle hours and it ends
    Authorization: Bearer T    the operator (ADMIN_TOKEN), for this one request
    ?token=T                   the operator: a session is opened and the address loses the token

Every form carries a CSRF token derived from the session cookie (a page on another site can
neither read the cookie nor compute the token); requests signed in by a Bearer header need none,
because a browser never adds that header on its own.
"""
from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

COOKIE = "mentor_console"
LANG_COOKIE = "mentor_console_lang"
CSRF_FIELD = "csrf"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "Cache-Control": "no-store",
    # Nothing to other sites; our own forms keep their Origin (with `no-referrer` a browser
    # sends `Origin: null`, and the sign-in form checks its origin).
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
# The report page keeps its own inline stylesheet (it is mailed and archived as one file).
REPORT_HEADERS = {**HEADERS, "Referrer-Policy": "no-referrer", "Content-Security-Policy":
                  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}


def csrf_token(cookie: str) -> str:
    return hashlib.sha256(b"mentor-console-csrf\0" + cookie.encode("utf-8")).hexdigest()


def csrf_valid(request: web.Request, sent: str) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not sent:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "replace"), csrf_token(cookie).encode())


def bearer(request: web.Request, admin_token: str) -> bool:
    header = request.headers.get("Authorization", "")
    return bool(admin_token) and header[:7].lower() == "bearer " and hmac.compare_digest(
        header[7:].strip().encode("utf-8", "replace"), admin_token.encode())


def query_token(request: web.Request, admin_token: str) -> bool:
    sent = request.query.get("token")
    return bool(admin_token) and sent is not None and hmac.compare_digest(
        sent.encode("utf-8", "replace"), admin_token.encode())


def set_session_cookie(response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, token, path="/console", httponly=True, samesite="Strict",
                        secure=secure)


def drop_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/console")
