"""Every bad input gets a friendly, specific answer, and the database does not change."""
import pytest

from tests.helpers import import_programme, say, snapshot

JONAS = "jonas.berg@example.org"


@pytest.fixture
def ready(services, clock):
    import_programme(services.db, now=clock.now())
    clock.advance(days=20)
    for email in (JONAS, "lars.nielsen@example.org", "grace.okafor@example.org",
                  "maja.kruse@example.org"):
        say(services, email, "help")  # first contact stores the identity
    return services


CASES = [
    (JONAS, "lgo yesterday 45m", "Did you mean `log`?"),
    (JONAS, "log someday maybe 45m", "couldn't read a date"),
    (JONAS, "log tomorrow 14:00 45m", "hasn't happened yet"),
    (JONAS, "log 2026-08-01 45m", "before the programme started"),
    (JONAS, "log yesterday 0m", "between 1 minute and 8 hours"),
    (JONAS, "log yesterday 9h", "between 1 minute and 8 hours"),
    (JONAS, "log yesterday 45m " + "x" * 4001, "the limit is 4000"),
    (JONAS, "log yesterday", "How long did you meet"),
    (JONAS, "next yesterday 10:00", "already in the past"),
    (JONAS, "next friday", "What time"),
    (JONAS, "next 2030-01-01 10:00", "after the programme ends"),
    (JONAS, "agenda", "Write your agenda"),
    ("grace.okafor@example.org", "agenda 1) hello", "for mentees to send"),
    (JONAS, "snooze forever", "how long"),
    (JONAS, "snooze 20 weeks", "up to 8 weeks"),
    ("stranger@example.org", "help", "I don't know you yet"),
    ("maja.kruse@example.org", "log yesterday 45m", "aren't mentoring or being mentored"),
]


@pytest.mark.parametrize("email,line,expected", CASES)
def test_bad_input_is_answered_and_changes_nothing(ready, email, line, expected):
    before = snapshot(ready.db)
    replies = say(ready, email, line)
    assert len(replies) == 1 and expected in replies[0], replies
    assert snapshot(ready.db) == before


def test_participant_in_two_pairs_is_asked_which(ready, tmp_path):
    import shutil
    from tests.helpers import SAMPLE

    shutil.copy(SAMPLE, tmp_path / "programme.toml")
    roster = (SAMPLE.parent / "roster.csv").read_text()
    roster += "lars.nielsen@example.org,Lars Nielsen,mentor,nordlys-05,Europe/Copenhagen,en\n"
    roster += "kim.sand@example.org,Kim Sand,mentee,nordlys-05,Europe/Copenhagen,en\n"
    (tmp_path / "roster.csv").write_text(roster)
    import_programme(ready.db, tmp_path / "programme.toml", now=ready.clock.now())
    before = snapshot(ready.db)
    replies = say(ready, "lars.nielsen@example.org", "log yesterday 45m")
    assert "more than one place" in replies[0] and "Kim" in replies[0] and "Anna" in replies[0]
    assert snapshot(ready.db) == before
    replies = say(ready, "lars.nielsen@example.org", "log yesterday 14:00 45m good with kim")
    assert replies[0].startswith("Logged:")


def test_unknown_user_gets_no_stack_trace(ready):
    replies = say(ready, "nobody@example.org", "log yesterday 45m")
    assert "roster" in replies[0] and "Traceback" not in replies[0]


def test_a_valid_log_after_refusals_is_stored_once(ready):
    assert say(ready, JONAS, "log yesterday 14:00 45m talked")[0].startswith("Logged:")
    assert "already logged" in say(ready, JONAS, "log yesterday 14:00 45m talked")[0]
    ready.clock.advance(days=1)
    replies = say(ready, JONAS, "log i går 45m")
    assert "couldn't read a date" in replies[0]  # Jonas writes English; Danish is for Danes
    replies = say(ready, "sofie.lund@example.org", "log i går kl 14 45m snak om karriere")
    assert replies[0].startswith("Logget: mandag 21. september kl. 14.00, 45 min")
