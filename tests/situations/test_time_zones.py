"""Pairs across time zones see each other's local time before they book; what one of them does
reaches the other in their working hours, and they are told when."""
from datetime import date


def test_copenhagen_books_friday_10_with_chicago_and_is_shown_both_local_times(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 10:00", "jonas")  # Tuesday; 03:00 in Chicago
    ask = r.say("jonas", "next friday 10:00")
    assert ask.startswith(
        "Before I book Friday 11 December, 10:00, a quick check. That is:\n"
        "- you: Friday 11 December, 10:00 (Copenhagen)\n"
        "- Grace Okafor: Friday 11 December, 03:00 (Chicago), outside working hours\n")
    assert "Book it anyway if that works for everyone, or pick one of the times that suit everyone. " \
           "You can also type `next 2026-12-11 10:00 anyway`." in ask
    assert ("[#1] Book it anyway   [#2] Friday 11 December, 16:00   "
            "[#3] Friday 11 December, 16:30") in ask
    r.run_until("2026-12-08 18:00", "jonas")
    assert r.read("grace") == []  # nothing was booked
    assert "Next meeting: not booked yet" in r.say("jonas", "status")


def test_picking_a_time_that_suits_both(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 10:00", "jonas")
    r.say("jonas", "next friday 10:00")
    booked = r.say("jonas", "#2")
    assert booked.startswith("Booked: Friday 11 December, 16:00 (your time).")
    assert "Grace Okafor will get it Tuesday 8 December, 16:00 your time, when their working " \
           "day starts." in booked
    r.run_until("2026-12-08 18:00", "jonas")
    assert r.read("grace") == [
        "Tue 08 Dec 09:00 meeting_booked: Jonas Berg booked your next mentoring meeting: on "
        "Friday at 09:00 (your time). The calendar invite is attached."]


def test_booking_anyway_keeps_the_early_call_and_reminds_grace_in_her_working_day(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 10:00", "jonas")
    r.say("jonas", "next friday 10:00")
    assert r.say("jonas", "#1").startswith("Booked: Friday 11 December, 10:00 (your time).")
    r.run_until("2026-12-11 12:00", "jonas")
    assert r.read("grace") == [
        "Tue 08 Dec 09:00 meeting_booked: Jonas Berg booked your next mentoring meeting: on "
        "Friday at 03:00 (your time). The calendar invite is attached.",
        "Thu 10 Dec 09:00 meeting_reminder: Your meeting with Jonas Berg is tomorrow, Friday, "
        "at 03:00. If you can't make it, let them know early.",
    ]


def test_typed_anyway_books_at_once(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 10:00", "jonas")
    assert r.say("jonas", "next friday 10:00 anyway").startswith(
        "Booked: Friday 11 December, 10:00 (your time).")


def test_a_forwarded_agenda_waits_for_chicago_morning_and_jonas_is_told(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 10:00", "jonas")
    r.say("jonas", "next friday 16:00")
    r.run_until("2026-12-09 11:00", "jonas")
    r.read("grace")
    sent = r.say("jonas", "agenda 1) saying no 2) the promotion case")
    assert sent.startswith("Sent to Grace Okafor for your meeting Friday 11 December, 16:00. "
                           "Grace Okafor will get it Wednesday 9 December, 16:00 your time")
    r.run_until("2026-12-09 18:00", "jonas")
    assert r.read("grace") == [
        "Wed 09 Dec 09:00 agenda: Jonas Berg sent the agenda for your meeting Friday 11 December, "
        "09:00: 1) saying no 2) the promotion case"]


def test_a_relayed_message_goes_at_once_when_the_meeting_comes_before_the_working_day(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 18:00", "grace")  # Tuesday evening in Chicago, 01:00 in Copenhagen
    reply = r.say("grace", "next tomorrow 01:30 anyway")  # 08:30 in Copenhagen
    assert reply.startswith("Booked: Wednesday 9 December, 01:30 (your time).")
    assert "will get it" not in reply
    r.run_until("2026-12-08 18:05", "grace")
    assert r.read("jonas") == [
        "Wed 09 Dec 01:00 meeting_booked: Grace Okafor booked your next mentoring meeting: today "
        "at 08:30 (your time). The calendar invite is attached. It's close, so please send your "
        "agenda soon: `agenda 1) … 2) …`."]


def test_london_and_tokyo_have_no_working_hours_in_common(room):
    r = room("london-tokyo")
    r.warm_up("2026-12-08 10:00", "priya")
    ask = r.say("priya", "next thursday 09:00")
    assert "- Kenji Sato: Thursday 10 December, 18:00 (Tokyo), outside working hours" in ask
    assert "pick one of the times" not in ask  # there is none
    assert ask.endswith("[#1] Book it anyway")
    assert r.say("priya", "#1").startswith("Booked: Thursday 10 December, 09:00 (your time).")
    r.run_until("2026-12-10 12:00", "priya")
    # 19:00 in Tokyo when Priya booked, after Kenji's agenda moment (Tuesday 16:00): the
    # booking itself asks him for the agenda, the next morning, when his day starts.
    assert r.read("kenji")[:2] == [
        "Wed 09 Dec 09:00 meeting_booked: Priya Raman booked your next mentoring meeting: "
        "tomorrow, Thursday, at 18:00 (your time). The calendar invite is attached. It's close, "
        "so please send your agenda soon: `agenda 1) … 2) …`.",
        "Wed 09 Dec 16:00 meeting_reminder: Your meeting with Priya Raman is tomorrow, Thursday, "
        "at 18:00. There's still time to send an agenda. If you can't make it, let them know "
        "early.",
    ]


def test_sydney_and_los_angeles_live_on_different_days(room):
    r = room("sydney-la")
    r.warm_up("2026-12-08 10:00", "noah")  # Tuesday morning in Sydney, Monday afternoon in LA
    ask = r.say("noah", "next thursday 08:00")
    assert "- you: Thursday 10 December, 08:00 (Sydney), outside working hours" in ask
    assert "- Mia Chen: Wednesday 9 December, 13:00 (Los Angeles)" in ask
    assert "[#2] Thursday 10 December, 09:00" in ask  # 14:00 on Wednesday for Mia
    r.say("noah", "#2")
    r.run_until("2026-12-09 17:00", "mia")
    assert r.read("mia")[0] == (
        "Mon 07 Dec 15:00 meeting_booked: Noah Kelly booked your next mentoring meeting: on "
        "Wednesday at 14:00 (your time). The calendar invite is attached. It's close, so please "
        "send your agenda soon: `agenda 1) … 2) …`.")


def test_a_weekend_time_asks_first(room):
    r = room("cph-en")
    r.warm_up("2026-12-08 10:00", "anna")
    ask = r.say("anna", "next sunday 11:00")
    assert "- you: Sunday 13 December, 11:00 (Copenhagen), outside working hours" in ask
    assert "- Lars Nielsen: Sunday 13 December, 11:00 (Copenhagen), outside working hours" in ask
    assert "[#2] Monday 14 December, 09:00" in ask


def test_after_the_programme_end_asks_and_shows_the_year(room):
    r = room("cph-en", ends=date(2027, 1, 29))
    r.warm_up("2026-12-08 10:00", "anna")
    ask = r.say("anna", "next 3 february 2027 10:00")
    assert ask.startswith("Before I book Wednesday 3 February 2027, 10:00, a quick check.")
    assert "It is also after the programme formally ends (Friday 29 January 2027)." in ask
    assert "Book it anyway if you want to keep meeting" in ask
    assert r.say("anna", "#1").startswith("Booked: Wednesday 3 February 2027, 10:00 (your time).")


def test_long_after_the_end_or_in_the_past_is_refused(room):
    r = room("cph-en", ends=date(2027, 1, 29))
    r.warm_up("2026-12-08 10:00", "anna")
    assert r.say("anna", "next 1 may 2027 10:00").startswith(
        "That's well after the programme ends (Friday 29 January 2027).")
    assert r.say("anna", "next 2026-12-07 10:00").startswith(
        "Monday 7 December, 10:00 is already in the past.")
    assert "Next meeting: not booked yet" in r.say("anna", "status")


def test_dates_next_year_show_the_year(room):
    r = room("cph-en")
    r.warm_up("2026-12-17 10:00", "anna")
    reply = r.say("anna", "next 5 january 10:00")
    assert reply.startswith("Booked: Tuesday 5 January 2027, 10:00 (your time).")
    assert "Next meeting: Tuesday 5 January 2027, 10:00" in r.say("anna", "status")
    r.run_until("2027-01-05 09:00", "anna")
    assert r.read("lars")[-1].startswith(
        "Mon 04 Jan 10:00 meeting_reminder: Your meeting with Anna Weiss is tomorrow, Tuesday, "
        "at 10:00.")


def test_the_booking_form_proposes_a_time_that_suits_both(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 10:00", "jonas")
    form = r.press("jonas", "open_next")
    assert "The time filled in (Tuesday 22 December, 16:00, your time) is within everyone's " \
           "working hours." in form.text.replace("\ue000", "").replace("\ue001", "")
    assert {f.name: f.initial for f in form.form.fields} == {"date": "2026-12-22",
                                                             "time": "16:00"}
