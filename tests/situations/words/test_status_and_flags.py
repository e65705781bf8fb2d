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
