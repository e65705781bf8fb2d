"""The manager's web console over real HTTP on 127.0.0.1: who gets in, with what, for how long.

Sign-in links come from `console` said to the engine; they work once, within ten minutes, and
only for managers. A session ends after eight idle hours, at sign out, and when its person is no
longer a manager. Forms need the session's CSRF token; another manager's programme is a 404;
ADMIN_TOKEN opens every programme. Cheaper than the browser tests, so the edges live here.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlmodel import select

from storage.tables import ConsoleLink, ConsoleSession, Membership, Pair, Person
from tests.console_fixtures import (
    COOKIE,
    CSRF,
    MANAGER,
    MENTEE,
    OTHER_MANAGER,
    OTHER_SLUG,
    SLUG,
    console_link,
    serve,
    services_with_two_programmes,
)
from tests.helpers import say

TOKEN = "admin-token-for-console-tests-5e1a"


@pytest.fixture
def console_services(database, clock, tmp_path):
    return services_with_two_programmes(database, clock, tmp_path)


@pytest.fixture
async def server(console_services):
    server = await serve(console_services, {"ADMIN_TOKEN": TOKEN})
    yield server
    await server.close()


def _client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _sign_in(client, server, services, email=MANAGER) -> str:
    """Follow the chat link as a browser would: the page, then its Sign in button."""
    return await _sign_in_with(client, server, urlsplit(console_link(services, email)).path)


async def _sign_in_with(client, server, path: str) -> str:
    async with client.get(server.make_url(path)) as page:
        assert page.status == 200 and "<form method=\"post\">" in await page.text()
    async with client.post(server.make_url(path), allow_redirects=False) as signed:
        assert signed.status == 303 and signed.headers["Location"] == "/console"
        assert "httponly" in signed.headers["Set-Cookie"].lower()
        assert "samesite=strict" in signed.headers["Set-Cookie"].lower()
    return path


async def _page(client, server, path: str, **kwargs) -> tuple[int, str]:
    async with client.get(server.make_url(path), allow_redirects=False, **kwargs) as response:
        return response.status, await response.text()


async def test_a_chat_link_signs_a_manager_in_once_and_shows_only_their_programmes(
        server, console_services, clock):
    async with _client() as client:
        path = await _sign_in(client, server, console_services)
        status, home = await _page(client, server, "/console")
        assert status == 200 and "Nordlys Mentoring 2026/27" in home
        assert "Fjord" not in home
        assert (await _page(client, server, f"/console/p/{OTHER_SLUG}"))[0] == 404
        status, pairs = await _page(client, server, f"/console/p/{SLUG}")
        assert status == 200 and "nordlys-02" in pairs and "Jonas Berg" in pairs
    async with _client() as stranger:  # the same link again, from anywhere: refused
        async with stranger.post(server.make_url(path), allow_redirects=False) as again:
            assert again.status == 410 and COOKIE not in again.cookies
        assert (await _page(stranger, server, path))[0] == 410
    with console_services.db.unit() as session:  # only hashes are kept
        token = path.rsplit("/", 1)[1]
        assert all(token not in (row.token_hash,) for row in session.exec(select(ConsoleSession)))
        assert session.exec(select(ConsoleLink)).first() is None


async def test_a_link_is_not_used_from_a_form_on_another_site(server, console_services):
    path = urlsplit(console_link(console_services)).path
    async with _client() as client:
        async with client.post(server.make_url(path), allow_redirects=False,
                               headers={"Origin": "https://evil.example"}) as forged:
            assert forged.status == 403 and COOKIE not in forged.cookies
        await _sign_in_with(client, server, path)  # still unused: it works from here


async def test_a_link_expires_after_ten_minutes_and_a_participant_gets_none(
        server, console_services, clock):
    path = urlsplit(console_link(console_services)).path
    clock.advance(minutes=10, seconds=1)
    async with _client() as client:
        status, page = await _page(client, server, path)
        assert status == 410 and "console" in page
        async with client.post(server.make_url(path), allow_redirects=False) as late:
            assert late.status == 410
    replies = say(console_services, MENTEE, "console")
    assert "programme managers" in replies[0] and "/console/in/" not in replies[0]
    danish = say(console_services, "sofie.lund@example.org", "konsol")
    assert "forløbsledere" in danish[0]
    assert "/console/in/" in say(console_services, OTHER_MANAGER, "konsol")[0]


async def test_sessions_end_when_idle_signed_out_or_removed_from_the_roster(
        server, console_services, clock):
    async with _client() as client:
        await _sign_in(client, server, console_services)
        clock.advance(hours=7, minutes=59)
        assert (await _page(client, server, "/console"))[0] == 200  # use renews it
        clock.advance(hours=7, minutes=59)
        assert (await _page(client, server, "/console"))[0] == 200
        clock.advance(hours=8, minutes=1)
        status, page = await _page(client, server, "/console")
        assert status == 401 and "Please sign in" in page

    async with _client() as client:
        await _sign_in(client, server, console_services)
        status, home = await _page(client, server, "/console")
        csrf = CSRF.search(home).group(1)
        async with client.post(server.make_url("/console/out"), data={"csrf": csrf}) as out:
            assert out.status == 200 and "signed out" in await out.text()
        assert (await _page(client, server, "/console"))[0] == 401

    async with _client() as client:
        await _sign_in(client, server, console_services)
        with console_services.db.unit() as session:  # the roster no longer names her manager
            maja = session.exec(select(Person).where(Person.email == MANAGER)).one()
            for membership in session.exec(select(Membership).where(
                    Membership.person_id == maja.id)):
                membership.active = False
                session.add(membership)
        assert (await _page(client, server, "/console"))[0] == 401
        with console_services.db.unit() as session:
            assert session.exec(select(ConsoleSession)).first() is None


async def test_forget_signs_a_manager_out_everywhere_and_drops_their_unused_links(
        server, console_services):
    async with _client() as client:
        await _sign_in(client, server, console_services)
        console_link(console_services, MANAGER)  # a second link, asked for and never opened
        assert (await _page(client, server, "/console"))[0] == 200
        say(console_services, MANAGER, "forget confirm")
        assert (await _page(client, server, "/console"))[0] == 401
    with console_services.db.unit() as session:
        assert session.exec(select(ConsoleSession)).first() is None
        assert session.exec(select(ConsoleLink)).first() is None


async def test_forms_need_the_sessions_csrf_token(server, console_services):
    async with _client() as client:
        await _sign_in(client, server, console_services)
        _, page = await _page(client, server, f"/console/p/{SLUG}")
        csrf = CSRF.search(page).group(1)
        url = server.make_url(f"/console/p/{SLUG}/followup")
        for sent in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": csrf[:-1]}):
            async with client.post(url, data={**sent, "pair": "nordlys-02"},
                                   allow_redirects=False) as refused:
                assert refused.status == 403, sent
        with console_services.db.unit() as session:
            assert session.exec(select(Pair).where(Pair.key == "nordlys-02")).one() \
                .followed_up_at is None
        async with client.post(url, data={"csrf": csrf, "pair": "nordlys-02"},
                               allow_redirects=False) as marked:
            assert marked.status == 303
        _, page = await _page(client, server, f"/console/p/{SLUG}?marked=nordlys-02")
        assert "marked as followed up" in page
        async with client.post(server.make_url(f"/console/p/{OTHER_SLUG}/followup"),
                               data={"csrf": csrf, "pair": "fjord-01"}) as other:
            assert other.status == 404
    async with _client() as outsider, outsider.post(url, data={"pair": "nordlys-02"}) as nobody:
        assert nobody.status == 401  # no session at all


async def test_the_operator_token_opens_every_programme_and_pages_are_locked_down(server):
    async with _client() as client:
        async with client.get(server.make_url(f"/console?token={TOKEN}"),
                              allow_redirects=False) as login:
            assert login.status == 303 and TOKEN not in login.headers["Location"]
        status, home = await _page(client, server, "/console")
        assert status == 200 and "Nordlys" in home and "Fjord" in home
    async with _client() as client:
        status, page = await _page(client, server, f"/console/p/{OTHER_SLUG}",
                                   headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and "Kim Vang" in page
        assert (await _page(client, server, "/console",
                            headers={"Authorization": "Bearer wrong"}))[0] == 401
        async with client.get(server.make_url("/console")) as response:
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "script-src 'none'" in csp
            assert "<script" not in await response.text()
