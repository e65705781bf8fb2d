"""Files in Teams, end to end: the consent card in a personal chat, a one-time link elsewhere,
and a message too long for Teams arriving as a file instead of failing."""
from __future__ import annotations

import json
import re

from sqlmodel import select

from bot.teams.render import MAX_ACTIVITY
from conversations.messages import Message
from conversations.outbox import Address, Recipient
from storage.tables import FileOffer, Identity
from tests.fake_teams_connector import INFO_TYPE, TEAMS_LIMIT, serve_bot

JONAS, GRACE, SOFIE = "jonas.berg@example.org", "grace.okafor@example.org", \
    "sofie.lund@example.org"
LINK = re.compile(r"/files/([A-Za-z0-9_-]{20,})")


def offers(db) -> list[FileOffer]:
    with db.unit() as session:
        return list(session.exec(select(FileOffer)))


def upload_of(bot, calls) -> bytes:
    [info] = [c for c in calls if c.file_info]
    assert info.file_info["contentType"] == INFO_TYPE
    return bot.connector.uploads[info.file_info["content"]["uniqueId"]]


async def test_export_and_booking_arrive_through_the_consent_card(bot):
    await bot.teams.install(JONAS)
    await bot.teams.install(GRACE)

    # 16:00 in Copenhagen is 09:00 for Grace in Chicago: inside both working days, booked at once
    [booked] = await bot.teams.say(JONAS, "next friday 16:00")
    assert "Booked: Friday 4 September, 16:00" in booked.text
    offer = booked.consent
    assert offer["name"] == "mentoring.ics" and "data:" not in json.dumps(booked.body)
    assert list(offer["content"]["acceptContext"]) == ["offer"]  # an id, never the data
    status, calls = await bot.teams.answer_consent(JONAS, booked)
    assert status == 200
    invite = upload_of(bot, calls)
    assert invite.startswith(b"BEGIN:VCALENDAR") and offer["content"]["sizeInBytes"] == len(invite)
    assert bot.connector.upload_headers[-1]["Content-Range"] == f"bytes 0-{len(invite) - 1}/" \
                                                               f"{len(invite)}"
    assert "Authorization" not in bot.connector.upload_headers[-1]  # no bot token to OneDrive

    [export] = await bot.teams.say(JONAS, "export")
    assert export.consent["name"] == "my-mentoring-data.json"
    status, calls = await bot.teams.answer_consent(JONAS, export)
    data = json.loads(upload_of(bot, calls))
    assert "jonas.berg@example.org" in json.dumps(data)
    assert offers(bot.services.db) == []  # delivered files are not kept

    # Pressing Allow again (or Teams retrying the invoke) uploads nothing twice.
    uploads = len(bot.connector.uploads)
    status, calls = await bot.teams.answer_consent(JONAS, export)
    assert status == 200 and len(bot.connector.uploads) == uploads
    assert "That file offer has run out" in calls[-1].text


async def test_consent_works_on_another_replica_after_a_restart(bot, clock):
    await bot.teams.install(JONAS)
    [export] = await bot.teams.say(JONAS, "export")
    assert len(offers(bot.services.db)) == 1  # waiting in the database, not in memory

    other = await serve_bot(bot.services.db, clock, connector=bot.connector)
    try:
        status, calls = await other.teams.answer_consent(JONAS, export)
        assert status == 200
        assert b"jonas.berg@example.org" in upload_of(other, calls)
    finally:
        await other.close(keep_connector=True)


async def test_decline_leaves_everything_where_it_was_in_the_readers_language(bot):
    await bot.teams.install(JONAS)
    await bot.teams.install(SOFIE)

    [export] = await bot.teams.say(JONAS, "export")
    status, calls = await bot.teams.answer_consent(JONAS, export, accept=False)
    assert status == 200 and bot.connector.uploads == {}
    assert "No problem, I haven't sent my-mentoring-data.json." in calls[-1].text
    assert offers(bot.services.db) == []
    [again] = await bot.teams.say(JONAS, "export")  # the data itself stayed where it was
    assert again.consent["content"]["sizeInBytes"] == export.consent["content"]["sizeInBytes"]

    [eksport] = await bot.teams.say(SOFIE, "export")
    status, calls = await bot.teams.answer_consent(SOFIE, eksport, accept=False)
    assert "Helt i orden, jeg har ikke sendt my-mentoring-data.json." in calls[-1].text


async def test_only_the_person_offered_the_file_can_take_it(bot):
    await bot.teams.install(JONAS)
    await bot.teams.install(GRACE)
    [export] = await bot.teams.say(JONAS, "export")

    status, calls = await bot.teams.answer_consent(GRACE, export)  # Grace replays the context
    assert status == 200 and bot.connector.uploads == {}
    assert "That file offer has run out" in calls[-1].text
    assert len(offers(bot.services.db)) == 1  # still Jonas's to take
    _, calls = await bot.teams.answer_consent(JONAS, export)
    assert b"jonas.berg@example.org" in upload_of(bot, calls)


async def test_an_expired_upload_turns_into_a_link_that_works_once(bot):
    await bot.teams.install(JONAS)
    [export] = await bot.teams.say(JONAS, "export")
    bot.connector.expired_uploads.add("late")

    status, calls = await bot.teams.answer_consent(JONAS, export, upload_id="late")
    assert status == 200 and bot.connector.uploads == {}
    [token] = LINK.findall(calls[-1].text)
    assert "The link works once, within the hour" in calls[-1].text
    content = await _download(bot, token)
    assert b"jonas.berg@example.org" in content
    assert await _download(bot, token, expect=410) == b""


async def test_a_group_chat_gets_a_one_time_link_refused_after_use_time_and_forget(bot, clock):
    await bot.teams.install(JONAS)
    group = {"conversation": {"id": "19:group-jonas@thread.v2", "conversationType": "groupChat",
                              "tenantId": bot.teams.activity(bot.teams.user(JONAS))
                              ["conversation"]["tenantId"]}}

    async def export() -> str:
        activity = bot.teams.activity(bot.teams.user(JONAS), text="export", **group)
        status, calls = await bot.teams.post(activity)
        [reply] = [c for c in calls if c.method == "POST"]
        assert status == 200 and reply.consent is None  # no consent card outside 1:1 chat
        [token] = LINK.findall(reply.text)
        assert token not in str(offers(bot.services.db))  # stored hashed only
        return token

    token = await export()
    async with bot.http.get(_url(bot, token)) as page:  # a link preview: the link survives
        assert page.status == 200 and "my-mentoring-data.json" in await page.text()
        assert page.headers["Cache-Control"] == "no-store"
    content = await _download(bot, token)
    assert json.loads(content)["person"]["email"] == JONAS
    assert await _download(bot, token, expect=410) == b""  # once only
    async with bot.http.get(_url(bot, token), headers={"Accept-Language": "da"}) as page:
        assert page.status == 410 and "Dette link er brugt eller udløbet" in await page.text()

    token = await export()
    clock.advance(hours=1, minutes=1)
    assert await _download(bot, token, expect=410) == b""  # out of time

    token = await export()
    assert len(offers(bot.services.db)) == 1  # the file whose hour was up is deleted
    await bot.teams.say(JONAS, "forget confirm")
    assert await _download(bot, token, expect=410) == b""  # forgotten with everything else
    assert offers(bot.services.db) == []


async def test_a_message_too_long_for_teams_arrives_as_a_file(bot):
    await bot.teams.install(JONAS)
    long = "Lang note om mentorforløbet, æøå. " * 4000  # about 136,000 characters
    with bot.services.db.unit() as session:
        identity = session.exec(select(Identity)).one()
    recipient = Recipient(identity.person_id, JONAS, "Jonas", (Address(
        "teams", identity.user_id, conversation_id=identity.conversation_id,
        service_url=identity.service_url),))

    await bot.router.messengers["teams"].send(recipient, Message(long))
    [sent] = bot.connector.delivered()[-1:]
    assert sent.status == 201  # delivered, not refused as MessageSizeTooBig
    assert "too long for a Teams message, so it comes as a file" in sent.text
    assert sent.consent["name"] == "message.txt"
    _, calls = await bot.teams.answer_consent(JONAS, sent)
    assert upload_of(bot, calls).decode("utf-8").strip() == long.strip()


async def test_the_fake_connector_refuses_what_teams_refuses(bot):
    """So a message over the limit would fail loudly in every test, as it would in Teams."""
    await bot.teams.install(JONAS)
    user = bot.teams.user(JONAS)
    big = {"type": "message", "text": "x" * (TEAMS_LIMIT // 2 + 1)}  # UTF-16: 2 bytes each
    async with bot.http.post(f"{bot.connector.url}v3/conversations/{user.conversation_id}"
                             "/activities", json=big) as response:
        assert response.status == 413
    assert MAX_ACTIVITY < TEAMS_LIMIT


def _url(bot, token: str) -> str:
    return str(bot.bot.make_url(f"/files/{token}"))


async def _download(bot, token: str, expect: int = 200) -> bytes:
    async with bot.http.post(_url(bot, token)) as response:
        assert response.status == expect
        if expect == 200:
            assert response.headers["Content-Disposition"].startswith("attachment;")
            return await response.read()
        return b""



async def test_an_export_after_ten_long_danish_notes_stays_small_and_arrives_whole(bot, clock):
    """The case the issue measured at 117.6 KB inline: now a small card, the data by upload."""
    from conversations.verbs.meetings import MAX_TEXT

    await bot.teams.install(SOFIE)
    note = ("Vi talte om forfremmelsen, feedbackkulturen og næste skridt — åbent og ærligt. "
            * 60)[:MAX_TEXT - 10]
    for day in range(10):
        clock.advance(days=3)
        [logged] = await bot.teams.say(SOFIE, f"log i går 10:00 45m {note} {day}")
        assert "Logget" in logged.shown, logged.shown
    [export] = await bot.teams.say(SOFIE, "export")
    size = len(json.dumps(export.body, ensure_ascii=False).encode("utf-16-le"))
    assert size < 5_000 and export.consent["content"]["sizeInBytes"] > 10 * len(note)
    _, calls = await bot.teams.answer_consent(SOFIE, export)
    assert upload_of(bot, calls).decode("utf-8").count("feedbackkulturen") == \
        10 * note.count("feedbackkulturen")
