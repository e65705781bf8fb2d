"""The programme report end to end, on the sample programme simulated start to end (once per
module): a secret written into every private field never reaches the manager's chat `report`,
the HTML page, the CSV, `app.py report`, `/admin` over real HTTP, or the logs; small groups are
hidden; the page is self-contained, well-formed and renders in a browser with no network."""
from __future__ import annotations

import asyncio
import io
import logging
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlmodel import select

from app import build
from bot.report import cli
from bot.report.admin import add_admin_routes
from bot.report.csv import render_csv
from bot.report.html import render_html
from bot.routing import RoutingMessenger
from bot.simulation.run import simulate
from bot.web import make_app
from conversations.clock import FakeClock
from conversations.health import programme_report
from conversations.texts import Texts
from storage import report
from storage.db import Database
from storage.tables import Programme
from tests.fakes import RecordingMessenger
from tests.helpers import SAMPLE, say

SECRET = "ZEBRA-SECRET-42"
TOKEN = "admin-token-for-tests-7f3a9c"
MANAGER, MENTEE = "maja.kruse@example.org", "jonas.berg@example.org"
MENTOR = "grace.okafor@example.org"
DRIVE_AT = datetime(2027, 6, 22, 8, 0, tzinfo=timezone.utc)  # inside the programme
REPORT_AT = datetime(2027, 9, 10, 8, 0, tzinfo=timezone.utc)  # after everything the sim did
PROGRAMME_NAME = 'Nordlys <Mentoring> & "Co"'
TOM_NAME = '=HYPERLINK("x") <i>Tom</i> Becker'
CHROMIUM = Path("/usr/bin/chromium")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Simulated:
    db: Database
    services: object  # what the manager's chat and /admin use, on a clock after the programme
    slug: str
    logs: _Records


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Simulated:
    path = tmp_path_factory.mktemp("report") / "simulation.db"
    records = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        assert simulate(pairs=0, as_json=True, programme_file=SAMPLE, out=io.StringIO(),
                        keep_db=path) == 0
        db = Database(f"sqlite:///{path}")
        driver = build(clock=FakeClock(DRIVE_AT), messenger=RecordingMessenger(), db=db)
        # Private text written the way people write it: a meeting note, an agenda, an answer.
        assert any("Logged" in r for r in say(driver, MENTEE, f"log yesterday 10:00 1h {SECRET}"))
        assert any("Sent to" in r for r in say(driver, MENTEE, f"agenda 1) {SECRET}"))
        asyncio.run(driver.pump())  # the agenda reaches the mentor; a reflection is asked
        say(driver, MENTEE, f"{SECRET} is what I learned")
        _plant_secrets(db)
    finally:
        root.removeHandler(records)
        root.setLevel(level)
    services = build(clock=FakeClock(REPORT_AT), messenger=RecordingMessenger(), db=db)
    with db.unit() as session:
        slug = session.exec(select(Programme.slug)).one()
    yield Simulated(db, services, slug, records)
    db.dispose()


def _plant_secrets(db: Database) -> None:
    """Every private field holds the secret; a few open answers are meant to be shown."""
    with db.engine.begin() as conn:
        run = lambda sql, **values: conn.execute(text(sql), values)  # noqa: E731
        run("UPDATE meeting SET note = :s", s=f"note {SECRET}")
        run("UPDATE agenda SET text = :s", s=f"agenda {SECRET}")
        run("UPDATE answer SET text = :s WHERE form LIKE 'reflection:%' OR form = 'baseline'",
            s=f"reflection or goal {SECRET}")
        run("UPDATE delivery SET text = text || :s", s=f" {SECRET}")
        # "after": only two people wrote something, and it is the secret: below the minimum.
        run("UPDATE answer SET text = '' WHERE form = 'evaluation' AND question = 'after'")
        run("UPDATE answer SET text = :s WHERE form = 'evaluation' AND question = 'after' AND "
            "person_id IN (SELECT id FROM person WHERE email IN (:a, :b))",
            s=f"after {SECRET}", a=MENTEE, b=MENTOR)
        # "most_valuable": four people answered; these are shown, nameless and sorted.
        ids = [row[0] for row in run("SELECT id FROM answer WHERE form = 'evaluation' AND "
                                     "question = 'most_valuable' AND text != '' ORDER BY id")]
        for n, answer_id in enumerate(ids):
            run("UPDATE answer SET text = :t WHERE id = :i", t=f"OPEN-MARK-{len(ids) - n}",
                i=answer_id)
        # Someone the bot can no longer reach, with the platform's error text on the row.
        tom = run("SELECT id, (SELECT id FROM programme) FROM person "
                  "WHERE email = 'tom.becker@example.org'").one()
        run("INSERT INTO delivery (key, person_id, programme_id, kind, priority, optional, "
            "payload_json, due_at, stale_after, status, claimed_at, claimed_by, attempts, "
            "last_error, platform, platform_ref, text) VALUES ('test:tom', :p, :g, "
            "'announcement', 2, 0, '{}', :at, :at, 'failed', :at, '', 1, :e, '', '', :t)",
            p=tom[0], g=tom[1], at=datetime(2027, 9, 9, 8, 0), e=f"account_inactive: {SECRET}",
            t=f"announcement {SECRET}")
        run("UPDATE person SET name = :n WHERE email = 'tom.becker@example.org'", n=TOM_NAME)
        run("UPDATE programme SET name = :n", n=PROGRAMME_NAME)


def _health(sim: Simulated) -> report.Report:
    with sim.db.unit() as session:
        return programme_report(session, session.exec(select(Programme)).one(), REPORT_AT)


async def _serve(sim: Simulated, env: dict[str, str], *, full: bool = False) -> TestServer:
    if full:  # the real `serve` app, to prove /admin is wired into it
        app, _ = make_app(sim.services, RoutingMessenger({}, None), env)
    else:
        app = web.Application()
        add_admin_routes(app, sim.services, env)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


async def _get(server: TestServer, path: str, headers: dict | None = None,
               session: aiohttp.ClientSession | None = None) -> tuple[int, str, dict]:
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        async with session.get(server.make_url(path), headers=headers or {},
                               allow_redirects=False) as response:
            return response.status, await response.text(), dict(response.headers)
    finally:
        if own:
            await session.close()


# --- confidentiality -------------------------------------------------------------------------

async def test_the_secret_reaches_no_report_no_page_and_no_log(sim, caplog, tmp_path):
    with sim.db.unit() as session:  # the secret really is everywhere a person wrote something
        for table in ("meeting", "agenda", "answer", "delivery"):
            column = {"meeting": "note"}.get(table, "text")
            hits = session.execute(text(f"SELECT count(*) FROM {table} WHERE {column} LIKE :s"),
                                   {"s": f"%{SECRET}%"}).scalar()
            assert hits > 0, table
    caplog.set_level(logging.DEBUG)
    seen: dict[str, str] = {}

    seen["chat en"] = "\n".join(say(sim.services, MANAGER, "report"))
    seen["chat da"] = "\n".join(say(sim.services, MANAGER, "rapport"))
    health = _health(sim)
    seen["html en"], seen["html da"] = render_html(health, "en"), render_html(health, "da")
    seen["csv"] = render_csv(health)
    out = io.StringIO()
    html, csv = tmp_path / "r.html", tmp_path / "r.csv"
    assert cli.run(sim.db, REPORT_AT, Texts(), out, slug=None, html=None, csv=None, lang=None) == 0
    assert cli.run(sim.db, REPORT_AT, Texts(), out, slug=sim.slug, html=html, csv=csv,
                   lang="da") == 0
    seen["cli"], seen["cli html"] = out.getvalue(), html.read_text()
    seen["cli csv"] = csv.read_text()
    server = await _serve(sim, {"ADMIN_TOKEN": TOKEN})
    try:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        for path in ("/admin", f"/admin/{sim.slug}", f"/admin/{sim.slug}?lang=da",
                     f"/admin/{sim.slug}.csv", f"/admin?token={TOKEN}"):
            status, body, _ = await _get(server, path, bearer)
            assert status == (303 if "token=" in path else 200), path
            seen[f"GET {path}"] = body
    finally:
        await server.close()

    assert "3 meeting, 0 drooping, 1 silent" in seen["chat en"]
    assert "Pairs meeting" in seen["html en"] and "Par, der mødes" in seen["html da"]
    leaks = [where for where, body in seen.items() if SECRET in body]
    assert leaks == []
    assert SECRET not in caplog.text
    assert [line for line in sim.logs.lines if SECRET in line] == []
    assert TOKEN not in caplog.text  # not even in the access log of `?token=`
    assert any("token=[redacted]" in r.getMessage() for r in caplog.records
               if r.name == "aiohttp.access")


def test_open_answers_are_shown_sorted_and_without_names_only_from_three(sim):
    health = _health(sim)
    page = render_html(health, "en")
    section = page[page.index('id="open-answers"'):page.index("<footer>")]

    marks = re.findall(r"OPEN-MARK-\d", section)
    assert marks == sorted(marks) and len(marks) == 4
    names = {n for (n,) in _rows(sim, "SELECT name FROM person")}
    for name in names:
        for part in name.split():
            if len(part) > 2 and not part.startswith(("=", "<")):
                assert part not in section, part
    most_valuable = next(o for o in health.open_answers if o.question == "most_valuable")
    after = next(o for o in health.open_answers if o.question == "after")
    assert most_valuable.respondents == 4 and after == report.OpenAnswers("after", None, None)
    assert section.count("too few answers to show (fewer than 3)") == 1
    assert "nordlys-0" not in section  # no pair keys either


def test_groups_below_the_minimum_are_hidden_in_the_page_and_the_csv(sim):
    health = _health(sim)
    by_question = {d.question: d for d in health.evaluation}
    # The abandoning group stops after five questions: three mentors and four mentees answered
    # the first five, only two of each the last three.
    assert by_question["trust"].mentors.respondents == 3 and by_question["trust"].mentors.shown
    assert by_question["trust"].mentees.respondents == 4 and by_question["trust"].mentees.shown
    assert by_question["recommend"].mentees == report.Group(None, None)  # not even "2"
    assert by_question["recommend"].mentors == report.Group(None, None)
    assert health.goals.shown is False and health.goals.mentees is None

    page, csv = render_html(health, "en"), render_csv(health)
    recommend = page[page.index("I would recommend the programme"):]
    recommend = recommend[:recommend.index("</figure>")]
    assert "too few answers to show (fewer than 3)" in recommend and "<svg" not in recommend
    assert "Mentors (fewer than 3) · Mentees (fewer than 3)" in recommend
    assert "evaluation,recommend,mentee,respondents" not in csv
    assert "evaluation,recommend,mentee,hidden,too_few_respondents" in csv
    assert "evaluation,recommend,mentee,answered_" not in csv
    assert "evaluation,trust,mentee,answered_4," in csv
    assert "goals,mentee_goals,,hidden,too_few_respondents" in csv


def test_names_are_escaped_in_html_and_guarded_in_csv(sim):
    health = _health(sim)
    page, csv = render_html(health, "en"), render_csv(health)

    assert [(u.name, u.reason) for u in health.unreachable] == [(TOM_NAME, "account_inactive")]
    assert "&lt;i&gt;Tom&lt;/i&gt;" in page and "<i>Tom" not in page
    assert "Nordlys &lt;Mentoring&gt; &amp; &#34;Co&#34;" in page and "<Mentoring>" not in page
    assert "account deactivated" in page
    assert "unreachable,\"'=HYPERLINK(\"\"x\"\") <i>Tom</i> Becker\",mentee,reason," \
           "account_inactive" in csv


# --- the page itself ---------------------------------------------------------------------------

class _Strict(HTMLParser):
    """Every element closed in order (void elements aside); every src/href collected."""

    VOID = {"meta", "link", "br", "hr", "img", "input", "source", "wbr", "col"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action")]

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()


@pytest.mark.parametrize("lang", ["en", "da"])
def test_the_page_is_self_contained_and_well_formed(sim, lang):
    page = render_html(_health(sim), lang)
    parser = _Strict()
    parser.feed(page)
    parser.close()

    assert parser.problems == [] and parser.stack == []
    assert page.startswith("<!DOCTYPE html>") and f'<html lang="{lang}">' in page
    assert page.count("<svg") == 1 + 5  # meetings per month + the five questions shown
    assert "script" not in parser.tags and "<script" not in page.lower()
    assert "iframe" not in parser.tags and "object" not in parser.tags
    assert parser.links == []  # nothing to load, nothing to follow
    assert re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|url\(|@import", page, re.I) is None
    assert "@media print" in page


def test_the_page_renders_in_chromium_without_any_network(sim, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("CHROMIUM NOT INSTALLED: /usr/bin/chromium is missing, so the browser "
                    "check did NOT run (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    page.write_text(render_html(_health(sim), "en"), encoding="utf-8")
    result = subprocess.run(  # the timeout is a guard: Chromium starts slowly on a busy machine
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<title>Programme health: Nordlys &lt;Mentoring&gt; &amp; \"Co\"</title>" in dom
    assert "<h2>Meetings per month</h2>" in dom and "<svg" in dom
    assert "OPEN-MARK-1" in dom and SECRET not in dom


# --- /admin over HTTP --------------------------------------------------------------------------

async def test_admin_wants_the_token(sim, caplog):
    caplog.set_level(logging.INFO)
    server = await _serve(sim, {"ADMIN_TOKEN": TOKEN})
    page = f"/admin/{sim.slug}"
    try:
        assert (await _get(server, page))[0] == 401
        assert (await _get(server, "/admin"))[0] == 401
        assert (await _get(server, page, {"Authorization": "Bearer wrong"}))[0] == 401
        assert (await _get(server, page, {"Authorization": f"Basic {TOKEN}"}))[0] == 401
        assert (await _get(server, f"{page}?token=wrong"))[0] == 401
        status, body, headers = await _get(server, page, {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and "<svg" in body and "Programme health" in body
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == "no-store"
        status, body, _ = await _get(server, f"/admin/{sim.slug}.csv",
                                     {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and body.startswith("section,item,group,measure,value")
        assert (await _get(server, "/admin/no-such-programme",
                           {"Authorization": f"Bearer {TOKEN}"}))[0] == 404
        # Once with ?token=, then the links of the list page work with the cookie it set.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            status, _, headers = await _get(server, f"/admin?token={TOKEN}", session=browser)
            assert status == 303 and headers["Location"] == "/admin"
            assert TOKEN not in headers.get("Set-Cookie", "")
            cookie = headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            status, listing, _ = await _get(server, "/admin", session=browser)
            assert status == 200
            link = re.search(r'href="(/admin/[^"?]+)\?lang=en"', listing).group(1)
            status, body, _ = await _get(server, link, session=browser)
            assert status == 200 and "Meetings per month" in body
    finally:
        await server.close()
    assert TOKEN not in caplog.text


async def test_admin_is_not_there_without_admin_token(sim, caplog):
    caplog.set_level(logging.INFO)
    server = await _serve(sim, {}, full=True)
    try:
        for path in ("/admin", f"/admin/{sim.slug}", f"/admin/{sim.slug}?token=anything"):
            assert (await _get(server, path, {"Authorization": "Bearer anything"}))[0] == 404
        assert (await _get(server, "/healthz"))[0] == 200
    finally:
        await server.close()
    assert "ADMIN_TOKEN is not set" in caplog.text


# --- chat ------------------------------------------------------------------------------------

def test_chat_report_is_for_managers_only(sim):
    refused = say(sim.services, MENTEE, "report")
    assert refused == ["The programme report is for programme managers, so I can't show it to "
                       "you. `status` tells you where you stand."]
    danish = say(sim.services, "sofie.lund@example.org", "rapport")
    assert danish and "Forløbsrapporten er til forløbsledere" in danish[0]

    answer = "\n".join(say(sim.services, MANAGER, "report"))
    assert f"*{PROGRAMME_NAME}*: finished" in answer
    assert "Pairs: 3 meeting, 0 drooping, 1 silent (4 in all)" in answer
    # The silent pair is named, with the reason and no content; the others are not listed.
    assert "Needs a look:\n- *nordlys-03* (Priya Raman, " in answer
    # How long and how many nudges went unanswered: facts about the bot's own messages.
    assert "Becker): silent, no meeting for 33 weeks; 2 nudges from me unanswered\n" in answer
    assert "ended Wednesday 30 June" in answer and "ends Wednesday" not in answer
    assert "nordlys-01" not in answer
    assert "Unreachable: 1 person the bot cannot reach yet" in answer
    assert "Evaluation: answered by 3 mentors and 4 mentees" in answer
    assert "OPEN-MARK" not in answer
    unknown = say(sim.services, MANAGER, "report some-other-programme")
    assert "You manage no programme called \"some-other-programme\"" in unknown[0]


def _rows(sim: Simulated, sql: str) -> list[tuple]:
    with sim.db.engine.connect() as conn:
        return list(conn.execute(text(sql)))

