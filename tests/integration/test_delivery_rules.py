"""The outbox's delivery rules with the real engine, storage and a fake clock."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from conversations.outbox import DeliveryFailed
from conversations.programme import Settings
from conversations.working_hours import next_working_moment
from storage.outbox import Proposal, propose
from storage.people import person_by_email
from storage.tables import Delivery, Pair
from tests.helpers import import_programme, say

JONAS = "jonas.berg@example.org"
CPH = ZoneInfo("Europe/Copenhagen")


@pytest.mark.parametrize("local,expected", [
    # Saturday before the October switch → Monday 09:00 after it (+01:00)
    (datetime(2026, 10, 24, 12, 0, tzinfo=CPH), datetime(2026, 10, 26, 9, 0, tzinfo=CPH)),
    # Friday evening before the March switch → Monday 09:00 summer time (+02:00)
    (datetime(2027, 3, 26, 18, 0, tzinfo=CPH), datetime(2027, 3, 29, 9, 0, tzinfo=CPH)),
    (datetime(2027, 3, 29, 8, 59, tzinfo=CPH), datetime(2027, 3, 29, 9, 0, tzinfo=CPH)),
    (datetime(2027, 3, 29, 10, 0, tzinfo=CPH), datetime(2027, 3, 29, 10, 0, tzinfo=CPH)),
])
def test_working_hours_across_both_dst_switches(local, expected):
    moment = next_working_moment(local.astimezone(timezone.utc), "Europe/Copenhagen", Settings())
    assert moment == expected
    assert moment.astimezone(CPH).utcoffset() == expected.utcoffset()


async def _ready(services, clock, when: datetime):
    import_programme(services.db, now=clock.now())
    clock.set(when)
    await services.pump()


async def test_prompts_wait_for_the_recipients_working_hours(services, clock, messenger):
    # 2026-09-01 06:00 UTC: 08:00 in Copenhagen, 01:00 in Chicago.
    await _ready(services, clock, datetime(2026, 9, 1, 6, 0, tzinfo=timezone.utc))
    assert messenger.texts_for(JONAS) == []
    clock.set(datetime(2026, 9, 1, 7, 0, tzinfo=timezone.utc))
    await services.pump()
    assert any("Welcome" in t for t in messenger.texts_for(JONAS))
    assert messenger.texts_for("grace.okafor@example.org") == []
    clock.set(datetime(2026, 9, 1, 14, 0, tzinfo=timezone.utc))  # 09:00 Chicago
    await services.pump()
    assert any("Welcome" in t for t in messenger.texts_for("grace.okafor@example.org"))


async def test_prompts_due_together_are_merged_and_the_weekly_cap_keeps_the_most_important(
        services, clock, messenger):
    import_programme(services.db, now=clock.now())
    clock.set(datetime(2026, 9, 2, 8, 0, tzinfo=timezone.utc))
    with services.db.unit() as s:
        jonas = person_by_email(s, JONAS)
        pair = s.exec(select(Pair).where(Pair.key == "nordlys-02")).one()
        pair.next_check_at = clock.now() + timedelta(days=30)  # only these five, nothing else
        now = clock.now()
        propose(s, [Proposal(f"test:{kind}", jonas.id, pair.programme_id, pair.id, kind, now,
                             now + timedelta(days=14), priority, payload=payload)
                    for kind, priority, payload in (
                        ("post_checkin", 4, {}), ("droop", 3, {"reason": "midpoint", "set": 1}),
                        ("meeting_nudge", 3, {}), ("line_manager", 2, {}), ("closing", 2, {}))])
    await services.pump()
    texts = messenger.texts_for(JONAS)
    assert len(texts) == 1  # one message, not a burst of three
    assert "line manager" in texts[0] and "closes" in texts[0] and "halfway" in texts[0]
    with services.db.unit() as s:
        rows = {r.kind: r for r in s.exec(select(Delivery).where(Delivery.key.startswith("test:")))}
    # Most important first; among equals the one that came due first.
    assert {k for k, r in rows.items() if r.status == "sent"} == {"closing", "line_manager",
                                                                  "droop"}
    assert [(rows[k].status, rows[k].last_error) for k in ("meeting_nudge", "post_checkin")] == \
        [("pending", "weekly cap")] * 2
    clock.advance(days=7, hours=1)
    await services.pump()  # a new week: the held prompts go out, merged again
    assert len(messenger.texts_for(JONAS)) == 2


async def test_snooze_holds_prompts_and_optout_drops_optional_ones(services, clock, messenger):
    await _ready(services, clock, datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc))
    assert "I'll hold my prompts until" in say(services, JONAS, "snooze 2 weeks")[0]
    assert "no more optional prompts" in say(services, JONAS, "optout")[0]
    before = len(messenger.texts_for(JONAS))
    clock.advance(days=4)
    await services.pump()  # the 3-day first-meeting chase is due, but Jonas is snoozed
    assert len(messenger.texts_for(JONAS)) == before
    clock.advance(days=11)
    await services.pump()
    assert len(messenger.texts_for(JONAS)) == before + 1  # delivered after the snooze
    clock.set(datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc))
    await services.pump()  # the first pulse (optional) comes due
    with services.db.unit() as s:
        person = person_by_email(s, JONAS)
        pulse = s.exec(select(Delivery).where(Delivery.person_id == person.id,
                                              Delivery.kind == "pulse")).one()
    assert pulse.status == "skipped" and pulse.last_error == "opted out of optional prompts"


async def test_prompts_missed_while_down_are_sent_unless_stale(services, clock, messenger):
    import_programme(services.db, now=clock.now())
    # The service was down from the start of the programme for two weeks.
    clock.set(datetime(2026, 9, 15, 8, 0, tzinfo=timezone.utc))
    await services.pump()
    with services.db.unit() as s:
        person = person_by_email(s, JONAS)
        rows = {r.key.split(":")[0] + r.key.split(":")[2] * (r.kind == "first_meeting_chase"): r
                for r in s.exec(select(Delivery).where(Delivery.person_id == person.id))}
    assert rows["kickoff"].status == "sent"  # still relevant two weeks late
    assert rows["first_chase3"].status == "skipped"  # a week-old chase is not
    assert rows["first_chase3"].last_error.startswith("stale")
    assert rows["first_chase10"].status == "sent"
    assert any("Welcome" in t for t in messenger.texts_for(JONAS))


async def test_failed_sends_are_retried_with_backoff_then_recorded(services, clock, messenger):
    await _ready(services, clock, datetime(2026, 8, 30, 8, 0, tzinfo=timezone.utc))
    messenger.failures[JONAS] = [DeliveryFailed("rate_limited")] * 5
    clock.set(datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc))
    for minutes in (0, 1, 5, 30, 120):
        clock.advance(minutes=minutes)
        await services.pump()
    with services.db.unit() as s:
        person = person_by_email(s, JONAS)
        kickoff = s.exec(select(Delivery).where(Delivery.person_id == person.id,
                                                Delivery.kind == "kickoff")).one()
    assert kickoff.status == "failed" and kickoff.last_error == "rate_limited"
    assert kickoff.attempts == 5


async def test_a_permanent_error_is_not_retried(services, clock, messenger):
    await _ready(services, clock, datetime(2026, 8, 30, 8, 0, tzinfo=timezone.utc))
    messenger.failures[JONAS] = [DeliveryFailed("account_inactive", permanent=True)]
    clock.set(datetime(2026, 9, 1, 7, 0, tzinfo=timezone.utc))
    await services.pump()
    with services.db.unit() as s:
        failed = s.exec(select(Delivery).where(Delivery.status == "failed")).all()
    assert [(r.kind, r.last_error, r.attempts) for r in failed] == [("kickoff", "account_inactive", 1)]


async def test_tick_reads_only_pairs_that_are_due(services, clock):
    import_programme(services.db, now=clock.now())
    first = services.ticker.tick()
    assert first.pairs == 4
    assert services.ticker.tick().pairs == 0  # nothing due again until the next check
    with services.db.unit() as s:
        checks = [p.next_check_at for p in s.exec(select(Pair))]
    assert all(c > clock.now() for c in checks)
    assert Proposal and propose
