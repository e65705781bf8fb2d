"""Slack end to end: prompts through the outbox into DMs, and the buttons on them.

The scheduler's beat is `services.pump()`; the clock is the engine's FakeClock.
"""
import asyncio

from sqlmodel import select

from storage.tables import Answer, Delivery, Meeting
from tests.fake_slack_api import ID, buttons_of, dm_of, text_of, workspace
from tests.helpers import import_programme

JONAS, GRACE = ID["jonas.berg@example.org"], ID["grace.okafor@example.org"]


def rows(services, table, *where):
    with services.db.unit() as session:
        return list(session.exec(select(table).where(*where)))


def labels(message: dict) -> list[str]:
    return [b["text"]["text"] for b in buttons_of(message)]


async def test_a_prompt_cycle_through_the_outbox_into_dms_with_buttons(database, clock):
    import_programme(database, now=clock.now())
    async with workspace(database, clock) as slack:
        await slack.dm(JONAS, "help")  # Jonas has written to the bot; Grace never has
        await slack.settle()
        clock.advance(hours=8, minutes=30)  # 14:30 UTC: working hours in Copenhagen and Chicago
        await slack.services.pump()

        kickoff = slack.fake.posts_in(dm_of(JONAS))[-1]
        assert "Welcome to *Nordlys Mentoring 2026/27*, Jonas!" in text_of(kickoff)
        assert "Welcome to" in kickoff["text"]
        grace = slack.fake.posts_in(dm_of(GRACE))[-1]  # found by email, DM opened
        assert "Welcome to *Nordlys Mentoring 2026/27*, Grace!" in text_of(grace)
        assert labels(grace) == ["Schedule next"]
        opened = [c.params["users"] for c in slack.fake.to("conversations.open")]
        assert GRACE in opened and JONAS not in opened  # Jonas's DM was known from his message
        for delivery in rows(slack.services, Delivery, Delivery.kind == "kickoff"):
            if delivery.person_id in (4, 5):  # Grace and Jonas
                assert delivery.status == "sent" and delivery.platform == "slack"
                assert delivery.platform_ref.startswith("D0")

        # Jonas answers the kick-off's question in the DM; ratings come back as buttons.
        await slack.dm(JONAS, "1) speak up in meetings 2) delegate more")
        await slack.settle()
        question = slack.fake.posts_in(dm_of(JONAS))[-1]
        assert "speak up in meetings" in text_of(question)
        assert labels(question) == ["1", "2", "3", "4", "5"]
        await slack.press(JONAS, question, "3")
        await slack.settle()
        [update] = slack.fake.to("chat.update")
        assert update.params["channel"] == dm_of(JONAS) and update.params["ts"] == question["ts"]
        assert "✓ You chose: 3" in text_of(update.params)
        assert buttons_of(update.params) == []
        [goal] = rows(slack.services, Answer, Answer.question == "goal_1")
        assert goal.rating == 3
        assert "delegate more" in text_of(slack.fake.posts_in(dm_of(JONAS))[-1])

        # Grace books the first meeting from her kick-off's button; Jonas hears of it.
        await slack.press(GRACE, grace, "Schedule next")
        await slack.settle()
        view = slack.fake.to("views.open")[-1].params["view"]
        await slack.submit(GRACE, view, {"date": "2026-09-08", "time": "09:00"})
        await slack.settle()
        booked = slack.fake.posts_in(dm_of(GRACE))[-1]
        assert "Booked: Tuesday 8 September, 09:00" in text_of(booked)
        before = len(slack.fake.posts_in(dm_of(JONAS)))
        await slack.services.pump()  # 16:30 in Copenhagen: it reaches Jonas at once
        assert any("Grace Okafor booked your next mentoring meeting" in text_of(post)
                   for post in slack.fake.posts_in(dm_of(JONAS))[before:])


async def test_rating_buttons_answer_the_evaluation_once_and_update_the_message(
        sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        await slack.dm(JONAS, "evaluate now")
        await slack.settle()
        question = slack.fake.posts_in(dm_of(JONAS))[-1]
        assert "_The mentoring met my expectations._" in text_of(question)

        # A double click: two presses of "4" arrive together.
        await asyncio.gather(slack.press(JONAS, question, "4"), slack.press(JONAS, question, "4"))
        await slack.settle()
        [answer] = rows(slack.services, Answer, Answer.form == "evaluation")
        assert (answer.question, answer.rating) == ("expectations", 4)
        replies = slack.fake.posts_in(dm_of(JONAS))[1:]
        assert sum("Question 2 of 11" in text_of(r) for r in replies) == 1
        updates = slack.fake.to("chat.update")
        assert updates and all("✓ You chose: 4" in text_of(u.params) and not buttons_of(u.params)
                               for u in updates)

        # Pressing a rating on the old message later is refused, and stored nothing.
        await slack.press(JONAS, question, "2")
        await slack.settle()
        assert "already answered" in text_of(slack.fake.posts_in(dm_of(JONAS))[-1])
        assert len(rows(slack.services, Answer, Answer.form == "evaluation")) == 1

        # The dialog resumes with the next question's buttons.
        second = next(r for r in replies if "Question 2 of 11" in text_of(r))
        await slack.press(JONAS, second, "5")
        await slack.settle()
        ratings = {a.question: a.rating for a in rows(slack.services, Answer)}
        assert ratings == {"expectations": 4, "trust": 5}
        await slack.command(JONAS, "evaluate")
        await slack.settle()
        assert "Question 3 of 11" in text_of(slack.fake.to("response_url")[-1].params)


async def test_a_double_pressed_did_you_meet_logs_one_meeting(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        await slack.command(JONAS, "next thursday 10:00 anyway")  # 08:00 UTC, 03:00 for Grace
        await slack.settle()
        clock.advance(days=2, hours=4, minutes=30)  # Thursday 12:30 in Copenhagen
        await slack.services.pump()
        prompt = next(p for p in slack.fake.posts_in(dm_of(JONAS)) if "Yes, we met" in labels(p))
        await asyncio.gather(*(slack.press(JONAS, prompt, "Yes, we met") for _ in range(3)))
        await slack.settle()
        [meeting] = rows(slack.services, Meeting)
        assert meeting.minutes == 60
        logged = [p for p in slack.fake.posts_in(dm_of(JONAS)) if "Logged:" in text_of(p)]
        assert len(logged) == 1


async def test_snooze_button_snoozes_a_week(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        await slack.dm(JONAS, "help")
        clock.advance(days=3, hours=8)  # Friday 4 September: the first meeting isn't booked
        await slack.services.pump()
        await slack.settle()
        chase = next(p for p in slack.fake.posts_in(dm_of(JONAS)) if "Snooze a week" in labels(p))
        await slack.press(JONAS, chase, "Snooze a week")
        await slack.settle()
        assert "I'll hold my prompts until Friday 11 September" in \
            text_of(slack.fake.posts_in(dm_of(JONAS))[-1])
        update = slack.fake.to("chat.update")[-1].params
        assert "✓ You chose: Snooze a week" in text_of(update)
        assert labels(update) == ["Schedule next"]  # only the pressed group was answered
