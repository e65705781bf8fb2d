"""What `status` and a manager's flag say, true at the moment they are read (issue 13)."""
from __future__ import annotations


def test_a_past_meeting_waiting_for_did_you_meet_is_not_the_next_meeting(room):
    r = room("cph-en", "cph-da")
    r.warm_up("2026-12-08 10:00", "anna")
    assert r.say("anna", "next thursday 10:00").startswith("Booked:")
    assert r.say("sofie", "næste torsdag kl 10").startswith("Booket")
    r.clock.set(r.moment("2026-12-10 11:00", "anna"))  # an hour after it began
    status = r.say("anna", "status")
    assert "Next meeting" not in status
    assert "Your meeting on Thursday 10 December, 10:00: did it happen?" in status
    assert "[#1] Yes, we met" in status
    assert r.say("anna", "#1").startswith("Logged: Thursday 10 December, 10:00")
    after = r.say("anna", "status")
    assert "did it happen" not in after and "Next meeting: not booked yet" in after
    danish = r.say("sofie", "status")
    assert "Næste møde" not in danish and "blev det til noget?" in danish


def test_the_manager_is_told_of_a_group_larger_than_five_mentees_per_mentor(
        sqlite_database, tmp_path):
    from datetime import UTC, date, datetime

    from tests.situations.conftest import CPH, PEOPLE
    from tests.situations.room import Room, Someone

    group = [p for p in PEOPLE if p.pair == "group"] + [
        Someone("finn", "Finn Bak", "mentee", "group", CPH, "da")]
    r = Room(sqlite_database, tmp_path, group, starts=date(2026, 12, 7),
             ends=date(2027, 6, 30), imported=datetime(2026, 12, 6, 6, 0, tzinfo=UTC))
    r.warm_up("2026-12-08 10:00", "karen")
    report = r.say("maja", "report")
    assert "Groups larger than advised (at most 5 mentees per mentor):" in report
    assert "*group* (Karen Dahl, " in report and "6 mentees, 1 mentor" in report


def test_a_flag_says_how_long_and_how_many_nudges_as_they_stand_when_it_is_read(room):
    """A flag planned with old numbers (say, held back by a long outage) is worded from the
    facts when it goes out: weeks since the start and nudges the pair really got."""
    from datetime import timedelta

    from storage import outbox
    from storage.people import person_by_email
    from storage.tables import Membership

    r = room("cph-en")
    r.run_until("2027-01-25 10:00", "lars")  # seven weeks after the start, never met
    with r.db.unit() as session:
        maja = person_by_email(session, r.people["maja"].email)
        anna = person_by_email(session, r.people["anna"].email)
        membership = session.query(Membership).filter_by(person_id=anna.id).first()
        outbox.propose(session, [outbox.Proposal(
            key="droop_flag:test:stale", person_id=maja.id, programme_id=membership.programme_id,
            pair_id=None, kind="droop_flag", due_at=r.clock.now(),
            stale_after=r.clock.now() + timedelta(days=7), priority=2,
            payload={"reason": "no_meeting", "weeks": 99, "nudges": 42, "repeat": 1,
                     "met": True, "flag_pair": membership.pair_id, "pair_key": "cph-en"})])
    r.run_until("2027-01-25 11:00", "lars")
    [flag] = [line for line in r.read("maja", kinds=("droop_flag",)) if "still no meeting" in line]
    assert "99 weeks" not in flag and "42 nudges" not in flag and "the last one" not in flag
    assert "still no meeting logged, 7 weeks since the start." in flag
    assert "nudges from me went unanswered" in flag


def test_did_you_meet_reaches_the_mentor_of_a_group_when_no_mentee_answers(room):
    r = room("group")
    r.warm_up("2026-12-04 10:00", "karen")
    assert r.say("karen", "next tuesday 16:00").startswith("Booked:")
    r.run_until("2026-12-11 18:00", "karen")
    assert [line[:35] for line in r.read("karen") if "did_you_meet" in line] == [
        "Fri 11 Dec 16:00 did_you_meet: Did "]
    for mentee in ("ali", "bea", "carl", "dina", "emil"):
        assert [line for line in r.read(mentee) if "did_you_meet" in line], mentee
