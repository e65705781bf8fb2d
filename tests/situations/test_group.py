"""A group of one mentor and five mentees (three in Copenhagen, one in Chicago, one in London):
every member's hours are checked, and each reads the group's meeting in their own zone."""
from tests.situations.room import expect

GROUP = ("karen", "ali", "bea", "carl", "dina", "emil")


def test_the_mentor_sees_every_members_local_time_before_booking(room):
    r = room("group")
    r.warm_up("2026-12-08 10:00", "karen")
    ask = r.say("karen", "next thursday 10:00")
    assert "- you: Thursday 10 December, 10:00 (Copenhagen)\n" in ask
    assert "- Ali Hassan: Thursday 10 December, 10:00 (Copenhagen)\n" in ask
    assert "- Dina Ross: Thursday 10 December, 03:00 (Chicago), outside working hours\n" in ask
    assert "- Emil Storm: Thursday 10 December, 09:00 (London)\n" in ask
    assert "[#2] Thursday 10 December, 16:00" in ask  # 09:00 for Dina, 15:00 for Emil


def test_a_group_booking_reaches_each_member_in_their_own_hours_and_language(room):
    r = room("group")
    r.warm_up("2026-12-08 10:00", "karen")
    r.say("karen", "next thursday 10:00")
    booked = r.say("karen", "#2")
    assert booked.startswith("Booked: Thursday 10 December, 16:00 (your time). I've let Ali "
                             "Hassan, Bea Jensen, Carl Moe, Dina Ross and Emil Storm know")
    assert "Dina Ross will get it Tuesday 8 December, 16:00 your time" in booked
    r.run_until("2026-12-10 18:00", "karen")
    expect(r.read("ali"), [
        "Tue 08 Dec 10:00 meeting_booked: Karen Dahl booked your next mentoring meeting: on "
        "Thursday at 16:00 (your time). The calendar invite is attached.",
        "Tue 08 Dec 16:00 agenda_reminder: Your meeting with Karen, Bea, Carl, Dina and Emil is "
        "coming up on Thursday at 16:00.",
        "Wed 09 Dec 16:00 meeting_reminder: Your meeting with Karen, Bea, Carl, Dina and Emil is "
        "tomorrow, Thursday, at 16:00."])
    expect(r.read("bea"), [
        "Tue 08 Dec 10:00 meeting_booked: Karen Dahl har booket jeres næste mentormøde: på "
        "torsdag kl. 16.00 (din tid).",
        "Tue 08 Dec 16:00 agenda_reminder: Jeres møde med Karen, Ali, Carl, Dina og Emil nærmer "
        "sig: på torsdag kl. 16.00.",
        "Wed 09 Dec 16:00 meeting_reminder: Jeres møde med Karen, Ali, Carl, Dina og Emil er i "
        "morgen, torsdag, kl. 16.00."])
    expect(r.read("dina"), [
        "Tue 08 Dec 09:00 meeting_booked: Karen Dahl booked your next mentoring meeting: on "
        "Thursday at 09:00 (your time).",
        "Tue 08 Dec 09:00 agenda_reminder: Your meeting with Karen, Ali, Bea, Carl and Emil is "
        "coming up on Thursday at 09:00.",
        "Wed 09 Dec 09:00 meeting_reminder: Your meeting with Karen, Ali, Bea, Carl and Emil is "
        "tomorrow, Thursday, at 09:00.",
        "Thu 10 Dec 11:00 did_you_meet:"])
    expect(r.read("emil"), [
        "Tue 08 Dec 09:00 meeting_booked: Karen Dahl booked your next mentoring meeting: on "
        "Thursday at 15:00 (your time).",
        "Tue 08 Dec 15:00 agenda_reminder: Your meeting with Karen, Ali, Bea, Carl and Dina is "
        "coming up on Thursday at 15:00.",
        "Wed 09 Dec 15:00 meeting_reminder:"])
    expect(r.read("karen"), ["Wed 09 Dec 16:00 meeting_reminder: Your meeting with Ali, Bea"])


def test_one_agenda_for_the_group_meeting_stops_the_others_reminders(room):
    r = room("group")
    r.warm_up("2026-12-04 10:00", "karen")  # Friday
    assert r.say("karen", "next thursday 16:00").startswith("Booked:")  # suits everyone
    r.run_until("2026-12-07 11:00", "karen")
    for key in GROUP:
        r.read(key)
    assert r.say("ali", "agenda 1) presenting to the board").startswith("Sent to Karen Dahl")
    r.run_until("2026-12-10 12:00", "karen")
    for mentee in ("bea", "carl", "dina", "emil"):
        assert [line for line in r.read(mentee) if "agenda_reminder" in line] == []
    expect(r.read("karen"), ["Mon 07 Dec 11:00 agenda: Ali Hassan sent the agenda for your "
                             "meeting Thursday 10 December, 16:00: 1) presenting to the board",
                             "Wed 09 Dec 16:00 meeting_reminder:"])


def test_a_mentee_proposes_a_new_time_the_mentor_moves_it_and_everyone_hears_it_once(room):
    r = room("group")
    r.warm_up("2026-12-08 10:00", "karen")
    r.say("karen", "next thursday 16:00")
    r.run_until("2026-12-08 17:00", "karen")  # everyone has the booking
    for key in GROUP:
        r.read(key)
    r.clock.set(r.moment("2026-12-09 09:30", "ali"))
    assert r.say("ali", "next thursday 16:30").startswith("You already have a meeting booked")
    proposed = r.say("ali", "#1")
    assert proposed.startswith("In a group, Karen books the meetings, so I've asked Karen to "
                               "book Thursday 10 December, 16:30 (your time) instead of "
                               "Thursday 10 December, 16:00.")
    r.run_until("2026-12-09 10:00", "karen")
    expect(r.read("karen", kinds=("meeting_proposed",)), [
        "Wed 09 Dec 09:30 meeting_proposed: Ali proposes Thursday 10 December, 16:30 (your "
        "time) for the group's next meeting, instead of Thursday 10 December, 16:00."])
    for key in ("ali", "bea", "carl", "dina", "emil"):
        assert [line for line in r.read(key) if "meeting_moved" in line] == [], key
    moved = r.tap("karen", "Book it")
    assert moved.startswith("Moved: your meeting is now Thursday 10 December, 16:30 instead of "
                            "Thursday 10 December, 16:00")
    r.run_until("2026-12-09 17:00", "karen")
    for key in ("ali", "bea", "carl", "dina", "emil"):
        assert len([line for line in r.read(key) if "meeting_moved" in line]) == 1, key
    assert len({invite.uid for _, invite in r.invites}) == 1
    assert sorted({invite.sequence for _, invite in r.invites}) == [0, 1]


def test_a_mentees_booking_in_a_group_is_a_proposal_the_mentor_confirms_with_yes(room):
    r = room("group")
    r.warm_up("2026-12-08 10:00", "karen")
    assert r.say("bea", "næste torsdag kl 16").startswith(
        "I en gruppe er det Karen, der booker møderne, så jeg har bedt Karen om at booke "
        "torsdag 10. december kl. 16.00 (din tid).")
    r.run_until("2026-12-08 10:05", "karen")
    assert [line for line in r.read("ali") if "meeting_booked" in line] == []
    assert r.say("karen", "yes").startswith("Booked: Thursday 10 December, 16:00 (your time). "
                                            "I've let Ali Hassan, Bea Jensen, Carl Moe")
    r.run_until("2026-12-08 17:00", "karen")
    expect(r.read("bea")[:1], ["Tue 08 Dec 10:05 meeting_booked: Karen Dahl har booket jeres "
                               "næste mentormøde: på torsdag kl. 16.00 (din tid)."])
    assert r.say("karen", "yes") != "" and not r.say("karen", "yes").startswith("Booked")


def test_agendas_from_several_mentees_reach_the_mentor_in_one_message(room):
    r = room("group")
    r.warm_up("2026-12-04 10:00", "karen")  # Friday
    assert r.say("karen", "next thursday 16:00").startswith("Booked:")
    r.run_until("2026-12-05 12:00", "karen")  # Saturday: the mentor's week is over
    for key in GROUP:
        r.read(key)
    assert r.say("ali", "agenda 1) presenting to the board").startswith("Sent to Karen Dahl")
    assert r.say("carl", "agenda 1) saying no to my manager").startswith("Sent to Karen Dahl")
    r.run_until("2026-12-07 12:00", "karen")
    agendas = [line for line in r.read("karen") if " agenda: " in line]
    assert agendas == ["Mon 07 Dec 09:00 agenda: Ali Hassan and Carl Moe sent their agendas "
                       "for your meeting Thursday 10 December, 16:00: Ali Hassan: 1) presenting "
                       "to the board Carl Moe: 1) saying no to my manager"]
