"""Announcement reminders follow the meeting rules: on the reader's working day before the
event, in words true when read, and never once the event has started."""
from tests.situations.room import expect


def _announce(r, line: str) -> None:
    assert "Preview" in r.say("maja", line)
    assert "On its way" in r.say("maja", "announce confirm")


def test_a_monday_master_class_is_reminded_on_friday_in_each_readers_zone(room):
    r = room("cph-chicago", "cph-da")
    r.warm_up("2026-12-08 10:00", "maja")
    _announce(r, "announce mentors monday 15:00 Master class on feedback")
    r.run_until("2026-12-14 12:00", "maja")
    expect(r.read("grace"), [
        "Tue 08 Dec 09:00 announcement: Master class on feedback",
        "Fri 11 Dec 09:00 announcement: Coming up on Monday at 08:00 (your time): Master class "
        "on feedback When: Monday 14 December, 08:00 (your time)"])
    expect(r.read("mads"), [
        "Tue 08 Dec 10:00 announcement: Master class on feedback",
        "Fri 11 Dec 15:00 announcement: Snart, på mandag kl. 15.00 (din tid): Master class on "
        "feedback"])


def test_a_tuesday_event_is_tomorrow_on_monday(room):
    r = room("cph-en")
    r.warm_up("2026-12-08 10:00", "maja")
    _announce(r, "announce everyone next tuesday 10:00 Peer group for mentees and mentors")
    r.run_until("2026-12-15 12:00", "maja")
    expect(r.read("anna"), [
        "Tue 08 Dec 10:00 announcement: Peer group",
        "Mon 14 Dec 10:00 announcement: Coming up tomorrow, Tuesday, at 10:00 (your time):"])


def test_an_announcement_reminder_after_the_event_started_is_skipped(room):
    r = room("cph-en")
    r.warm_up("2026-12-08 10:00", "maja")
    _announce(r, "announce everyone next tuesday 10:00 Peer group")
    r.run_until("2026-12-08 12:00", "maja")
    r.clock.set(r.moment("2026-12-15 10:30", "maja"))  # the service was away
    r.run_until("2026-12-15 12:00", "maja")
    assert [line for line in r.read("anna") if "Coming up" in line] == []
    assert ("announcement", "the event has started") in r.skipped("anna")
