"""One appointment from booking to its end: moved (the same appointment at a new time),
cancelled, held by "did you meet? yes" or by a log of its day, or missed."""


def _booked(r, line="next friday 10:00"):
    r.warm_up("2026-12-08 10:00", "anna")  # Tuesday
    assert "Booked: Friday 11 December, 10:00" in r.say("anna", line)
    r.run_until("2026-12-08 10:05", "anna")
    r.read("anna"), r.read("lars")


def test_next_while_booked_asks_to_move_and_the_button_moves_it_once(room):
    r = room("cph-en")
    _booked(r)
    ask = r.say("anna", "next friday 11:00")
    assert ask.startswith("You already have a meeting booked Friday 11 December, 10:00. Shall I "
                          "move it to Friday 11 December, 11:00?")
    assert "type `move 2026-12-11 11:00`" in ask
    assert "[#1] Move it   [#2] Keep the old time" in ask
    r.run_until("2026-12-08 10:10", "anna")
    assert r.read("lars") == []  # asking changes nothing
    old_buttons = list(r.buttons["anna"])
    moved = r.say("anna", "#1")
    assert moved.startswith("Moved: your meeting is now Friday 11 December, 11:00 instead of "
                            "Friday 11 December, 10:00 (your time). I've let Lars Nielsen know")
    r.run_until("2026-12-08 10:20", "anna")
    assert r.read("lars") == [
        "Tue 08 Dec 10:10 meeting_moved: Anna Weiss moved your mentoring meeting: it is now on "
        "Friday at 11:00 (your time), instead of Friday 11 December, 10:00. The updated invite "
        "is attached."]
    assert "Next meeting: Friday 11 December, 11:00" in r.say("lars", "status")
    # Pressing the old button again cannot move it a second time.
    r.buttons["anna"] = old_buttons
    assert r.say("anna", "#1").startswith("That button belongs to an older message")
    r.run_until("2026-12-08 11:00", "anna")
    assert r.read("lars") == []


def test_move_typed_straight_away(room):
    r = room("cph-en")
    _booked(r)
    reply = r.say("anna", "move thursday 14:00")
    assert reply.startswith("Moved: your meeting is now Thursday 10 December, 14:00 instead of "
                            "Friday 11 December, 10:00")
    r.run_until("2026-12-08 11:00", "anna")
    assert len(r.read("lars")) == 1


def test_keeping_the_old_time_changes_nothing(room):
    r = room("cph-en")
    _booked(r)
    r.say("anna", "next friday 15:00")
    assert r.say("anna", "#2") == "Fine, your meeting stays Friday 11 December, 10:00."
    r.run_until("2026-12-08 12:00", "anna")
    assert r.read("lars") == []
    assert "Next meeting: Friday 11 December, 10:00" in r.say("anna", "status")


def test_the_same_time_again_sends_the_invite_again(room):
    r = room("cph-en")
    _booked(r)
    reply = r.say("anna", "next friday 10:00")
    assert reply == ("That's the time you already have: Friday 11 December, 10:00. Here is the "
                     "invite again.")
    assert r.invites[-1][1].sequence == 0


def test_moved_twice_before_the_partner_heard_tells_them_once(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 16:30", "jonas")  # 09:30 for Grace
    r.say("jonas", "next friday 16:00")
    r.run_until("2026-12-08 23:00", "jonas")  # Grace has it; her day is over at 17:00 hers
    assert len(r.read("grace")) == 1
    r.clock.set(r.moment("2026-12-09 08:00", "jonas"))  # 01:00 in Chicago
    assert "Grace Okafor will get it Wednesday 9 December, 16:00 your time" in \
        r.say("jonas", "move friday 16:30")
    r.say("jonas", "move friday 17:00 anyway")
    r.run_until("2026-12-09 18:00", "jonas")
    assert r.read("grace") == [
        "Wed 09 Dec 09:00 meeting_moved: Jonas Berg moved your mentoring meeting: it is now on "
        "Friday at 10:00 (your time), instead of Friday 11 December, 09:00. The updated invite "
        "is attached."]


def test_cancel_with_a_note_tells_the_partner_and_stops_the_reminders(room):
    r = room("cph-en")
    _booked(r)
    reply = r.say("anna", "cancel I'm ill, sorry - let's find a new time next week")
    assert reply.startswith("Cancelled: your meeting Friday 11 December, 10:00. I've let Lars "
                            "Nielsen know, with your note.")
    assert r.invites[-1][1].method == "CANCEL"
    r.run_until("2026-12-11 17:00", "anna")
    assert r.read("lars") == [
        "Tue 08 Dec 10:05 meeting_cancelled: Anna Weiss cancelled your mentoring meeting Friday "
        "11 December, 10:00. Their note: I'm ill, sorry - let's find a new time next week The "
        "cancellation for your calendar is attached. Book a new time together with `next` "
        "when you're ready."]
    assert r.read("anna") == []  # no reminder, no "did you meet?"
    assert "Next meeting: not booked yet" in r.say("anna", "status")
    assert r.say("anna", "cancel") == ("There's no booked meeting to cancel. Book one with "
                                       "`next friday 10:00`.")


def test_aflys_in_danish(room):
    r = room("cph-da")
    r.warm_up("2026-12-08 10:00", "sofie")
    r.say("sofie", "næste fredag kl 10")
    r.run_until("2026-12-08 10:30", "sofie")
    assert r.say("sofie", "aflys").startswith("Aflyst: jeres møde fredag 11. december kl. 10.00. "
                                              "Jeg har givet Mads Holm besked.")
    r.run_until("2026-12-08 11:00", "sofie")
    assert [line[:81] for line in r.read("mads")][1:] == [
        "Tue 08 Dec 10:30 meeting_cancelled: Sofie Lund har aflyst jeres mentormøde fredag"]


def test_cancelled_before_the_partner_heard_of_it_tells_them_nothing(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 10:00", "jonas")  # 03:00 in Chicago
    reply = r.say("jonas", "next friday 16:00")
    assert "Grace Okafor will get it Tuesday 8 December, 16:00 your time" in reply
    assert "I've let" not in r.say("jonas", "cancel")
    r.run_until("2026-12-08 18:00", "jonas")
    assert r.read("grace") == []


def test_a_log_for_another_day_leaves_the_booking_alone(room):
    r = room("cph-en")
    _booked(r)
    logged = r.say("anna", "log yesterday 14:00 45m talked about feedback")
    assert "Logged: Monday 7 December, 14:00, 45 min." in logged
    assert "Have you booked the next one?" not in logged
    assert "Next meeting: Friday 11 December, 10:00" in r.say("anna", "status")
    sent = r.say("anna", "agenda 1) the promotion case")
    assert sent.startswith("Sent to Lars Nielsen for your meeting Friday 11 December, 10:00.")
    r.run_until("2026-12-08 10:30", "anna")
    assert r.read("lars") == ["Tue 08 Dec 10:05 agenda: Anna Weiss sent the agenda for your "
                              "meeting Friday 11 December, 10:00: 1) the promotion case"]


def test_a_log_on_the_booked_day_is_that_meeting_held(room):
    r = room("cph-en")
    _booked(r)
    r.run_until("2026-12-11 11:30", "anna")
    r.read("anna")
    assert "Logged: Friday 11 December, 10:05, 50 min." in r.say("anna", "log today 10:05 50m")
    r.run_until("2026-12-16 12:00", "anna")
    assert [line for line in r.read("anna") + r.read("lars") if "did_you_meet" in line] == []
    assert "Next meeting: not booked yet" in r.say("lars", "status")


def test_did_you_meet_yes_logs_it_as_held(room):
    r = room("cph-en")
    _booked(r)
    r.run_until("2026-12-11 12:30", "anna")
    assert r.read("anna") == [
        "Wed 09 Dec 10:00 agenda_reminder: Your meeting with Lars Nielsen is coming up on Friday "
        "at 10:00. What would you like to talk about? Send it with `agenda 1) … 2) …` and I'll pass it on, so "
        "your mentor can prepare.",
        "Thu 10 Dec 10:00 meeting_reminder: Your meeting with Lars Nielsen is tomorrow, Friday, "
        "at 10:00. There's still time to send an agenda. If you can't make it, let them know "
        "early.",
        "Fri 11 Dec 12:00 did_you_meet: Did your meeting with Lars Nielsen on Friday 11 "
        "December, 10:00 take place?",
    ]
    assert "Logged: Friday 11 December, 10:00, 1 h." in r.tap("anna", "Yes, we met")
    r.run_until("2026-12-15 12:00", "anna")
    assert [line for line in r.read("lars") if "did_you_meet" in line] == []  # held: not asked


def test_not_answered_a_week_after_the_booking_is_missed(room):
    r = room("cph-en")
    _booked(r)
    r.run_until("2026-12-19 12:00", "anna")
    # Past and unanswered: not "next", but waiting for did-you-meet (issue 13).
    assert "Your meeting on Friday 11 December, 10:00: did it happen?" in r.say("anna", "status")
    r.run_until("2026-12-21 12:00", "anna")
    assert "Next meeting: not booked yet" in r.say("anna", "status")
    with r.db.unit() as session:
        from sqlmodel import select

        from storage.tables import Appointment
        assert [a.status for a in session.exec(select(Appointment))] == ["missed"]
