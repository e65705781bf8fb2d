"""Teams end to end, proactive: outbox prompts reach each person's stored Teams conversation."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlmodel import select

from bot.teams.connector import Pacer
from storage.tables import Delivery, Person
from tests.fake_teams_connector import serve_bot
from tests.helpers import import_programme

JONAS, GRACE = "jonas.berg@example.org", "grace.okafor@example.org"
GRACE_AT_WORK = datetime(2026, 9, 1, 14, 30, tzinfo=timezone.utc)  # 09:30 in Chicago


def deliveries(db, email: str, kind: str) -> list[Delivery]:
    with db.unit() as session:
        person = session.exec(select(Person).where(Person.email == email)).one()
        return list(session.exec(select(Delivery).where(Delivery.person_id == person.id,
                                                        Delivery.kind == kind)))


async def test_the_kickoff_card_reaches_the_mentor_in_working_hours(bot_on_both):
    bot = bot_on_both
    await bot.teams.install(GRACE)
    conversation = bot.teams.user(GRACE).conversation_id
    greeted = len(bot.connector.delivered(conversation))

    await bot.services.pump()  # 01:00 in Chicago: nothing yet
    assert len(bot.connector.delivered(conversation)) == greeted

    bot.services.clock.set(GRACE_AT_WORK)
    await bot.services.pump()
    [kickoff] = bot.connector.delivered(conversation)[greeted:]
    assert kickoff.activity_id == ""  # a new message in her chat, not a reply
    assert "Welcome to **Nordlys Mentoring 2026/27**, Grace!" in kickoff.card_texts[0]
    [button] = kickoff.card["actions"]
    assert button["type"] == "Action.Submit" and button["data"] == {"action": "open_next",
                                                                     "value": ""}
    [row] = deliveries(bot.services.db, GRACE, "kickoff")
    assert (row.status, row.platform, row.platform_ref) == ("sent", "teams", kickoff.id)

    # Pressing the card's button opens the booking form and closes the prompt card.
    calls = await bot.teams.submit(GRACE, kickoff.id, button["data"])
    [form] = [c for c in calls if c.method == "POST"]
    assert {e["type"] for e in form.card["body"]} >= {"Input.Date", "Input.Time"}
    [closed] = [c for c in calls if c.method == "PUT"]
    assert closed.activity_id == kickoff.id and closed.card["actions"] == []
    assert closed.card["body"][0]["text"] == kickoff.card_texts[0]
    assert closed.card["body"][-1]["text"] == "✓ Schedule next"


async def test_a_429_is_retried_after_retry_after_and_delivered_once(bot):
    await bot.teams.install(GRACE)
    conversation = bot.teams.user(GRACE).conversation_id
    bot.services.clock.set(GRACE_AT_WORK)
    bot.connector.fail_next(429, retry_after="1")

    await bot.services.pump()

    attempts = [c for c in bot.connector.calls if c.conversation_id == conversation
                and c.activity_id == "" and c.method == "POST"][1:]  # after the greeting
    assert [c.status for c in attempts] == [429, 201]
    assert max(bot.time.sleeps) >= 1.0  # waited at least what Retry-After asked
    [row] = deliveries(bot.services.db, GRACE, "kickoff")
    assert (row.status, row.platform_ref) == ("sent", attempts[1].id)


async def test_throttling_that_outlasts_the_retries_is_retried_by_the_outbox(bot):
    await bot.teams.install(GRACE)
    bot.services.clock.set(GRACE_AT_WORK)
    bot.connector.fail_next(503, times=4)

    await bot.services.pump()

    [row] = deliveries(bot.services.db, GRACE, "kickoff")
    assert row.status == "pending" and row.next_try_at is not None
    assert "teams 503" in row.last_error and "gave up after 4 tries" in row.last_error
    assert len(bot.time.sleeps) >= 3  # backed off between the tries


async def test_a_permanent_refusal_is_recorded_on_the_delivery(bot_on_both):
    bot = bot_on_both
    await bot.teams.install(GRACE)
    bot.services.clock.set(GRACE_AT_WORK)
    bot.connector.fail_next(403, code="BotNotInConversationRoster")

    await bot.services.pump()

    [row] = deliveries(bot.services.db, GRACE, "kickoff")
    assert row.status == "failed"
    assert row.last_error == "teams 403 BotNotInConversationRoster"
    assert len([c for c in bot.connector.calls if c.status == 403]) == 1  # not retried


async def test_someone_who_never_installed_the_bot_is_reported_unreachable(bot):
    await bot.teams.install(GRACE)
    bot.services.clock.set(GRACE_AT_WORK)

    await bot.services.pump()

    [row] = deliveries(bot.services.db, JONAS, "kickoff")  # Jonas never added the bot
    assert row.status != "sent"
    assert row.last_error.startswith("not_installed")
    assert bot.connector.delivered(bot.teams.user(JONAS).conversation_id) == []


async def test_the_installed_conversation_survives_a_restart(sqlite_database, clock):
    """The conversation reference is stored as plain columns, not held in memory."""
    first = await serve_bot(sqlite_database, clock)
    import_programme(first.services.db, now=clock.now())
    await first.teams.install(GRACE)
    await first.close(keep_connector=True)

    second = await serve_bot(sqlite_database, clock, connector=first.connector)
    try:
        second.services.clock.set(GRACE_AT_WORK)
        await second.services.pump()
        [greeting, kickoff] = second.connector.delivered()
        assert kickoff.conversation_id == second.teams.user(GRACE).conversation_id
    finally:
        await second.close()


async def test_pacing_keeps_to_teams_limits_per_conversation():
    now = [0.0]
    waits = []

    async def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    pacer = Pacer(sleep, lambda: now[0])
    sent = []
    for _ in range(70):
        await pacer.wait("a:one")
        sent.append(now[0])
    assert all(sum(1 for t in sent if s <= t < s + 1) <= 7 for s in sent)
    assert all(sum(1 for t in sent if s <= t < s + 30) <= 60 for s in sent)
    assert sent[69] >= 30.0  # the 61st had to wait for the 30-second window

    other = now[0]
    await pacer.wait("a:other")  # another conversation is not held up by this one (only by the
    assert now[0] - other <= 1 / 50 + 1e-9  # app's even spacing, 50 calls a second)
