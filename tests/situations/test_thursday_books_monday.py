"""A meeting booked on Thursday for Monday: every reminder lands on a working day before it,
and says what is true on the day it is read."""


def test_thursday_books_monday_reminders_come_on_friday_and_say_monday(room):
    r = room("cph-en")
    r.warm_up("2026-12-10 10:00", "anna")  # Thursday
    reply = r.say("anna", "next monday 14:00")
    assert "Booked: Monday 14 December, 14:00 (your time)." in reply
    assert "I've let Lars Nielsen know and attached a calendar invite." in reply
    assert "will get it" not in reply  # Lars is at work: it reaches him now
    r.run_until("2026-12-14 17:00", "anna")
    assert r.read("lars") == [
        "Thu 10 Dec 10:00 meeting_booked: Anna Weiss booked your next mentoring meeting: "
        "on Monday at 14:00 (your time). The calendar invite is attached.",
        "Fri 11 Dec 14:00 meeting_reminder: Your meeting with Anna Weiss is on Monday at 14:00. "
        "If you can't make it, let them know early.",
    ]
    assert r.read("anna") == [
        # One message about the meeting that Friday: the agenda request names it.
        "Fri 11 Dec 16:00 agenda_reminder: Your meeting with Lars Nielsen is coming up on Monday "
        "at 14:00. What would you like to talk about? Send it with `agenda 1) … 2) …` and I'll "
        "pass it on, so your mentor can prepare.",
        "Mon 14 Dec 16:00 did_you_meet: Did your meeting with Lars Nielsen on Monday 14 "
        "December, 14:00 take place?",
    ]
    # No follow-up on the same Friday, nothing on the weekend, nothing once it started.
    assert [kind for kind, _ in r.skipped("anna") if kind == "agenda_reminder"] == []


def test_thursday_books_monday_in_danish(room):
    r = room("cph-da")
    r.warm_up("2026-12-10 10:00", "sofie")
    reply = r.say("sofie", "næste mandag kl 14")
    assert "Booket: mandag 14. december kl. 14.00 (din tid)." in reply
    r.run_until("2026-12-14 17:00", "sofie")
    assert r.read("sofie") == [
        "Fri 11 Dec 16:00 agenda_reminder: Jeres møde med Mads Holm nærmer sig: på mandag kl. "
        "14.00. Hvad vil du gerne tale om? Send det med `dagsorden 1) … 2) …`, så sender jeg det "
        "videre, og din mentor kan forberede sig.",
        "Mon 14 Dec 16:00 did_you_meet: Blev jeres møde med Mads Holm mandag 14. december kl. "
        "14.00 til noget?",
    ]
    assert [line[:60] for line in r.read("mads")] == [
        "Thu 10 Dec 10:00 meeting_booked: Sofie Lund har booket jeres",
        "Fri 11 Dec 14:00 meeting_reminder: Jeres møde med Sofie Lund",
    ]


def test_a_tuesday_meeting_is_reminded_tomorrow_on_monday(room):
    r = room("cph-en")
    r.warm_up("2026-12-10 10:00", "anna")
    r.say("anna", "next tuesday 10:30")
    r.run_until("2026-12-15 09:00", "anna")
    assert r.read("lars") == [
        "Thu 10 Dec 10:00 meeting_booked: Anna Weiss booked your next mentoring meeting: "
        "on Tuesday at 10:30 (your time). The calendar invite is attached.",
        "Mon 14 Dec 10:30 meeting_reminder: Your meeting with Anna Weiss is tomorrow, Tuesday, "
        "at 10:30. If you can't make it, let them know early.",
    ]
    # The agenda reminder goes two days before, moved back to Friday's working time.
    assert r.read("anna")[0].startswith(
        "Fri 11 Dec 16:00 agenda_reminder: Your meeting with Lars Nielsen is coming up on "
        "Tuesday at 10:30.")


def test_service_down_over_the_weekend_nothing_prepares_a_meeting_that_started(room):
    r = room("cph-en")
    r.warm_up("2026-12-10 10:00", "anna")
    r.say("anna", "next monday 09:00")
    r.run_until("2026-12-10 17:00", "anna")
    r.read("anna"), r.read("lars")
    # The service is away from Thursday evening until Monday 09:30.
    r.clock.set(r.moment("2026-12-14 09:30", "anna"))
    r.run_until("2026-12-14 12:00", "anna")
    assert [line for line in r.read("anna") if "reminder" in line] == []
    assert ("meeting_reminder", "the meeting has started") in r.skipped("lars")
    assert ("agenda_reminder", "the meeting has started") in r.skipped("anna")
