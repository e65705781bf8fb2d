"""Slack end to end: every verb as `/mentor …` and as a DM, modals, agenda, escaping, Home tab.

Real HTTP on 127.0.0.1: signed requests to the bot's aiohttp app, which calls a fake Slack Web
API (tests/fake_slack_api.py) that records every call.
"""
import json
from datetime import date

import pytest
from sqlmodel import select

from storage.tables import Agenda, Appointment, Identity, Meeting
from tests.fake_slack_api import ID, buttons_of, dm_of, text_of, workspace
from tests.helpers import import_programme

JONAS, GRACE = ID["jonas.berg@example.org"], ID["grace.okafor@example.org"]

# Thursday 3 September 2026, 08:00 in Copenhagen: two days into the sample programme.
VERBS = [
    ("help", "Here's what you can do"),
    ("log yesterday 14:00 45m talked about the promotion case",
     "Logged: Wednesday 2 September, 14:00, 45 min"),
    ("next monday 16:00", "Booked: Monday 7 September, 16:00 (your time)"),  # 09:00 for Grace
    ("agenda 1) feedback 2) saying no", "Sent to Grace Okafor"),
    ("status", "Meetings held: 1 ("),
    ("reflect", "A question to think about"),
    ("snooze 2 weeks", "I'll hold my prompts until Thursday 17 September"),
    ("optout", "no more optional prompts"),
    ("optin", "Optional prompts are on again"),
    ("evaluate now", "_The mentoring met my expectations._"),
    ("export", "Here is everything I hold about you"),
    ("forget", "Type `forget confirm` to go ahead"),
]


def rows(services, table, *where):
    with services.db.unit() as session:
        return list(session.exec(select(table).where(*where)))


@pytest.fixture
def programme(database, clock):
    import_programme(database, now=clock.now())
    clock.advance(days=2)
    return database


async def test_every_verb_as_a_slash_command_answers_ephemerally(programme, clock):
    async with workspace(programme, clock) as slack:
        answers = {}
        for line, expected in VERBS:
            key = await slack.command(JONAS, line)  # typed in #general
            await slack.settle()
            [answers[line]] = slack.fake.responses(key)
            assert answers[line]["response_type"] == "ephemeral", line
            assert expected in text_of(answers[line]), (line, text_of(answers[line]))
        # Only the sender saw anything: no post in any channel, files went to the sender's DM.
        assert all(c.params["channel"].startswith("D") for c in slack.fake.to("chat.postMessage"))
        uploads = slack.fake.to("files.completeUploadExternal")
        assert [c.params["channel_id"] for c in uploads] == [dm_of(JONAS)] * 2
        contents = sorted(slack.fake.uploads.values())
        assert contents[0].startswith(b"BEGIN:VCALENDAR") and contents[1].startswith(b"{")
        for line in ("next monday 16:00", "export"):  # the reply says where the file is
            assert "I've put the file" in text_of(answers[line])
        # Matched by email once (users.info), by id ever after.
        assert len(slack.fake.to("users.info")) == 1
        [identity] = rows(slack.services, Identity, Identity.platform == "slack")
        assert identity.user_id == JONAS and identity.tenant_id == "T0NORDLYS"


async def test_every_verb_as_a_direct_message_is_answered_in_the_dm(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    clock.advance(days=2)
    async with workspace(sqlite_database, clock) as slack:
        for n, (line, expected) in enumerate(VERBS):
            assert await slack.dm(JONAS, line) == 200
            await slack.settle()
            posts = slack.fake.posts_in(dm_of(JONAS))
            assert len(posts) == n + 1, line
            assert expected in text_of(posts[-1]), (line, text_of(posts[-1]))
            assert expected in posts[-1]["text"]  # the notification text says the same
        evaluation = slack.fake.posts_in(dm_of(JONAS))[9]
        assert [b["text"]["text"] for b in buttons_of(evaluation)] == ["1", "2", "3", "4", "5"]
        assert [c.params["channel_id"] for c in slack.fake.to("files.completeUploadExternal")] \
            == [dm_of(JONAS)] * 2
        [identity] = rows(slack.services, Identity, Identity.platform == "slack")
        assert identity.conversation_id == dm_of(JONAS)


async def test_dm_ignores_bot_messages_and_edits(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        for extra in ({"bot_id": "B0BOT"}, {"subtype": "message_changed"}):
            event = {"type": "message", "channel": dm_of(JONAS), "channel_type": "im",
                     "user": JONAS, "text": "status", "ts": "1.0", **extra}
            status, _, _ = await slack.send(slack.event_body(event), "application/json")
            assert status == 200
        await slack.settle()
        assert slack.fake.to("chat.postMessage") == []


async def test_a_stranger_gets_the_friendly_unknown_user_reply(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        key = await slack.command(ID["someone.else@example.com"], "status")
        await slack.dm(ID["someone.else@example.com"], "hello")
        await slack.settle()
        assert "I don't know you yet" in text_of(slack.fake.responses(key)[0])
        [post] = slack.fake.posts_in(dm_of(ID["someone.else@example.com"]))
        assert "I don't know you yet" in text_of(post)
        assert rows(slack.services, Identity) == []


async def test_a_stranger_is_answered_in_their_slack_language(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        slack.fake.locales[ID["someone.else@example.com"]] = "da-DK"
        await slack.dm(ID["someone.else@example.com"], "hej")
        await slack.settle()
        [post] = slack.fake.posts_in(dm_of(ID["someone.else@example.com"]))
        assert "Jeg kender dig ikke endnu" in text_of(post)
        assert "I don't know you yet" not in text_of(post)


async def test_agenda_reaches_the_mentor_dm_with_user_text_shown_literally(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    clock.advance(hours=9)  # 15:00 UTC: working hours in Copenhagen and in Chicago
    async with workspace(sqlite_database, clock) as slack:
        key = await slack.command(
            JONAS, "agenda 1) <!channel> ask <@U123> about *bold* _moves_ ~now~ `x` R&amp;D")
        await slack.settle()
        assert "Sent to Grace Okafor" in text_of(slack.fake.responses(key)[0])
        [agenda] = rows(slack.services, Agenda)
        assert agenda.text == "1) <!channel> ask <@U123> about *bold* _moves_ ~now~ `x` R&D"
        await slack.services.pump()
        [post] = slack.fake.posts_in(dm_of(GRACE))  # found by roster email, never wrote to us
        assert slack.fake.to("users.lookupByEmail")[0].params["email"] == "grace.okafor@example.org"
        shown = text_of(post)
        assert "Jonas Berg sent the agenda" in shown
        for text in (shown, post["text"]):
            assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text and "R&amp;D" in text
            assert "<!channel>" not in text and "<@U123>" not in text
            for styled in ("*bold*", "_moves_", "~now~", "`x`"):
                assert styled not in text  # each mark is fenced by zero-width spaces
            assert "\u200b*\u200bbold\u200b*\u200b" in text


async def test_log_modal_from_a_droop_prompt(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        await slack.dm(JONAS, "help")
        clock.advance(days=42, hours=8)  # Tuesday 13 October: six weeks without a meeting
        await slack.services.pump()
        await slack.settle()
        prompt = slack.fake.posts_in(dm_of(JONAS))[-1]
        # Jonas and Grace never met: the nudge says so, not "since your last meeting".
        assert "you and Grace Okafor haven't met yet" in text_of(prompt)
        assert "last meeting" not in text_of(prompt)
        assert [b["text"]["text"] for b in buttons_of(prompt)] == ["Schedule next", "Log a meeting"]

        status, _ = await slack.press(JONAS, prompt, "Log a meeting")
        assert status == 200
        await slack.settle()
        [opened] = slack.fake.to("views.open")
        assert opened.params["trigger_id"]
        view = opened.params["view"]
        assert view["callback_id"] == "log_submit"
        kinds = {b["block_id"]: b["element"]["type"]
                 for b in view["blocks"] if b["type"] == "input"}
        assert kinds == {"date": "datepicker", "time": "timepicker", "minutes": "number_input",
                         "note": "plain_text_input"}
        assert slack.fake.to("chat.update") == []  # the button opens a form; it stays usable

        # A date in the future is refused on the form itself; nothing is stored.
        status, answer = await slack.submit(JONAS, view, {"date": "2026-10-20"})
        assert status == 200 and answer["response_action"] == "errors"
        assert "hasn't happened yet" in answer["errors"]["date"]
        assert rows(slack.services, Meeting) == []

        status, answer = await slack.submit(JONAS, view, {
            "date": "2026-10-12", "time": "15:30", "minutes": "50", "note": "we *did* it"})
        assert status == 200 and answer == {}  # the modal closes
        await slack.settle()
        [meeting] = rows(slack.services, Meeting)
        assert (meeting.minutes, meeting.note) == (50, "we *did* it")
        logged = slack.fake.posts_in(dm_of(JONAS))[-1]
        assert "Logged: Monday 12 October, 15:30, 50 min" in text_of(logged)


async def test_next_modal_books_and_sends_the_invite(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    clock.advance(days=2)
    async with workspace(sqlite_database, clock) as slack:
        await slack.dm(JONAS, "log yesterday 14:00 45m first talk")
        await slack.settle()
        logged = slack.fake.posts_in(dm_of(JONAS))[-1]
        await slack.press(JONAS, logged, "Schedule next")
        await slack.settle()
        view = slack.fake.to("views.open")[-1].params["view"]
        assert view["callback_id"] == "next_submit"
        dates = [b["element"] for b in view["blocks"] if b["type"] == "input"]
        assert [e["type"] for e in dates] == ["datepicker", "timepicker"]
        status, answer = await slack.submit(JONAS, view, {"date": "2026-09-21", "time": "16:00"})
        assert status == 200 and answer == {}
        await slack.settle()
        [appointment] = rows(slack.services, Appointment)
        assert appointment.at.date() == date(2026, 9, 21)
        booked = slack.fake.posts_in(dm_of(JONAS))[-1]
        assert "Booked: Monday 21 September, 16:00" in text_of(booked)
        [upload] = slack.fake.to("files.completeUploadExternal")
        assert upload.params["channel_id"] == dm_of(JONAS)
        assert b"DTSTART:20260921T140000Z" in list(slack.fake.uploads.values())[0]


async def test_the_home_tab_shows_the_pair_status_and_next_meeting(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    clock.advance(days=2)
    async with workspace(sqlite_database, clock) as slack:
        await slack.command(JONAS, "next monday 16:00")
        await slack.settle()
        assert await slack.open_home(JONAS) == 200
        await slack.settle()
        [published] = slack.fake.to("views.publish")
        assert published.params["user_id"] == JONAS
        view = published.params["view"]
        assert view["type"] == "home"
        shown = text_of(view)
        assert "with Grace Okafor" in shown and "Next meeting: Monday 7 September, 16:00" in shown
        assert view["blocks"][-1]["type"] == "context" and "`/mentor help`" in shown
        # Danish participants read it in Danish.
        await slack.open_home(ID["sofie.lund@example.org"])
        await slack.settle()
        assert "`/mentor hjælp`" in text_of(slack.fake.to("views.publish")[-1].params["view"])


def test_home_hint_and_chosen_line_exist_in_both_languages():
    from conversations.texts import Texts

    texts = Texts()
    assert texts.render("da", "slack/chosen", label="4").startswith("✓ Du valgte")
    assert "vores direkte beskeder" in texts.render("da", "slack/file_in_dm", name="x.ics")


async def test_attachment_timeout_never_reposts(sqlite_database, clock):
    """A failed file upload is logged; the message itself is not sent twice."""
    import_programme(sqlite_database, now=clock.now())
    clock.advance(days=2)
    async with workspace(sqlite_database, clock) as slack:
        slack.fake.fail("files.getUploadURLExternal", status=500)
        await slack.dm(JONAS, "export")
        await slack.settle()
        assert len(slack.fake.posts_in(dm_of(JONAS))) == 1
        assert slack.fake.to("files.completeUploadExternal") == []


async def test_a_message_longer_than_slacks_blocks_is_cut_and_follows_whole_as_a_file(
        programme, clock):
    """Slack takes 50 blocks of 3,000 characters: a longer text is never a failed send."""
    from conversations.messages import Message
    from conversations.outbox import Recipient

    long = "\n\n".join(f"Afsnit {n}: " + "æøå mentorforløb " * 170 for n in range(80))
    async with workspace(programme, clock) as slack:
        recipient = Recipient(0, "jonas.berg@example.org", "Jonas", ())
        await slack.chat.messenger.send(recipient, Message(long))
        [post] = slack.fake.to("chat.postMessage")
        blocks = post.params["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        assert len(blocks) == 50 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
        [upload] = slack.fake.to("files.completeUploadExternal")
        assert upload.params["channel_id"] == dm_of(JONAS)
        [content] = slack.fake.uploads.values()
        assert content.decode("utf-8") == long
