"""Sent once after an ambiguous failure: Slack reads the DM back, Teams counts what it cannot know.

Slack takes a kick-off post and the connection drops before its answer (or the answer is a
500): the outbox does not post again blindly. Its next attempt reads the DM back
(conversations.history with metadata, from the claim on), finds the delivery key on the post
and settles the row as sent. Nothing is read back after a definite refusal or a plain success.
On Teams there is no read-back: the second attempt posts again, and the row says so.
"""
from sqlmodel import select

from storage.tables import Delivery
from tests.fake_slack_api import ID, dm_of, workspace
from tests.fake_teams_connector import serve_bot
from tests.helpers import import_programme

GRACE = ID["grace.okafor@example.org"]


def kickoff_of(services, person_id: int) -> Delivery:
    with services.db.unit() as session:
        return session.exec(select(Delivery).where(Delivery.kind == "kickoff",
                                                   Delivery.person_id == person_id)).one()


async def test_a_post_taken_but_unanswered_is_found_by_its_key_not_posted_again(database, clock):
    import_programme(database, now=clock.now())
    clock.advance(hours=8, minutes=30)
    async with workspace(database, clock) as slack:
        slack.fake.fail("chat.postMessage", then="drop", channel=dm_of(GRACE))
        await slack.services.pump()
        kickoff = kickoff_of(slack.services, 4)
        assert (kickoff.status, kickoff.ambiguous) == ("pending", 1)
        assert kickoff.unsure_since == kickoff.claimed_at
        # One call: slack_sdk's retry after a dropped connection leaves posts alone.
        [post] = slack.fake.posts_in(dm_of(GRACE))
        assert post["metadata"] == {"event_type": "mentor_delivery",
                                    "event_payload": {"key": kickoff.key}}
        assert slack.fake.to("conversations.history") == []  # never read back on a hunch

        clock.advance(minutes=2)
        await slack.services.pump()
        kickoff = kickoff_of(slack.services, 4)
        assert kickoff.status == "sent" and kickoff.platform_ref == f"{dm_of(GRACE)}:{post['ts']}"
        posts = [c for c in slack.fake.to("chat.postMessage")
                 if c.params.get("channel") == dm_of(GRACE)]
        assert len(posts) == 1  # once, though the bot never heard back
        [history] = slack.fake.to("conversations.history")
        assert history.params["channel"] == dm_of(GRACE)
        assert str(history.params["include_all_metadata"]).lower() in ("true", "1")
        assert float(history.params["oldest"]) <= kickoff.claimed_at.timestamp()


async def test_a_500_is_ambiguous_and_a_read_back_that_finds_nothing_posts(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    clock.advance(hours=8, minutes=30)
    async with workspace(sqlite_database, clock) as slack:
        slack.fake.fail("chat.postMessage", status=500, channel=dm_of(GRACE))
        await slack.services.pump()
        assert kickoff_of(slack.services, 4).ambiguous == 1
        clock.advance(minutes=2)
        await slack.services.pump()
        kickoff = kickoff_of(slack.services, 4)
        assert kickoff.status == "sent"
        assert len(slack.fake.posts_in(dm_of(GRACE))) == 1
        assert len(slack.fake.to("conversations.history")) == 1
        # Everyone else's kick-off went out without a single read-back.
        assert all(c.params["channel"] == dm_of(GRACE)
                   for c in slack.fake.to("conversations.history"))


async def test_teams_posts_again_after_a_lost_answer_and_counts_it(sqlite_database, clock):
    bot = await serve_bot(sqlite_database, clock)
    try:
        import_programme(bot.services.db, now=clock.now())
        for email in bot.connector.users:
            await bot.teams.install(email)
        clock.advance(hours=8, minutes=30)
        bot.connector.fail_next(504)  # a gateway's answer: the message may be out
        await bot.services.pump()
        with bot.services.db.unit() as session:
            unsure = session.exec(select(Delivery).where(Delivery.ambiguous > 0)).all()
        assert len(unsure) == 1 and unsure[0].status == "pending"
        posts = [c for c in bot.connector.calls if c.method == "POST" and c.status == 504]
        assert len(posts) == 1  # not resent inside the connector
        clock.advance(minutes=2)
        await bot.services.pump()
        with bot.services.db.unit() as session:
            row = session.get(Delivery, unsure[0].id)
        assert (row.status, row.ambiguous) == ("sent", 1)
    finally:
        await bot.close()
