"""A programme imported after its start: the welcome waits for working hours, and a pair
may log a meeting before it arrives. The welcome must then not speak of a first meeting to come."""
from datetime import date, datetime, UTC


def test_a_pair_that_logged_before_its_late_welcome_is_not_told_to_prepare_a_first_meeting(room):
    # Imported on Sunday evening in Copenhagen, ten weeks after the programme began.
    r = room("cph-en", "cph-da", starts=date(2026, 10, 5),
             imported=datetime(2026, 12, 13, 19, 0, tzinfo=UTC))
    r.run_until("2026-12-14 07:30", "anna")
    assert r.read("anna", kinds=("kickoff",)) == []  # night: the welcome waits for the morning
    logged = r.say("anna", "log 2026-12-11 16:00 45m")
    assert logged.startswith("Logged: Friday 11 December")
    # The pair joined on Sunday: its rhythm counts from then, not from the programme's start.
    assert "in step with the rhythm you agreed" in logged and "by now" not in logged, logged
    r.run_until("2026-12-14 10:00", "anna")

    for key in ("anna", "lars"):  # the pair that met
        [welcome] = r.read(key, kinds=("kickoff",))
        assert welcome.startswith("Mon 14 Dec 09:00 kickoff: Welcome to *Situations*")
        assert "You've already met" in welcome and "first real conversation" not in welcome
        assert "how you'll work:\n- how often" in r.messenger.last[r.people[key].email].text
    for key, words in (("sofie", "Inden jeres første rigtige samtale"),  # the pair that did not
                       ("mads", "Inden jeres første rigtige samtale")):
        [welcome] = r.read(key, kinds=("kickoff",))
        assert words in welcome and "allerede mødt" not in welcome
