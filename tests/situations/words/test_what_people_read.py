"""What people read, as situations: each sentence the issue found false is now true for its
reader (issue 13, "What people read today"). Scripted on a fake clock with the real engine,
timeline, outbox and SQLite; every assertion is about what a named person reads."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app import build
from bot.simulation.run import simulate
from conversations import verbs
from conversations.clock import FakeClock
from tests.fakes import RecordingMessenger, plain
from tests.helpers import import_programme, say

ROOT = Path(__file__).resolve().parents[3]
START = datetime(2026, 9, 1, 6, 0, tzinfo=timezone.utc)
END = datetime(2027, 6, 30, 22, 0, tzinfo=timezone.utc)
JONAS, GRACE = "jonas.berg@example.org", "grace.okafor@example.org"
SOFIE, MADS = "sofie.lund@example.org", "mads.holm@example.org"
ANNA, OMAR, LARS = "anna.weiss@example.org", "omar.haddad@example.org", "lars.nielsen@example.org"
MAJA = "maja.kruse@example.org"


def _services(db, now: datetime = START):
    clock, messenger = FakeClock(now), RecordingMessenger()
    services = build(clock=clock, messenger=messenger, db=db, worker="test")
    import_programme(db, now=clock.now())
    return services, clock, messenger


async def _live(services, clock, until: datetime, step: timedelta | None = None):
    """Let time pass, beating at 08:00, 14:00 and 15:00 UTC on weekdays (so everyone of the
    sample, Copenhagen to Chicago, summer and winter, has a beat in working hours), or every
    `step`."""
    while clock.now() < until:
        if step is not None:
            clock.advance(seconds=step.total_seconds())
        else:
            now = clock.now()
            beats = [now.replace(hour=h, minute=0, second=0, microsecond=0) + timedelta(days=d)
                     for d in range(4) for h in (8, 14, 15)]
            clock.set(next(b for b in beats if b > now and b.weekday() < 5))
        await services.pump()


def _texts(messenger, email: str) -> list[str]:
    return [plain(t) for t in messenger.texts_for(email)]


# --- a year in which nobody meets -----------------------------------------------------------

class TimedMessenger(RecordingMessenger):
    """Also remembers when each message went out."""

    def __init__(self, clock) -> None:
        super().__init__()
        self.clock, self.moments = clock, []

    async def send(self, recipient, message):
        ref = await super().send(recipient, message)
        self.moments.append((recipient.email, self.clock.now(), plain(message.text)))
        return ref


@pytest.fixture(scope="module")
def quiet_year(tmp_path_factory, sqlite_template):
    import asyncio
    import shutil

    from storage.db import Database

    path = tmp_path_factory.mktemp("quiet") / "quiet.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    clock = FakeClock(START)
    messenger = TimedMessenger(clock)
    services = build(clock=clock, messenger=messenger, db=db, worker="test")
    import_programme(db, now=clock.now())
    asyncio.run(_live(services, clock, END + timedelta(weeks=8)))
    return messenger


def test_a_pair_that_never_met_is_never_told_about_its_last_meeting(quiet_year):
    jonas = _texts(quiet_year, JONAS)
    assert not [t for t in jonas if "last meeting" in t or "easy topics" in t
                or "take the last meeting" in t]
    assert any("you and Grace Okafor haven't met yet" in t for t in jonas)
    assert any("halfway through the programme" in t and "no meeting with Grace Okafor is logged"
               in t for t in jonas)
    closing = [t for t in jonas if "Your programme closes soon" in t]
    assert len(closing) == 1 and "no meeting with Grace Okafor is logged" in closing[0]
    sofie = _texts(quiet_year, SOFIE)
    assert not [t for t in sofie if "seneste møde" in t or "lette emner" in t
                or "brug det sidste møde" in t]
    assert any("du og Mads Holm har ikke mødtes endnu" in t for t in sofie)


def test_the_manager_hears_of_silent_pairs_every_cadence_and_never_after_the_end(
        quiet_year):
    flags = [t for t in _texts(quiet_year, MAJA) if "may need a hand" in t]
    about_jonas = [t for t in flags if "Pair *nordlys-02*" in t]  # flags due together merge
    assert "Pair *nordlys-02* (Grace Okafor, Jonas Berg) may need a hand: no meeting logged " \
        "since the start, 6 weeks ago." in about_jonas[0]
    assert "last meeting" not in " ".join(flags)
    assert len(about_jonas) >= 5 and "nudges from me went unanswered" in about_jonas[-1]
    group = [t for t in flags if "*nordlys-04*" in t]
    assert group and all("Group *nordlys-04*" in t for t in group)
    assert not [t for t in group if "Pair *nordlys-04*" in t]
    # Flags stop at the end: the last one is about a time before 30 June.
    sent = [at for email, at, text in quiet_year.moments
            if email == MAJA and "may need a hand" in text]
    assert max(sent) < END


def test_groups_are_called_groups_with_first_names(quiet_year):
    anna = _texts(quiet_year, ANNA)
    assert "You're in a mentoring group with Lars and Omar." in anna[0]
    assert "mentoring pair" not in " ".join(anna)
    lars = _texts(quiet_year, LARS)
    assert "You'll be mentoring Anna and Omar as a group." in lars[0]
    assert "what each mentee wants to learn" in lars[0]
    assert "stays within the group" in lars[0] and "between you, both ways" not in lars[0]


# --- meetings, bookings and counts ----------------------------------------------------------

async def test_only_the_person_who_logged_is_thanked(sqlite_database):
    services, clock, messenger = _services(sqlite_database)
    await _live(services, clock, datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc))
    [reply] = say(services, OMAR, "log today 08:00 45m")
    assert "1 meeting logged so far" in reply and " of the " not in reply
    await _live(services, clock, clock.now() + timedelta(hours=6), step=timedelta(hours=1))
    omar = [t for t in _texts(messenger, OMAR) if "reflect" in t]
    assert omar and omar[-1].startswith("Thanks for logging your meeting.")
    for other in (ANNA, LARS):
        reflection = [t for t in _texts(messenger, other) if "a moment to reflect" in t]
        assert reflection and reflection[-1].startswith("Omar logged your meeting.")
        assert not [t for t in _texts(messenger, other) if "Thanks for logging" in t]


async def test_the_mentee_who_booked_is_told_they_will_be_reminded(sqlite_database):
    services, clock, _ = _services(sqlite_database)
    clock.set(datetime(2026, 9, 2, 8, 0, tzinfo=timezone.utc))
    jonas = "\n".join(say(services, JONAS, "next friday 16:00"))  # 09:00 for Grace
    assert "I'll remind you to send an agenda" in jonas and "the mentee" not in jonas
    say(services, JONAS, "cancel")  # one booking at a time: Grace books the next one
    grace = "\n".join(say(services, GRACE, "next 21 september 09:00"))
    assert "I'll remind Jonas to send an agenda" in grace
    sofie = "\n".join(say(services, SOFIE, "næste fredag kl 15"))
    assert "Jeg minder dig om at sende en dagsorden" in sofie and "minder mentee" not in sofie
    lars = "\n".join(say(services, LARS, "next friday 15:00"))
    assert "I'll remind Anna and Omar to send an agenda" in lars


async def test_counts_read_like_a_person_wrote_them(sqlite_database):
    services, clock, _ = _services(sqlite_database)
    clock.set(datetime(2026, 9, 5, 8, 0, tzinfo=timezone.utc))
    for day in ("2 september", "3 september", "4 september"):
        say(services, JONAS, f"log {day} 10:00 30m")
    [status] = say(services, JONAS, "status")
    assert "Meetings held: 3 (the rhythm you agreed, every 4 weeks, means about 1 by now" \
        in status
    assert " of 1 agreed" not in status and "of the 1" not in status


async def test_after_the_end_status_says_it_ended(sqlite_database):
    services, clock, _ = _services(sqlite_database)
    clock.set(datetime(2027, 7, 5, 8, 0, tzinfo=timezone.utc))
    [status] = say(services, JONAS, "status")
    assert "(the programme ended Wednesday 30 June)" in status and "ends" not in status
    assert "Next meeting" not in status and "Last meeting" not in status
    [manager] = say(services, MAJA, "status")
    assert "ended Wednesday 30 June" in manager


# --- errors, in units and in the person's language ------------------------------------------

async def test_errors_name_their_units_and_speak_the_persons_language(sqlite_database,
                                                                      monkeypatch):
    services, clock, _ = _services(sqlite_database)
    clock.set(datetime(2026, 9, 10, 8, 0, tzinfo=timezone.utc))
    [long] = say(services, JONAS, "log yesterday 16:00 20h")
    assert "I read 20 h." in long and "I read 1200" not in long
    [zero] = say(services, JONAS, "snooze 0 days")
    assert "at least a day" in zero and "up to 8 weeks" not in zero
    [lang] = say(services, SOFIE, "log yesterday 14:00 45m")  # a Danish participant, English
    assert lang.startswith("Logget: onsdag 9. september kl. 14.00, 45 min.")

    def broken(turn, command):
        raise RuntimeError("a bug")

    monkeypatch.setitem(verbs.REGISTRY, "status", broken)
    [danish] = say(services, SOFIE, "status")
    assert danish.startswith("Beklager, noget gik galt")
    [english] = say(services, JONAS, "status")
    assert english.startswith("Sorry")


# --- the sample programme, simulated ----------------------------------------------------------

QUOTED = ("since your last meeting with Grace", "Thanks for logging your meeting",
          "I'll remind the mentee", "Jeg minder mentee om", "of 1 agreed",
          "of the 1 your agreement", "Omar Haddad are a mentoring pair", "Pair *nordlys-04*",
          "stays between you and your partner", "the programme ends",
          "kan have brug for en hånd", "makker")


@pytest.fixture(scope="module")
def simulated() -> list[dict]:
    out = io.StringIO()
    assert simulate(pairs=0, as_json=True, programme_file=ROOT / "examples" / "programme.toml",
                    out=out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def test_the_simulated_sample_says_none_of_the_quoted_sentences(simulated):
    for row in simulated:
        for quoted in QUOTED:
            if quoted == "Thanks for logging your meeting":
                continue  # true for the one who logged; checked below
            assert quoted not in row["text"], (quoted, row)
    group = [r for r in simulated if r["recipient"] in (ANNA, OMAR, LARS)]
    assert not [r for r in group if "partner" in r["text"] or "mentoring pair" in r["text"]]


def test_no_booking_nudge_after_the_closing_message_and_no_nudge_twice(simulated):
    for email in {r["recipient"] for r in simulated}:
        mine = [r for r in simulated if r["recipient"] == email]
        closing = [r["at"] for r in mine if r["kind"] == "closing"]
        if closing:
            closed = datetime.fromisoformat(closing[0])
            late = [r for r in mine if r["kind"] == "meeting_nudge"
                    and datetime.fromisoformat(r["at"]) >= closed]
            assert not late, late
        texts = [r["text"] for r in mine if r["kind"] in ("meeting_nudge", "droop")]
        assert all(a != b for a, b in zip(texts, texts[1:])), email


# --- an open question never swallows a command ---------------------------------------------

async def test_a_mistyped_command_is_not_taken_for_an_answer(sqlite_database):
    services, clock, _ = _services(sqlite_database)
    clock.set(datetime(2026, 9, 10, 8, 0, tzinfo=timezone.utc))
    [question] = say(services, JONAS, "reflect")
    assert "Question 1 of 3" in question
    [typo] = say(services, JONAS, "lgo yesterday 14:00 45m")
    assert typo.startswith("Did you mean `log`?") and "is still open" in typo
    [logged] = say(services, JONAS, "log yesterday 14:00 45m")  # a verb is always the command
    assert logged.startswith("Logged:")
    [answered] = say(services, JONAS, "Not sure yet, but I spoke up twice")  # "not" is a word
    assert "Question 2 of 3" in answered
    [skipped] = say(services, JONAS, "skip")
    assert "Question 3 of 3" in skipped
    [danish] = say(services, SOFIE, "reflekter")
    [spring] = say(services, SOFIE, "spring over")
    assert "Sprunget over" in spring and danish != spring


async def test_a_typed_yes_answers_did_you_meet(sqlite_database):
    services, clock, messenger = _services(sqlite_database)
    await _live(services, clock, datetime(2026, 9, 7, 8, 0, tzinfo=timezone.utc))
    say(services, GRACE, "next 8 september 03:00 anyway")  # 10:00 in Copenhagen
    await _live(services, clock, datetime(2026, 9, 8, 14, 0, tzinfo=timezone.utc))
    assert any("take place?" in t for t in _texts(messenger, JONAS)), _texts(messenger, JONAS)
    [reply] = say(services, JONAS, "yes")
    assert reply.startswith("Logged: Tuesday 8 September, 10:00")
    [again] = say(services, JONAS, "yes")  # nothing left to answer: not logged twice
    assert not again.startswith("Logged")
