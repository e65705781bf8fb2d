"""Announcements from the web console, over real HTTP, delivered through the real outbox.

Compose with an audience, an event time and a sending time; the preview shows the message as a
mentor and a mentee read it in each language; Send puts it in the outbox like the chat command's
confirm (with RSVP buttons); a scheduled one can be cancelled until it goes out, and then nobody
gets it; the status line counts delivered, waiting, unreachable and RSVPs.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlmodel import select

from storage.tables import Announcement
from tests.console_fixtures import CSRF, MANAGER, SLUG, console_link, serve
from tests.console_fixtures import services_with_two_programmes as with_two
from tests.fakes import RecordingMessenger
from tests.helpers import press

TOKEN = "operator-token-for-announce-tests-77"


@pytest.fixture
def messenger():
    return RecordingMessenger()


@pytest.fixture
def console_services(sqlite_database, clock, tmp_path, messenger):
    services = with_two(sqlite_database, clock, tmp_path)
    services.dispatcher.messenger = messenger
    return services


@pytest.fixture
async def client(console_services):
    server = await serve(console_services, {"ADMIN_TOKEN": TOKEN})
    async with aiohttp.ClientSession(base_url=str(server.make_url("")),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.post(urlsplit(console_link(console_services)).path) as signed_in:
            assert signed_in.status == 200
        yield client
    await server.close()


async def _compose(client, **fields) -> tuple[int, str]:
    async with client.get(f"/console/p/{SLUG}/announce") as form:
        csrf = CSRF.search(await form.text()).group(1)
    async with client.post(f"/console/p/{SLUG}/announce", data={"csrf": csrf, **fields}) as r:
        return r.status, await r.text()


def _action(page: str, verb: str) -> tuple[str, str]:
    path = re.search(rf'action="(/console/p/{SLUG}/announce/\d+/{verb})"', page).group(1)
    return path, CSRF.search(page).group(1)


async def test_compose_preview_send_and_follow_the_status(client, console_services, messenger,
                                                          clock):
    status, page = await _compose(client, audience="everyone", event_at="2026-09-14T14:00",
                                  when="now", text="Kick-off workshop, room 3. See you, "
                                                   "{{ first_name }}!")
    assert status == 200 and "Nothing is sent yet" in page and "9 people will get it" in page
    assert "A mentor (Grace Okafor), in English" in page and "A mentee" in page
    assert "in Danish" in page and "Hvornår:" in page and "See you, Grace!" in page
    assert not messenger.sent
    path, csrf = _action(page, "send")
    async with client.post(path, data={"csrf": csrf}, allow_redirects=False) as sent:
        assert sent.status == 303 and "done=sent" in sent.headers["Location"]
    clock.advance(hours=3)  # 09:00 in Copenhagen: working hours for most
    await console_services.pump()
    got = messenger.texts_for("jonas.berg@example.org")
    assert any("Kick-off workshop, room 3. See you, Jonas!" in t for t in got)
    assert "coming" not in got[-1]  # the RSVP is a button, not words
    assert press(console_services, "jonas.berg@example.org", "rsvp",
                 f"{_latest(console_services).id}:yes")
    async with client.get(f"/console/p/{SLUG}/announce") as listing:
        text = await listing.text()
    assert "1 coming, 0 not coming" in text and "delivered" in text


async def test_a_scheduled_announcement_is_cancelled_before_it_goes_out(client, console_services,
                                                                        messenger, clock):
    status, page = await _compose(client, audience="mentees", when="later",
                                  send_at="2026-09-03T10:00", text="Peer group on Thursday")
    assert status == 200 and "it goes out from" in page and "A mentor" not in page
    path, csrf = _action(page, "send")
    async with client.post(path, data={"csrf": csrf}, allow_redirects=False) as scheduled:
        assert "done=later" in scheduled.headers["Location"]
    async with client.get(f"/console/p/{SLUG}/announce") as listing:
        page = await listing.text()
    assert "goes out" in page and "Cancel it" in page
    path, csrf = _action(page, "cancel")
    async with client.post(path, data={"csrf": csrf}, allow_redirects=False) as cancelled:
        assert "done=cancelled" in cancelled.headers["Location"]
    async with client.post(path, data={"csrf": csrf}) as again:  # cancelled already
        assert again.status == 409
    clock.advance(days=3)
    await console_services.pump()
    assert not any("Peer group" in s.text for s in messenger.sent)


async def test_refusals_come_in_words_and_the_operator_only_reads(client, console_services):
    status, page = await _compose(client, audience="mentees", when="later",
                                  send_at="2026-08-01T10:00", text="Old news")
    assert status == 422 and "sending time in the future" in page
    status, page = await _compose(client, audience="everyone", text="Hi {{ salary }}")
    assert status == 422 and "isn&#39;t a field I can fill in" in page
    with console_services.db.unit() as session:
        assert session.exec(select(Announcement)).first() is None
    async with aiohttp.ClientSession(base_url=str(client._base_url)) as operator:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with operator.post(f"/console/p/{SLUG}/announce", headers=headers,
                                 data={"audience": "everyone", "text": "x"}) as refused:
            assert refused.status == 403


def _latest(services) -> Announcement:
    with services.db.unit() as session:
        return session.exec(select(Announcement).order_by(Announcement.id.desc())).first()


__all__ = ["MANAGER"]
