"""Access control: nobody reads or changes what is not theirs, and erasure really erases.

Already covered elsewhere, so not repeated here: a bad, missing or stale Slack signature on a
slash command or an event (tests/e2e/test_slack_reliability.py), and Teams messages with no,
malformed or unsigned tokens (tests/e2e/test_teams_auth.py). Added here: a Slack body changed
after signing, a timestamp from the future, forged button presses and form submits; Teams
installs, card submits and invokes without a valid token.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.parse
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from conversations.messages import ConversationRef, TextReceived
from storage.tables import Announcement, Appointment, Delivery, Meeting, Pair, Person
from tests.fake_slack_api import APP_ID, ID, TEAM, dm_of, signed, workspace
from tests.fake_teams_connector import BOT_ID, refuse_internet, serve_bot
from tests.helpers import SAMPLE, import_programme, press, say, snapshot

JONAS, GRACE, SOFIE = "jonas.berg@example.org", "grace.okafor@example.org", "sofie.lund@example.org"
MAJA, LARS, ANNA, OMAR = ("maja.kruse@example.org", "lars.nielsen@example.org",
                          "anna.weiss@example.org", "omar.haddad@example.org")
EVERYONE = (MAJA, "mads.holm@example.org", SOFIE, GRACE, JONAS, "priya.raman@example.org",
            "tom.becker@example.org", LARS, ANNA, OMAR)
NO_PROGRAMME = "not part of an active mentoring programme"


@pytest.fixture
def sample(services, clock):
    import_programme(services.db, now=clock.now())
    clock.advance(days=20, hours=4)  # Monday 21 September, 10:00 in Copenhagen
    for email in EVERYONE:
        say(services, email, "help")
    return services


def rows(db, table, *where) -> list:
    with db.unit() as session:
        return list(session.exec(select(table).where(*where)))


def pair_id(db, key: str) -> int:
    [pair] = rows(db, Pair, Pair.key == key)
    return pair.id


def reply(services, email: str, line: str, **ref):
    event = TextReceived(ConversationRef(**{"platform": "console", "user_id": email,
                                            "email": email, **ref}), line, services.clock.now())
    return services.engine.handle(event)


def count(figures, scenario: str, tried: int, note: str = "") -> None:
    figures.add(f"access: {scenario}", inputs=tried, note=note)


# -- another pair's meetings, notes and agenda ----------------------------------------------

def test_a_mentee_cannot_read_or_change_another_pairs_meetings_notes_or_agenda(
        sample, messenger, figures):
    services, db = sample, sample.db
    assert say(services, ANNA, "log yesterday 14:00 1h ANNA-PRIVATE-NOTE")[0].startswith("Logged")
    say(services, LARS, "next friday 10:00")  # in a group the mentor books
    say(services, ANNA, "agenda 1) ANNA-PRIVATE-AGENDA")
    theirs = pair_id(db, "nordlys-04")
    mine = pair_id(db, "nordlys-02")
    their_meetings = rows(db, Meeting, Meeting.pair_id == theirs)
    their_bookings = rows(db, Appointment, Appointment.pair_id == theirs)
    tried = 0

    for hint in ("anna", "lars", "omar", "anna.weiss@example.org", "nordlys-04", "@lars"):
        [status] = say(services, JONAS, f"status with {hint}")
        tried += 1
        assert "Grace Okafor" in status  # his own pair, never theirs
        for other in ("Anna", "Lars", "Omar", "ANNA-PRIVATE", "Meetings held: 1"):
            assert other not in status, (hint, status)

    [logged] = say(services, JONAS, "log yesterday 15:00 45m about saying no with lars")
    [booked] = say(services, JONAS, "next thursday 10:00 anyway with anna")
    tried += 2
    assert logged.startswith("Logged") and "Grace" in booked and "Lars" not in booked
    assert rows(db, Meeting, Meeting.pair_id == theirs) == their_meetings
    assert rows(db, Appointment, Appointment.pair_id == theirs) == their_bookings
    assert [m.note for m in rows(db, Meeting, Meeting.pair_id == mine)] \
        == ["about saying no with lars"]

    # Their booking's "did you meet?" buttons, pressed by someone outside the pair.
    for appointment in their_bookings:
        for answer in ("yes", "moved", "not_yet"):
            before = snapshot(db)
            [refused] = press(services, JONAS, "did_meet", f"{answer}:{appointment.id}")
            tried += 1
            assert "older message" in refused and snapshot(db) == before

    # The agenda goes to his own mentor only, whatever he adds.
    say(services, JONAS, "agenda 1) JONAS-AGENDA with lars 2) and anna")
    tried += 1
    services.clock.advance(hours=6)  # a relayed agenda waits for Grace's day in Chicago
    asyncio.run(services.pump())
    agendas = [s for s in messenger.sent if "JONAS-AGENDA" in s.text]
    assert [s.email for s in agendas] == [GRACE]
    assert all("ANNA-PRIVATE" not in s.text for s in messenger.sent if s.email != LARS)

    # His export holds nothing of theirs (nor of Grace's).
    export = reply(services, JONAS, "export").messages[0].attachment[2].decode()
    tried += 1
    for other in ("ANNA-PRIVATE", *[e for e in EVERYONE if e != JONAS]):
        assert other not in export
    count(figures, "another pair's data", tried,
          "status/log/next `with` someone else's partner, their did-you-meet buttons, "
          "agenda forwarding, export")


# -- announcing -----------------------------------------------------------------------------

def second_programme(tmp_path, manager: str = "kim.dahl@example.org") -> tuple:
    """Programme two: its own manager, two pairs, and Lars (a mentor in the sample) as its
    second manager."""
    folder = tmp_path / "second"
    folder.mkdir()
    (folder / "programme.toml").write_text(
        'name = "Second Programme"\nstarts = 2026-09-01\nends = 2027-05-31\ncadence_weeks = 4\n'
        'language = "en"\ntimezone = "Europe/Copenhagen"\nroster = "team.csv"\n')
    (folder / "team.csv").write_text(
        "email,name,role,pair,timezone,language\n"
        f"{manager},Kim Dahl,manager,,Europe/Copenhagen,en\n"
        f"{LARS},Lars Nielsen,manager,,Europe/Copenhagen,en\n"
        "eva.mentor@example.org,Eva Mentor,mentor,two-01,Europe/Copenhagen,en\n"
        "finn.mentee@example.org,Finn Mentee,mentee,two-01,Europe/Copenhagen,en\n"
        "gry.mentor@example.org,Gry Mentor,mentor,two-02,Europe/Copenhagen,en\n"
        "hans.mentee@example.org,Hans Mentee,mentee,two-02,Europe/Copenhagen,en\n")
    return folder / "programme.toml", manager


def test_mentors_cannot_announce_and_managers_only_in_their_own_programme(
        sample, tmp_path, figures):
    services, db = sample, sample.db
    path, kim = second_programme(tmp_path)
    import_programme(db, path, now=services.clock.now())
    for email in (kim, "eva.mentor@example.org", "finn.mentee@example.org"):
        say(services, email, "help")
    say(services, MAJA, "announce everyone Maja's master class, {{ first_name }}")
    [draft] = rows(db, Announcement, Announcement.status == "draft")
    sample_people = {p.id for p in rows(db, Person, Person.email.in_(EVERYONE))}
    tried = 0

    for who in (GRACE, JONAS, "eva.mentor@example.org", "finn.mentee@example.org"):
        for line in ("announce everyone Hello all", "announce mentees 1) Free pizza",
                     "announce confirm", "announce pair two-01 hi", "meddel alle hej",
                     "announce status", "followup two-01", "report"):
            before = snapshot(db)
            [refused] = say(services, who, line)
            tried += 1
            assert "managers" in refused and snapshot(db) == before, (who, line, refused)
    # Maja's draft cannot be sent or cancelled by anyone else, managers of programme two too.
    for who in (GRACE, kim, LARS):
        for action in ("announce_send", "announce_cancel"):
            before = snapshot(db)
            [refused] = press(services, who, action, str(draft.id))
            tried += 1
            assert snapshot(db) == before and ("no announcement waiting" in refused
                                                or "managers" in refused)
    # Programme two's managers reach programme two only, even Lars, a mentor in the sample.
    for manager in (kim, LARS):
        [refused] = say(services, manager, "announce pair nordlys-01 Hi")
        assert "nordlys-01" in refused
        say(services, manager, "announce everyone Programme two only, {{ first_name }}")
        [confirmed] = say(services, manager, "announce confirm")
        tried += 3
        assert "4 people" in confirmed, confirmed
    [refused] = say(services, MAJA, "announce pair two-01 Hi")
    tried += 1
    assert "two-01" in refused
    recipients = {r.person_id for r in rows(db, Delivery, Delivery.kind == "announcement")}
    assert len(recipients) == 4 and not recipients & sample_people
    count(figures, "announcing", tried, "mentors and mentees of either programme, managers "
                                        "across programmes, someone else's draft")


# -- removed from the roster ----------------------------------------------------------------

def test_someone_removed_from_the_roster_loses_access_and_prompts_at_once(
        services, clock, messenger, tmp_path, figures):
    shutil.copy(SAMPLE, tmp_path / "programme.toml")
    shutil.copy(SAMPLE.parent / "roster.csv", tmp_path / "roster.csv")
    import_programme(services.db, tmp_path / "programme.toml", now=clock.now())
    for email in EVERYONE:
        say(services, email, "help")
    # 31 % into the programme, at 06:00 in Copenhagen: prompts for pairs and the manager's
    # follow-up reminder are proposed, and wait for working hours.
    clock.advance(days=95)
    clock.set(clock.now().replace(hour=4, minute=0))
    say(services, MAJA, "announce everyone Master class on feedback")
    say(services, MAJA, "announce confirm")
    asyncio.run(services.pump())
    waiting = {r.person_id for r in rows(services.db, Delivery, Delivery.status == "pending")}
    [omar] = [p.id for p in rows(services.db, Person, Person.email == OMAR)]
    [maja] = [p.id for p in rows(services.db, Person, Person.email == MAJA)]
    assert {omar, maja} <= waiting, "the test needs prompts waiting for both"
    sent_before = len(messenger.sent)

    roster = (tmp_path / "roster.csv").read_text().splitlines(keepends=True)
    (tmp_path / "roster.csv").write_text("".join(
        line for line in roster if not line.startswith((OMAR, MAJA))))
    import_programme(services.db, tmp_path / "programme.toml", now=clock.now())
    tried = 0
    for email in (OMAR, MAJA):
        for line in ("status", "log yesterday 45m", "agenda 1) x", "report", "announce confirm",
                     "export"):
            [answer] = say(services, email, line)
            tried += 1
            assert NO_PROGRAMME in answer, (email, line, answer)
        for action, value in (("rsvp", "1:yes"), ("snooze", "7"), ("open_log", "")):
            [answer] = press(services, email, action, value)
            tried += 1
            assert NO_PROGRAMME in answer
    clock.set(clock.now().replace(hour=9, minute=30))
    for _ in range(5):
        asyncio.run(services.pump())
        clock.advance(days=1)
    received = {s.email for s in messenger.sent[sent_before:]}
    assert OMAR not in received and MAJA not in received, received
    assert received  # the others still get theirs
    for person in (omar, maja):
        theirs = rows(services.db, Delivery, Delivery.person_id == person,
                      Delivery.status != "sent")
        assert theirs and all(r.status == "skipped" and r.last_error for r in theirs), \
            [(r.kind, r.status, r.last_error) for r in theirs]
    count(figures, "removed from the roster", tried,
          "a mentee and the manager: no-programme reply at once, their waiting prompts skipped")


# -- forged platform requests -----------------------------------------------------------------

async def test_forged_slack_requests_are_refused_before_any_work(sqlite_database, clock, figures):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        before = snapshot(sqlite_database)
        user = ID[JONAS]
        form = "application/x-www-form-urlencoded"
        command = urllib.parse.urlencode({
            "team_id": TEAM, "user_id": user, "command": "/mentor", "text": "agenda 1) forged",
            "channel_id": "C0GENERAL", "response_url": slack.fake.response_url("x"),
            "trigger_id": "1.forged"})
        tampered = command.replace("forged", "tampered")
        press = "payload=" + urllib.parse.quote(json.dumps({
            "type": "block_actions", "api_app_id": APP_ID, "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM}, "trigger_id": "2.forged",
            "container": {"type": "message", "channel_id": dm_of(user), "message_ts": "1.1"},
            "channel": {"id": dm_of(user)},
            "actions": [{"action_id": "snooze", "value": "56", "block_id": "b",
                         "action_ts": "1.2"}]}))
        submit = "payload=" + urllib.parse.quote(json.dumps({
            "type": "view_submission", "api_app_id": APP_ID, "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM}, "trigger_id": "3.forged",
            "view": {"callback_id": "log_submit", "blocks": [], "state": {"values": {
                "d": {"date": {"type": "datepicker", "selected_date": "2026-09-01"}},
                "m": {"minutes": {"type": "plain_text_input", "value": "60"}}}}}}))
        now = int(time.time())
        attempts = [
            (tampered, form, signed(command)),  # signed, then changed on the way
            (command, form, signed(command, timestamp=now + 600)),  # from the future
            (command, form, {**signed(command), "X-Slack-Signature": "v1=" + "0" * 64}),
            (press, form, signed(press, secret="guessed")),
            (press, form, {}),
            (press, form, signed(press, timestamp=now - 400)),
            (submit, form, signed(submit, secret="guessed")),
            (submit, form, {"X-Slack-Request-Timestamp": str(now)}),
        ]
        for body, content_type, headers in attempts:
            status, _, _ = await slack.send(body, content_type, headers, sign=False)
            assert status == 401
        await slack.settle()
        assert slack.fake.calls == [] and snapshot(sqlite_database) == before
        status, _, _ = await slack.send(command, form)  # the same command, signed: served
        assert status == 200
    count(figures, "forged Slack requests", len(attempts),
          "tampered body, future timestamp, forged button press and form submit (401, no work)")


async def test_unauthenticated_teams_installs_submits_and_invokes_are_refused(
        sqlite_database, clock, monkeypatch, figures):
    attempts = refuse_internet(monkeypatch)
    bot = await serve_bot(sqlite_database, clock, env={
        "MICROSOFT_APP_ID": "00000000-0000-0000-0000-000000000001",
        "MICROSOFT_APP_PASSWORD": "x"})
    try:
        import_programme(bot.services.db, now=clock.now())
        before = snapshot(bot.services.db)
        user = bot.teams.user(JONAS)
        activities = [
            bot.teams.activity(user, "conversationUpdate",
                               membersAdded=[user.account(), {"id": BOT_ID}]),
            bot.teams.activity(user, value={"action": "snooze", "value": "56"}),
            bot.teams.activity(user, value={"action": "log_submit", "date": "2026-09-01",
                                            "time": "10:00", "minutes": "60"}),
            bot.teams.activity(user, "invoke", name="adaptiveCard/action",
                               value={"action": {"type": "Action.Execute", "verb": "snooze"}}),
            bot.teams.activity(user, text="forget confirm"),
        ]
        tried = 0
        for activity in activities:
            for header in ({}, {"Authorization": "Bearer " + uuid.uuid4().hex},
                           {"Authorization": "Basic eDp4"}):
                status, calls = await bot.teams.post(activity, header)
                tried += 1
                assert status == 401 and calls == []
        assert bot.connector.lookups == [] and snapshot(bot.services.db) == before
    finally:
        await bot.close()
    assert attempts == []  # refused before any outgoing call
    count(figures, "unauthenticated Teams requests", tried,
          "install, card submits, invoke, a message; no token / bogus token (401, no work)")


# -- export and forget ----------------------------------------------------------------------

def answer_all(services, email: str, answers: list[str]) -> list[str]:
    said = []
    for text in answers:
        said += say(services, email, text)
    return said


def test_forget_erases_every_private_field_and_export_returns_all_of_it(
        services, clock, messenger, figures):
    db = services.db
    import_programme(db, now=clock.now())
    for email in EVERYONE:
        say(services, email, "help")
    clock.advance(hours=4)  # 10:00 in Copenhagen: the kick-off asks Jonas for his goals
    asyncio.run(services.pump())
    assert any("learn" in t.lower() for t in messenger.texts_for(JONAS))
    # Jonas writes a secret into every private field he can.
    answer_all(services, JONAS, ["SECRET-goal-one; SECRET-goal-two", "2", "3"])
    clock.advance(days=10)
    [logged] = say(services, JONAS, "log yesterday 14:00 45m SECRET-note-typed")
    assert logged.startswith("Logged")
    day = (clock.now() - timedelta(days=2)).date().isoformat()
    [formed] = press(services, JONAS, "log_submit", values={
        "date": day, "time": "11:00", "minutes": "30", "note": "SECRET-note-form"})
    assert formed.startswith("Logged")
    say(services, JONAS, "next friday 10:00 anyway")  # 03:00 for Grace, but they agree
    say(services, JONAS, "agenda 1) SECRET-agenda-item")
    say(services, JONAS, "reflect")
    answer_all(services, JONAS, ["SECRET-reflection", "4", "SECRET-actions"])
    say(services, JONAS, "evaluate now")
    answer_all(services, JONAS, ["4"] * 8 + ["3", "3", "SECRET-most-valuable",
                                            "SECRET-improve", "SECRET-after"])
    say(services, JONAS, "snooze 2 weeks")
    say(services, JONAS, "optout")
    reply(services, JONAS, "status", platform="teams", user_id="SECRET-teams-user",
          tenant_id="SECRET-tenant", conversation_id="SECRET-conversation",
          service_url="https://SECRET-service.example/")
    # Grace writes her own.
    say(services, GRACE, "log yesterday 09:00 30m GRACE-OWN-note")
    say(services, GRACE, "reflect")
    answer_all(services, GRACE, ["GRACE-OWN-reflection", "5"])
    clock.advance(hours=5)  # 10:00 in Chicago: the agenda reaches Grace, prompts reach Jonas
    asyncio.run(services.pump())
    assert any("SECRET-agenda-item" in t for t in messenger.texts_for(GRACE))
    written = ["SECRET-goal-one", "SECRET-goal-two", "SECRET-note-typed", "SECRET-note-form",
               "SECRET-agenda-item", "SECRET-reflection", "SECRET-actions",
               "SECRET-most-valuable", "SECRET-improve", "SECRET-after", "SECRET-teams-user"]
    everything = json.dumps(snapshot(db))
    assert all(secret in everything for secret in written), "the set-up missed a field"
    assert "SECRET-conversation" in everything and "SECRET-service" in everything

    export = reply(services, JONAS, "export").messages[0].attachment[2].decode()
    missing = [secret for secret in written if secret not in export]
    assert missing == [], f"the export lacks {missing}"
    assert "GRACE-OWN" not in export
    assert not [e for e in EVERYONE if e != JONAS and e in export]

    [confirm] = say(services, JONAS, "forget")
    assert "confirm" in confirm
    say(services, JONAS, "forget confirm")
    left = {table: [row for row in table_rows if "SECRET" in row]
            for table, table_rows in snapshot(db).items()}
    assert {t: r for t, r in left.items() if r} == {}, "forget left private data behind"
    everything = json.dumps(snapshot(db))
    assert "GRACE-OWN-note" in everything and "GRACE-OWN-reflection" in everything
    [jonas] = rows(db, Person, Person.email == JONAS)
    assert jonas.snoozed_until is None and jonas.optional_opt_out is False
    count(figures, "export and forget", 3, f"{len(written) + 3} secrets planted in notes, "
          "agendas, answers, identities; export has all of his, none of others'; forget "
          "leaves none in any column of any table, and Grace's own writing stays")
