"""A group mentee's `cancel` sends regrets (the meeting stays on for the others), and a
proposal no mentor books lapses with a word to the mentee, once, in their working hours."""
from sqlmodel import select

from storage.tables import Delivery
from tests.situations.room import expect

GROUP = ("karen", "ali", "bea", "carl", "dina", "emil")
RELAYS = ("meeting_regrets", "meeting_cancelled", "meeting_moved")
REMINDERS = ("agenda_reminder", "meeting_reminder")


def _booked_thursday(r):
    r.warm_up("2026-12-04 10:00", "karen")  # Friday
    assert r.say("karen", "next thursday 16:00").startswith("Booked:")  # suits everyone
    r.run_until("2026-12-07 12:00", "dina")  # Dina has it too (her Monday)
    for key in GROUP:
        r.read(key)


def test_a_group_mentees_cancel_is_regrets_and_the_meeting_goes_on(room):
    r = room("group")
    _booked_thursday(r)
    invites_before = len(r.invites)
    r.clock.set(r.moment("2026-12-07 13:00", "dina"))  # 20:00 in Copenhagen
    sent = r.say("dina", "cancel my daughter's school play")
    assert sent.startswith("Noted: you can't make it to the meeting Thursday 10 December, "
                           "09:00. The meeting stays on for the others, and I've let Karen "
                           "know, with your note.")
    assert "Tuesday 8 December, 02:00 your time, when their working day starts" in sent
    assert len(r.invites) == invites_before  # no cancellation for anyone's calendar
    r.run_until("2026-12-10 18:00", "karen")
    expect(r.read("karen", kinds=RELAYS), [(
        "Tue 08 Dec 09:00 meeting_regrets: Dina can't make it to the group's meeting "
        "Thursday 10 December, 16:00 (your time). Their note: my daughter's school play The "
        "meeting stays on for the others.")])
    # she said she wouldn't be there: no reminders, and not asked whether it happened
    assert r.read("dina", kinds=REMINDERS + ("did_you_meet",)) == []
    assert ("meeting_reminder", "sent regrets") in r.skipped("dina")
    for key in ("ali", "carl", "emil"):
        lines = r.read(key, kinds=RELAYS + REMINDERS)
        assert [line for line in lines if "meeting_reminder" in line], key  # still on for them
        assert not [line for line in lines if "meeting_cancelled" in line], key
    assert len(r.invites) == invites_before
    r.run_until("2026-12-11 18:00", "karen")  # the day after: the others are asked
    assert ("did_you_meet", "sent regrets") in r.skipped("dina")
    for key in ("ali", "bea", "carl", "emil"):
        assert len(r.read(key, kinds=("did_you_meet",))) == 1, key
    r.say("dina", "forget confirm")  # her note to the mentor goes with what she wrote
    with r.db.unit() as session:
        relayed = session.exec(select(Delivery).where(Delivery.kind == "meeting_regrets")).all()
        assert relayed and all("school play" not in row.text + row.payload_json
                               for row in relayed)


def test_danish_regrets_and_a_mentors_cancel_still_cancels_for_everyone(room):
    r = room("group")
    _booked_thursday(r)
    r.clock.set(r.moment("2026-12-08 10:00", "bea"))
    assert r.say("bea", "aflys").startswith(
        "Noteret: du kan ikke komme til mødet torsdag 10. december kl. 16.00. Mødet bliver holdt for de andre, og "
        "jeg har givet Karen besked.")
    r.run_until("2026-12-08 10:05", "karen")
    expect(r.read("karen", kinds=RELAYS), [(
        "Tue 08 Dec 10:00 meeting_regrets: Bea can't make it to the group's meeting "
        "Thursday 10 December, 16:00 (your time). The meeting stays on for the others.")])
    assert r.say("bea", "aflys").startswith("Noteret:")  # said twice: Karen hears it once
    assert r.say("karen", "cancel").startswith("Cancelled: your meeting")
    r.run_until("2026-12-08 17:00", "karen")
    assert r.read("karen", kinds=RELAYS) == []
    for key in ("ali", "bea", "carl", "dina", "emil"):
        assert len([line for line in r.read(key, kinds=RELAYS)
                    if "meeting_cancelled" in line]) == 1, key


def test_an_unbooked_proposal_lapses_with_a_word_to_the_mentee_once_in_their_hours(room):
    r = room("group")
    r.warm_up("2026-12-07 07:00", "dina")  # Monday, before Dina's working day in Chicago
    assert r.say("dina", "next 2027-01-20 10:00").startswith("In a group, Karen books")
    r.clock.set(r.moment("2026-12-07 10:00", "bea"))
    assert r.say("bea", "næste 2027-01-21 kl 10").startswith("I en gruppe er det Karen")
    r.run_until("2027-01-05 12:00", "karen")
    expect(r.read("dina", kinds=("proposal_lapsed",)), [(
        "Mon 21 Dec 09:00 proposal_lapsed: The time you proposed, Wednesday 20 January 2027, "
        "10:00, wasn't booked, so I've let the proposal go.")])
    expect(r.read("bea", kinds=("proposal_lapsed",)), [(
        "Mon 21 Dec 10:00 proposal_lapsed: Det tidspunkt, du foreslog, torsdag 21. januar 2027 "
        "kl. 10.00, blev ikke booket, så jeg har lagt forslaget til side.")])


def test_a_proposal_the_mentor_books_does_not_lapse(room):
    r = room("group")
    r.warm_up("2026-12-08 10:00", "karen")
    assert r.say("bea", "næste torsdag kl 16").startswith("I en gruppe")
    r.run_until("2026-12-08 10:05", "karen")
    assert r.say("karen", "yes").startswith("Booked:")
    r.run_until("2026-12-30 12:00", "karen")
    assert r.read("bea", kinds=("proposal_lapsed",)) == []
    assert ("proposal_lapsed", "the booking changed since") in r.skipped("bea")


def test_help_tells_a_group_mentee_that_the_mentor_books_and_cancel_is_regrets(room):
    r = room("group")
    r.warm_up("2026-12-07 10:00", "karen")
    dina = r.say("dina", "help")
    assert "propose a time for the group's next meeting (your mentor books it), and `cancel` " \
           "once it is booked if you can't make it" in dina
    assert "book your next meeting" not in dina
    assert "foreslå et tidspunkt for gruppens næste møde (din mentor booker det)" in \
        r.say("bea", "hjælp")
    karen = r.say("karen", "help")
    assert "book your next meeting (`move friday 11:00` or `cancel`" in karen
    assert "propose" not in karen
