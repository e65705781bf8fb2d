"""Touchpoint announcements: preview, confirm, working hours, reminder, RSVP, delivery report."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlmodel import select

from conversations.outbox import DeliveryFailed
from storage.tables import Delivery
from tests.helpers import import_programme, press, say, snapshot

MAJA = "maja.kruse@example.org"
TUESDAY = datetime(2026, 9, 15, 8, 0, tzinfo=timezone.utc)


def _announce(services):
    preview = say(services, MAJA, "announce mentees monday 14:00 Master class on feedback. "
                                  "See you, {{ first_name }}!")[0]
    assert "Preview* for 5 people (mentees)" in preview
    assert "Master class on feedback. See you, Anna!" in preview
    assert "On its way to 5 people" in say(services, MAJA, "announce confirm")[0]


async def test_manager_announces_with_reminder_in_working_hours(services, clock, messenger):
    import_programme(services.db, now=clock.now())
    clock.set(TUESDAY)
    messenger.failures["omar.haddad@example.org"] = [DeliveryFailed("not_installed: no chat")] * 20
    _announce(services)
    for hours in range(0, 24 * 7, 2):  # a week of pumping
        clock.set(TUESDAY.replace(hour=0) + timedelta(hours=hours))
        await services.pump()
    jonas = [t for t in messenger.texts_for("jonas.berg@example.org") if "Master class" in t]
    assert len(jonas) == 2  # the announcement and the reminder on the working day before
    assert "When: Monday 21 September, 14:00 (your time)" in jonas[0]
    # The event is on a Monday: the reminder comes on Friday and says so, not "tomorrow".
    assert jonas[1].startswith("Coming up on Monday at 14:00 (your time)")
    sofie = [t for t in messenger.texts_for("sofie.lund@example.org") if "Master class" in t]
    assert "Hvornår: mandag 21. september kl. 14.00 (din tid)" in sofie[0]
    assert sofie[1].startswith("Snart, på mandag kl. 14.00 (din tid)")
    with services.db.unit() as s:
        rows = s.exec(select(Delivery).where(Delivery.kind == "announcement",
                                             Delivery.status == "sent")).all()
    for row in rows:
        local = row.sent_at.astimezone(ZoneInfo("Europe/Berlin"))  # all mentees are CET-ish
        assert local.weekday() < 5 and 9 <= local.hour < 17
        if "reminder" in row.payload_json:
            assert local.weekday() == 4  # Friday 18 September
    status = say(services, MAJA, "announce status")[0]
    assert "Delivered to 4 of 5" in status
    assert "not reached: Omar Haddad (hasn't opened a chat with the bot yet)" in status


async def test_rsvp_counts_reach_the_manager(services, clock, messenger):
    import_programme(services.db, now=clock.now())
    clock.set(TUESDAY)
    _announce(services)
    await services.pump()
    announcement = next(s.message for s in messenger.sent
                        if s.email == "jonas.berg@example.org" and "Master class" in s.text)
    yes = next(b for b in announcement.buttons if b.action_id == "rsvp" and b.value.endswith("yes"))
    assert "on the list" in press(services, "jonas.berg@example.org", "rsvp", yes.value)[0]
    press(services, "anna.weiss@example.org", "rsvp", yes.value.replace("yes", "no"))
    assert "Coming: 1, can't make it: 1" in say(services, MAJA, "announce status")[0]


def test_only_managers_may_announce_and_bad_templates_are_refused(services, clock):
    import_programme(services.db, now=clock.now())
    say(services, MAJA, "help")
    say(services, "jonas.berg@example.org", "help")
    before = snapshot(services.db)
    assert "for the programme's managers" in say(services, "jonas.berg@example.org",
                                                  "announce everyone hello")[0]
    refused = say(services, MAJA, "announce everyone Hi {{ ''.__class__ }}")[0]
    assert "won't run" in refused and "{{ first_name }}" in refused
    unknown = say(services, MAJA, "announce everyone Hi {{ salary }}")[0]
    assert '"salary" isn\'t a field I can fill in' in unknown
    assert "I don't know the audience" in say(services, MAJA, "announce bosses hi")[0]
    assert snapshot(services.db) == before


def test_cancel_sends_nothing(services, clock, messenger):
    import_programme(services.db, now=clock.now())
    say(services, MAJA, "announce mentors Peer group on Thursday")
    assert "Cancelled" in say(services, MAJA, "announce cancel")[0]
    assert "no announcement waiting" in say(services, MAJA, "announce confirm")[0]
    with services.db.unit() as s:
        assert s.exec(select(Delivery).where(Delivery.kind == "announcement")).all() == []


def test_manager_marks_pairs_followed_up(services, clock):
    import_programme(services.db, now=clock.now())
    reply = say(services, MAJA, "followup nordlys-02")[0]
    assert "Marked *nordlys-02*" in reply and "nordlys-01, nordlys-03, nordlys-04" in reply
    assert "no active pair" in say(services, MAJA, "followup nordlys-99")[0]
