"""A whole 12-month programme on a fake clock: what each person receives, when, in which
language, never twice, within the weekly cap. Runs the real `simulate` (engine, timeline,
outbox, SQLite) with the sample's pairs in four time zones and both languages."""
import io
import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.simulation.run import simulate
from conversations.catalog import CAPPED

ROOT = Path(__file__).resolve().parents[2]
TRANSACTIONAL = {"agenda", "meeting_booked"}
LANG = {"sofie.lund@example.org": "da", "mads.holm@example.org": "da"}


@pytest.fixture(scope="module")
def year() -> list[dict]:
    out = io.StringIO()
    assert simulate(pairs=0, as_json=True, programme_file=ROOT / "examples" / "programme.toml",
                    out=out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def _for(year, email):
    return [r for r in year if r["recipient"] == email]


def test_every_prompt_arrives_in_the_recipients_working_hours(year):
    for record in year:
        if record["kind"] in TRANSACTIONAL:
            continue
        local = datetime.fromisoformat(record["at"])
        assert local.weekday() < 5, record
        assert 9 <= local.hour < 17, record


def test_each_person_reads_their_own_language(year):
    for record in year:
        assert record["lang"] == LANG.get(record["recipient"], "en"), record
    danish = [r["text"] for r in _for(year, "sofie.lund@example.org") if r["kind"] == "kickoff"]
    assert danish and "Velkommen" in danish[0]


def test_nothing_is_delivered_twice(year):
    seen = Counter((r["recipient"], r["kind"], r["at"], r["text"]) for r in year)
    assert [k for k, n in seen.items() if n > 1] == []


def test_weekly_cap_holds_for_everyone(year):
    by_person = defaultdict(list)
    for r in year:
        if r["kind"] in CAPPED:
            by_person[r["recipient"]].append(datetime.fromisoformat(r["at"]))
    for email, moments in by_person.items():
        moments.sort()
        for i, first in enumerate(moments):
            within = [m for m in moments[i:] if m - first < timedelta(days=7)]
            assert len(within) <= 3, (email, first, len(within))


def test_a_steady_mentee_gets_the_whole_rhythm_in_order(year):
    kinds = [r["kind"] for r in _for(year, "jonas.berg@example.org")]
    assert kinds[0] == "kickoff" and kinds[1] == "line_manager"
    for kind in ("agenda_reminder", "did_you_meet", "reflection", "pulse", "droop",
                 "evaluation", "closing", "post_checkin"):
        assert kind in kinds, kind
    assert kinds.index("evaluation") < kinds.index("closing") < kinds.index("post_checkin")
    assert kinds[-1] == "post_checkin"
    midpoint = [r for r in _for(year, "jonas.berg@example.org") if r["kind"] == "droop"]
    assert all("halfway" in r["text"] for r in midpoint)


def test_a_pair_that_stops_meeting_is_nudged_and_flagged_with_the_reason(year):
    tom = _for(year, "tom.becker@example.org")
    alert = [r for r in tom if r["kind"] == "droop" and "weeks since your last meeting" in r["text"]]
    assert len(alert) == 1 and "every 4 weeks" in alert[0]["text"]
    again = [r for r in tom if r["kind"] == "droop" and "still no meeting" in r["text"]]
    assert len(again) == 1 and "10 weeks since the last one" in again[0]["text"]
    flags = [r for r in _for(year, "maja.kruse@example.org") if r["kind"] == "droop_flag"]
    flag = flags[0]["text"]
    assert "nordlys-03" in flag and "1.5" in flag and "never their answers" in flag
    # While the pair stays silent the manager hears again every cadence, with how long and
    # how many nudges went unanswered, and never after the programme's end.
    assert len(flags) > 3 and all("nordlys-03" in f["text"] for f in flags)
    moments = [datetime.fromisoformat(f["at"]) for f in flags]
    assert all(b - a == timedelta(weeks=4) for a, b in zip(moments, moments[1:]))
    assert moments[-1].date() < datetime(2027, 6, 30).date()
    assert "14 weeks since the last one" in flags[2]["text"]
    assert "2 nudges from me went unanswered" in flags[2]["text"]
    reminders = [r for r in tom if r["kind"] == "evaluation"]
    assert len(reminders) == 2  # the evaluation and one reminder: Tom never answered


def test_an_abandoned_evaluation_is_reminded_and_a_finished_one_is_not(year):
    anna = [r for r in _for(year, "anna.weiss@example.org") if r["kind"] == "evaluation"]
    assert len(anna) == 2 and "pick up where you left off" in anna[1]["text"]
    jonas = [r for r in _for(year, "jonas.berg@example.org") if r["kind"] == "evaluation"]
    assert len(jonas) == 1


def test_the_manager_is_reminded_to_follow_up_with_each_pair(year):
    followups = [r for r in _for(year, "maja.kruse@example.org") if r["kind"] == "manager_followup"]
    assert len(followups) == 2 and "nordlys-01" in followups[0]["text"]


def test_pairs_far_apart_get_their_own_local_times(year):
    grace = [r for r in _for(year, "grace.okafor@example.org") if r["kind"] == "kickoff"]
    assert grace[0]["at"].endswith("-05:00")  # Chicago, while Jonas is on +02:00
