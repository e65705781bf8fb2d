"""Reminders counted backwards from the meeting, in the reader's working calendar, across
weekdays, a booking made late, the weekly cap and both daylight-saving changes."""
from datetime import date

from tests.situations.room import expect


def test_a_wednesday_meeting_booked_a_week_ahead(room):
    r = room("cph-en")
    r.warm_up("2026-12-09 11:00", "anna")  # Wednesday
    r.say("anna", "next 16 december 14:00")
    r.run_until("2026-12-16 17:00", "anna")
    expect(r.read("anna"), [
        "Mon 14 Dec 14:00 agenda_reminder: Your meeting with Lars Nielsen is co",
        "Tue 15 Dec 14:00 meeting_reminder: Your meeting with Lars Nielsen is t",
        "Wed 16 Dec 16:00 did_you_meet: Did your meeting with Lars Nielsen on W",
    ])
    assert r.read("lars")[1] == (
        "Tue 15 Dec 14:00 meeting_reminder: Your meeting with Anna Weiss is tomorrow, Wednesday, "
        "at 14:00. If you can't make it, let them know early.")


def test_booked_after_the_agenda_moment_the_reply_asks_for_it(room):
    r = room("cph-en")
    r.warm_up("2026-12-11 16:30", "anna")  # Friday, after 16:00: Monday's agenda moment is gone
    reply = r.say("anna", "next monday 10:00")
    assert reply.startswith("Booked: Monday 14 December, 10:00 (your time).")
    assert "The meeting is close, so please send your agenda now: `agenda 1) … 2) …`." in reply
    r.run_until("2026-12-14 13:00", "anna")
    expect(r.read("anna"), ["Mon 14 Dec 12:00 did_you_meet: Did your"])
    # Lars is told at once (still in his day) and gets no day-before reminder for a meeting
    # booked after that moment.
    expect(r.read("lars"), ["Fri 11 Dec 16:30 meeting_booked: Anna W"])


def test_an_agenda_sent_early_stops_every_agenda_prompt(room):
    r = room("cph-en")
    r.warm_up("2026-12-09 11:00", "anna")
    r.say("anna", "next 16 december 14:00")
    r.say("anna", "agenda 1) my goals")
    r.run_until("2026-12-16 13:00", "anna")
    assert r.read("anna") == [
        "Tue 15 Dec 14:00 meeting_reminder: Your meeting with Lars Nielsen is tomorrow, "
        "Wednesday, at 14:00. If you can't make it, let them know early."]
    expect(r.read("lars"), [
        "Wed 09 Dec 11:00 meeting_booked: Anna W", "Wed 09 Dec 11:00 agenda: Anna Weiss sent",
        "Tue 15 Dec 14:00 meeting_reminder: Your"])


def test_a_meeting_today_is_today_and_nobody_is_asked_to_prepare_after_it(room):
    r = room("cph-en")
    r.warm_up("2026-12-10 09:30", "anna")
    reply = r.say("anna", "next today 15:00")
    assert reply.startswith("Booked: Thursday 10 December, 15:00 (your time).")
    assert "please send your agenda now" in reply
    r.run_until("2026-12-11 12:00", "anna")
    assert r.read("lars") == [
        "Thu 10 Dec 09:30 meeting_booked: Anna Weiss booked your next mentoring meeting: today "
        "at 15:00 (your time). The calendar invite is attached."]
    expect(r.read("anna"), ["Fri 11 Dec 09:00 did_you_meet: Did your"])


def test_the_day_before_reminder_is_never_dropped_by_the_weekly_cap(room):
    r = room("cph-en", timeline="[timeline]\nweekly_cap = 1\n")
    r.warm_up("2026-12-09 11:00", "anna")  # the kick-off week used the cap up
    r.say("anna", "next monday 10:00")
    r.run_until("2026-12-14 09:00", "anna")
    expect(r.read("lars"), [
        "Wed 09 Dec 11:00 meeting_booked: Anna W", "Fri 11 Dec 10:00 meeting_reminder: Your"])
    # Anna's agenda request that Friday names the meeting: it is her reminder too.
    expect(r.read("anna"), ["Fri 11 Dec 16:00 agenda_reminder: Your meeting with Lars"])
    assert [kind for kind, why in r.skipped("anna") + r.skipped("lars") if "cap" in why
            and "reminder" in kind] == []


def test_opting_out_drops_the_optional_day_before_reminder_only(room):
    r = room("cph-en")
    r.warm_up("2026-12-09 11:00", "anna")
    r.say("lars", "optout")
    r.say("anna", "next monday 10:00")
    r.run_until("2026-12-14 09:00", "anna")
    expect(r.read("lars"), ["Wed 09 Dec 11:00 meeting_booked: Anna W"])
    assert ("meeting_reminder", "opted out of optional prompts") in r.skipped("lars")


def test_spring_forward_in_copenhagen(room):
    r = room("cph-en", starts=date(2027, 3, 15))
    r.warm_up("2027-03-25 10:00", "anna")  # Thursday; clocks go forward on Sunday 28 March
    r.say("anna", "next monday 10:00")
    r.run_until("2027-03-29 13:00", "anna")
    expect(r.read("anna"), [
        "Fri 26 Mar 16:00 agenda_reminder: Your meeting with Lars Nielsen is coming up on Monday",
        "Mon 29 Mar 12:00 did_you_meet: Did your meeting with Lars Nielsen on M",
    ])
    assert r.read("lars")[1] == (
        "Fri 26 Mar 10:00 meeting_reminder: Your meeting with Anna Weiss is on Monday at 10:00. "
        "If you can't make it, let them know early.")
    assert r.invites[-1][1].start.hour == 8  # 10:00 summer time is 08:00 UTC in the invite


def test_fall_back_in_copenhagen_while_chicago_is_still_on_summer_time(room):
    r = room("cph-chicago", starts=date(2026, 10, 12))
    r.warm_up("2026-10-22 10:00", "jonas")  # Thursday; Europe falls back on 25 October,
    ask = r.say("jonas", "next monday 14:00")  # Chicago only on 1 November: 6 hours apart
    assert "- Grace Okafor: Monday 26 October, 08:00 (Chicago), outside working hours" in ask
    booked = r.say("jonas", "next monday 15:00")
    assert booked.startswith("Booked: Monday 26 October, 15:00 (your time).")
    r.run_until("2026-10-26 18:00", "jonas")
    assert r.read("grace") == [
        "Thu 22 Oct 09:00 meeting_booked: Jonas Berg booked your next mentoring meeting: on "
        "Monday at 09:00 (your time). The calendar invite is attached.",
        "Fri 23 Oct 09:00 meeting_reminder: Your meeting with Jonas Berg is on Monday at 09:00. "
        "If you can't make it, let them know early.",
    ]
