"""Teams end to end: activities over HTTP to /api/messages, replies seen at a fake connector."""
from __future__ import annotations

import html
import re

from sqlmodel import select

from storage.tables import Answer, Identity, Meeting
from tests.fake_teams_connector import BOT_ID

JONAS, GRACE = "jonas.berg@example.org", "grace.okafor@example.org"


def shown(markdown: str) -> str:
    """What a Teams user reads: markdown escapes and HTML entities undone."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def identities(db) -> list[Identity]:
    with db.unit() as session:
        return list(session.exec(select(Identity).where(Identity.platform == "teams")))


def card_action(call, action_id: str) -> dict:
    return next(a for a in call.card["actions"] if a["data"]["action"] == action_id)


async def test_install_stores_the_conversation_and_greets(bot_on_both):
    bot = bot_on_both
    replies = await bot.teams.install(JONAS)

    assert len(replies) == 1
    assert replies[0].conversation_id == bot.teams.user(JONAS).conversation_id
    assert "Hi Jonas! Here's what you can do" in replies[0].text
    assert replies[0].body["from"]["id"] == BOT_ID
    [identity] = identities(bot.services.db)
    user = bot.teams.user(JONAS)
    assert (identity.user_id, identity.conversation_id, identity.service_url) == (
        user.aad_object_id, user.conversation_id, bot.connector.url)
    assert bot.connector.lookups == [user.id]  # matched through the roster look-up, once

    await bot.teams.say(JONAS, "status")
    assert bot.connector.lookups == [user.id]  # then by the AAD object id alone
    assert "Teams: live at /api/messages (TEAMS_EMULATOR=1: unauthenticated, for the Bot Framework "\
        "Emulator on this machine only)" in bot.banner


async def test_a_stranger_gets_the_friendly_unknown_user_message(bot):
    bot.connector.users["eve@example.org"] = stranger = type(bot.teams.user(JONAS))(
        "eve@example.org", "Eve", "29:eve", "aad-eve", "a:personal-eve")
    replies = await bot.teams.install(stranger.email)
    assert "I don't know you yet" in replies[0].text
    assert identities(bot.services.db) == []


async def test_a_stranger_is_answered_in_the_language_of_their_teams_client(bot):
    bot.connector.users["eve@example.org"] = stranger = type(bot.teams.user(JONAS))(
        "eve@example.org", "Eve", "29:eve", "aad-eve", "a:personal-eve")
    [reply] = await bot.teams.say(stranger.email, "hej", locale="da-DK")
    assert "Jeg kender dig ikke endnu" in reply.text and "I don't know you yet" not in reply.text
    [both] = await bot.teams.say(stranger.email, "hello", locale="fr-FR")
    assert both.text.index("I don't know you yet") < both.text.index("Jeg kender dig ikke endnu")


async def test_every_verb_works_as_a_message(bot):
    await bot.teams.install(JONAS)
    await bot.teams.install(GRACE)

    async def say(text: str) -> str:
        replies = await bot.teams.say(JONAS, text)
        assert replies, text
        assert all(r.activity_id for r in replies)  # each a reply to the user's message
        return "\n".join(shown(r.shown) for r in replies)

    assert "Here's what you can do" in await say("help")
    assert "Logged: Tuesday 1 September, 07:00, 45 min." in await say(
        "log today 07:00 45m talked about my goals")
    assert "Booked: Friday 4 September, 16:00 (your time)" in await say("next friday 16:00")
    assert "Sent to Grace Okafor for your meeting Friday 4 September, 16:00" in await say(
        "agenda 1) my goals 2) saying no")
    assert "Meetings held: 1 (" in await say("status")
    assert "A question to think about:" in await say("reflect")
    assert "Taking a break." in await say("snooze 2 weeks")
    assert "Welcome back!" in await say("snooze off")
    assert "no more optional prompts" in await say("optout")
    assert "Optional prompts are on again." in await say("optin")
    assert "Thank you for taking part." in await say("evaluate now")

    export = (await bot.teams.say(JONAS, "export"))[0]
    assert "Here is everything I hold about you" in export.text
    [offer] = export.body["attachments"]  # a FileConsentCard: Teams takes no inline files
    assert offer == export.consent and offer["name"] == "my-mentoring-data.json"
    status, calls = await bot.teams.answer_consent(JONAS, export)
    assert status == 200 and calls[-1].file_info["name"] == "my-mentoring-data.json"
    assert b"jonas.berg@example.org" in bot.connector.uploads[calls[-1].file_info["content"]
                                                              ["uniqueId"]]
    assert "Type `forget confirm` to go ahead." in await say("forget")

    # The agenda reaches the mentor proactively, in the mentor's own chat, when her working
    # day starts in Chicago (08:00 in Copenhagen is 01:00 there).
    bot.services.clock.advance(hours=8)
    await bot.services.pump()
    grace = "\n".join(shown(t) for t in bot.connector.texts(bot.teams.user(GRACE).conversation_id))
    assert "Jonas Berg sent the agenda for your meeting Friday 4 September, 09:00" in grace
    assert "1) my goals 2) saying no" in grace


async def test_the_bot_mention_is_stripped(bot):
    await bot.teams.install(JONAS)
    replies = await bot.teams.say(JONAS, "<at>Mentor</at> status", entities=[{
        "type": "mention", "text": "<at>Mentor</at>",
        "mentioned": {"id": BOT_ID, "name": "Mentor"}}])
    assert "Meetings held: none logged yet" in shown(replies[0].text)


async def test_user_text_is_shown_literally_never_as_markup(bot):
    await bot.teams.install(JONAS)
    await bot.teams.install(GRACE)
    typed = "**bold** <at>x</at> [link](http://x)"
    # An unknown word is quoted back: escaped.
    [reply] = await bot.teams.say(JONAS, "<at>x</at>")
    assert "&lt;at&gt;x&lt;/at&gt;" in reply.text and "<at>" not in reply.text

    bot.services.clock.advance(hours=8)  # Grace's working day in Chicago: her kick-off first
    await bot.services.pump()
    await bot.teams.say(JONAS, f"agenda {typed}")
    await bot.services.pump()
    [agenda] = [c for c in bot.connector.delivered(bot.teams.user(GRACE).conversation_id)
                if "sent the agenda" in c.shown]
    assert r"\*\*bold\*\* &lt;at&gt;x&lt;/at&gt; \[link\]\(http://x\)" in agenda.text
    assert "**bold**" not in agenda.text and "<at>" not in agenda.text and "](" not in agenda.text
    assert typed in shown(agenda.text)


async def test_a_duplicate_activity_is_processed_once(bot):
    await bot.teams.install(JONAS)
    first = await bot.teams.say(JONAS, "log today 07:00 45m goals", activity_id="dup-1")
    again = await bot.teams.say(JONAS, "log today 07:00 45m goals", activity_id="dup-1")
    assert len(first) == 1 and again == []
    with bot.services.db.unit() as session:
        assert len(list(session.exec(select(Meeting)))) == 1


async def test_the_log_form_card_is_stored_once_and_closed(bot_on_both):
    bot = bot_on_both
    await bot.teams.install(JONAS)
    conversation = bot.teams.user(JONAS).conversation_id
    status = (await bot.teams.say(JONAS, "status"))[0]
    assert status.card is None  # plain markdown when there is nothing to press

    # A "Log a meeting" button press opens the form as a card with typed inputs.
    opened = await bot.teams.submit(JONAS, "1:0", {"action": "open_log", "value": ""})
    [form] = [c for c in opened if c.method == "POST"]
    inputs = {e["id"]: e for e in form.card["body"] if e["type"].startswith("Input.")}
    assert {k: v["type"] for k, v in inputs.items()} == {
        "date": "Input.Date", "time": "Input.Time", "minutes": "Input.Number", "note": "Input.Text"}
    assert inputs["note"]["isMultiline"] is True
    assert card_action(form, "log_submit")["type"] == "Action.Submit"

    values = {"action": "log_submit", "value": "", "date": "2026-09-01", "time": "07:00",
              "minutes": "45", "note": "talked about *my* goals"}
    first = await bot.teams.submit(JONAS, form.id, values)
    second = await bot.teams.submit(JONAS, form.id, values)  # same card, same values, new id

    texts = [shown(c.shown) for c in first + second if c.method == "POST"]
    assert sum("Logged: Tuesday 1 September, 07:00, 45 min." in t for t in texts) == 1
    assert any("already logged" in t for t in texts)
    with bot.services.db.unit() as session:
        assert len(list(session.exec(select(Meeting)))) == 1
    [update] = [c for c in bot.connector.updates(conversation) if c.activity_id == form.id]
    closed = update.card
    assert closed["actions"] == []
    assert not [e for e in closed["body"] if e["type"].startswith("Input.")]
    assert closed["body"][-1]["text"] == "✓ Log it"


async def test_a_rating_submit_answers_the_evaluation_question(bot):
    await bot.teams.install(JONAS)
    [question] = await bot.teams.say(JONAS, "evaluate now")
    ratings = [a for a in question.card["actions"] if a["data"]["action"] == "answer"]
    assert [a["title"] for a in ratings] == ["1", "2", "3", "4", "5"]
    card_id = question.id

    calls = await bot.teams.submit(JONAS, card_id, ratings[3]["data"])
    again = await bot.teams.submit(JONAS, card_id, ratings[1]["data"])

    with bot.services.db.unit() as session:
        answers = list(session.exec(select(Answer).where(Answer.form == "evaluation")))
    assert [(a.question, a.rating) for a in answers] == [("expectations", 4)]
    [next_question] = [c for c in calls if c.method == "POST"]
    assert "We built a relationship of trust." in shown(next_question.shown)
    assert "You've already answered that one" in shown(again[-1].shown)
    [update] = [c for c in calls if c.method == "PUT"]
    assert update.activity_id == card_id
    assert update.card["actions"] == [] and update.card["body"][-1]["text"] == "✓ 4"
    assert not [c for c in again if c.method == "PUT"]  # a refused answer leaves the card be


async def test_the_emulator_can_speak_as_a_roster_email(bot):
    """Emulator mode (TEAMS_EMULATOR=1): no roster look-up answers, so the user id may be an
    email."""
    activity = bot.teams.activity(bot.teams.user(JONAS), text="status", channelId="emulator")
    activity["from"] = {"id": JONAS, "name": "Jonas"}
    activity["conversation"] = {"id": "emulator-conversation"}

    status, calls = await bot.teams.post(activity)

    assert status == 200
    assert "Meetings held: none logged yet" in shown(calls[-1].text)
    assert calls[-1].conversation_id == "emulator-conversation"


async def test_a_body_that_is_not_an_activity_is_a_bad_request(bot):
    async with bot.http.post(bot.teams.bot_url, data=b"{not json",
                             headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
    async with bot.http.post(bot.teams.bot_url, json=["no", "type"]) as response:
        assert response.status == 400
    async with bot.http.post(bot.teams.bot_url, json={"type": "message", "from": "x"}) as response:
        assert response.status == 400
    assert bot.connector.calls == []


async def test_a_personal_install_that_names_only_the_bot_greets_the_installer(bot):
    """Teams' own shape of a personal install: membersAdded holds the bot, `from` the user."""
    user = bot.teams.user(JONAS)
    activity = bot.teams.activity(user, "conversationUpdate", membersAdded=[{"id": BOT_ID}])

    status, calls = await bot.teams.post(activity)

    assert status == 200
    assert "Hi Jonas!" in calls[-1].text
    assert [i.user_id for i in identities(bot.services.db)] == [user.aad_object_id]
