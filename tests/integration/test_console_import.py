"""Import in the web console, over real HTTP: the command line's checks and import, previewed.

A roster with a bad row shows the same line-numbered problem as `app.py import` and stores
nothing; a good one shows who joins, changes and leaves (and who loses the console) while the
database stays as it was; Apply does exactly that, and a second Apply changes nothing. A
programme file of another programme is refused.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlmodel import select

from storage.tables import Membership, Person
from tests.console_fixtures import CSRF, SLUG, console_link, serve, services_with_two_programmes
from tests.helpers import ROOT, snapshot

ROSTER = (ROOT / "examples" / "roster.csv").read_text(encoding="utf-8")
# Omar leaves nordlys-04, Nina joins it as a mentee, and Jonas's line has an impossible zone.
CHANGED = (ROSTER.replace("omar.haddad@example.org,Omar Haddad,mentee,nordlys-04,Europe/Copenhagen,en\n", "")
           + "nina.berg@example.org,Nina Berg,mentee,nordlys-04,Europe/Oslo,da\n")
BAD = CHANGED.replace("jonas.berg@example.org,Jonas Berg,mentee,nordlys-02,Europe/Copenhagen",
                      "jonas.berg@example.org,Jonas Berg,mentee,nordlys-02,Europe/Copenhagn")


@pytest.fixture
def console_services(database, clock, tmp_path):
    return services_with_two_programmes(database, clock, tmp_path)


@pytest.fixture
async def client(console_services):
    server = await serve(console_services, {})
    async with aiohttp.ClientSession(base_url=str(server.make_url("")),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        path = urlsplit(console_link(console_services)).path
        async with client.post(path) as signed_in:
            assert signed_in.status == 200
        yield client
    await server.close()


async def _upload(client, csrf: str, roster: str, toml: str | None = None):
    form = aiohttp.FormData()
    form.add_field("csrf", csrf)
    form.add_field("roster", roster.encode(), filename="roster.csv", content_type="text/csv")
    if toml is not None:
        form.add_field("programme_file", toml.encode(), filename="programme.toml")
    async with client.post(f"/console/p/{SLUG}/import/preview", data=form) as response:
        return response.status, await response.text()


def _hidden(page: str) -> dict[str, str]:
    import re
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


async def test_a_bad_row_then_a_good_roster_previewed_and_applied_once(client, console_services):
    async with client.get(f"/console/p/{SLUG}/import") as form:
        page = await form.text()
        assert form.status == 200 and 'enctype="multipart/form-data"' in page
    csrf = CSRF.search(page).group(1)
    before = snapshot(console_services.db)

    status, page = await _upload(client, csrf, BAD)
    assert status == 422 and "Nothing was imported" in page
    assert "line 6: &#34;Europe/Copenhagn&#34; is not a time zone name" in page
    assert snapshot(console_services.db) == before

    status, page = await _upload(client, csrf, CHANGED)
    assert status == 200 and "nothing has changed yet" in page
    assert "Nina Berg" in page and "1 person joins" in page
    assert "Omar Haddad" in page and "1 person leaves and loses access" in page
    assert snapshot(console_services.db) == before

    async with client.post(f"/console/p/{SLUG}/import/apply", data=_hidden(page)) as applied:
        text = await applied.text()
        assert applied.status == 200 and "Applied." in text and "What changed" in text
    with console_services.db.unit() as session:
        emails = {p.email for p, m in session.exec(
            select(Person, Membership).join(Membership, Membership.person_id == Person.id)
            .where(Membership.active))}
    assert "nina.berg@example.org" in emails and "omar.haddad@example.org" not in emails

    after = snapshot(console_services.db)
    async with client.post(f"/console/p/{SLUG}/import/apply", data=_hidden(page)) as again:
        assert "Nothing changed" in await again.text()
    assert snapshot(console_services.db) == after


async def test_the_manager_who_removes_herself_is_told_and_signed_out(client, console_services):
    async with client.get(f"/console/p/{SLUG}/import") as form:
        csrf = CSRF.search(await form.text()).group(1)
    without_maja = ROSTER.replace("maja.kruse@example.org,Maja Kruse,manager,,Europe/Copenhagen,en\n",
                                  "")
    status, page = await _upload(client, csrf, without_maja)
    assert status == 200 and "No longer managers" in page and "Maja Kruse" in page
    async with client.post(f"/console/p/{SLUG}/import/apply", data=_hidden(page)) as applied:
        assert applied.status == 200
    async with client.get("/console") as home:
        assert home.status == 401


async def test_a_programme_file_of_another_programme_is_refused(client, console_services,
                                                               tmp_path):
    async with client.get(f"/console/p/{SLUG}/import") as form:
        csrf = CSRF.search(await form.text()).group(1)
    before = snapshot(console_services.db)
    fjord = (tmp_path / "fjord.toml").read_text(encoding="utf-8")
    status, page = await _upload(client, csrf, ROSTER, fjord)
    assert status == 422 and "Fjord Mentoring 2026" in page
    status, page = await _upload(client, csrf, "")
    assert status == 422 and "choose the roster" in page
    assert snapshot(console_services.db) == before
