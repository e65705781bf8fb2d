"""The timeline as a pure function: facts and a moment in, due prompts out."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from conversations.timeline import plan
from storage.tables import Programme
from storage.timeline_facts import MemberFact, PairFacts

UTC = timezone.utc
START = datetime(2026, 9, 1, 7, 0, tzinfo=UTC)  # 09:00 in Copenhagen


def _facts(**changes) -> PairFacts:
    programme = Programme(id=1, slug="p", name="P", starts=date(2026, 9, 1),
                          ends=date(2027, 6, 30), cadence_weeks=4, language="en",
                          timezone="Europe/Copenhagen", settings_json="{}")
    facts = PairFacts(pair_id=7, key="p-7", programme=programme, started_at=None,
                      members=[MemberFact(1, "mentor", "Europe/Copenhagen"),
                               MemberFact(2, "mentee", "America/New_York")],
                      managers=[9])
    for key, value in changes.items():
        setattr(facts, key, value)
    return facts


def _due(facts, now):
    return {(s.kind, s.person_id) for s in plan(facts, now).due}


def test_kickoff_for_both_and_line_manager_for_the_mentee_only():
    due = _due(_facts(), START + timedelta(days=1, hours=1))
    assert ("kickoff", 1) in due and ("kickoff", 2) in due
    assert ("line_manager", 2) in due and ("line_manager", 1) not in due


def test_first_meeting_chased_after_3_and_10_days_unless_booked():
    steps = plan(_facts(), START + timedelta(days=10, hours=1)).due
    chases = sorted(s.payload["days"] for s in steps if s.kind == "first_meeting_chase")
    assert chases == [3, 3, 10, 10]
    booked = _facts(appointment=(5, START + timedelta(days=12), START + timedelta(days=1)))
    assert not [s for s in plan(booked, START + timedelta(days=10)).due
                if s.kind == "first_meeting_chase"]


def test_no_meeting_nudge_while_a_meeting_is_scheduled():
    met = [(3, START + timedelta(days=5), START + timedelta(days=5))]
    free = _facts(meetings=met)
    now = START + timedelta(days=30)
    assert ("meeting_nudge", 2) in _due(free, now)
    booked = _facts(meetings=met, appointment=(4, now + timedelta(days=3), now - timedelta(days=20)))
    assert ("meeting_nudge", 2) not in _due(booked, now)


NY = ZoneInfo("America/New_York")


def _local_due(facts, now, kind):
    return [s.due_at.astimezone(NY).strftime("%a %H:%M") for s in plan(facts, now).due
            if s.kind == kind and s.person_id == 2]


def test_agenda_reminder_two_days_before_in_the_mentees_working_time_and_one_follow_up():
    at = datetime(2026, 9, 23, 14, 0, tzinfo=NY)  # a Wednesday, 14:00 for the mentee
    facts = _facts(appointment=(4, at.astimezone(UTC), START))
    assert _local_due(facts, at, "agenda_reminder") == ["Mon 14:00"]
    # The day-before reminder also asks for the agenda: one message that day, not two.
    assert _local_due(facts, at, "meeting_reminder") == ["Tue 14:00"]
    # Booked the day before: the booking reply asked for the agenda, no reminder follows.
    late = _facts(appointment=(4, at.astimezone(UTC),
                               datetime(2026, 9, 22, 14, 0, tzinfo=NY).astimezone(UTC)))
    assert _local_due(late, at, "agenda_reminder") == []
    sent = _facts(appointment=(4, at, START), agenda_sent=True)
    assert not [s for s in plan(sent, at).due if s.kind == "agenda_reminder"]


def test_a_monday_meeting_is_prepared_on_friday_and_reminded_on_friday():
    at = datetime(2026, 9, 21, 14, 0, tzinfo=NY)  # Monday 14:00; the weekend is nobody's time
    facts = _facts(appointment=(4, at.astimezone(UTC), START))
    assert _local_due(facts, at, "agenda_reminder") == ["Fri 16:00"]  # no follow-up that day
    # The agenda request names the meeting: no second message about it that Friday.
    assert _local_due(facts, at, "meeting_reminder") == []
    mentor = [s.due_at.astimezone(NY) for s in plan(facts, at).due
              if s.kind == "meeting_reminder" and s.person_id == 1]
    assert [f"{m:%a %H:%M}" for m in mentor] == ["Fri 10:00"]  # 20:00 in Copenhagen: at 16:00
    # Every preparing prompt expires when the meeting starts.
    assert all(s.stale_after <= at for s in plan(facts, at).due
               if s.kind in ("agenda_reminder", "meeting_reminder"))


def test_booked_after_the_agenda_moment_no_reminder_comes_later():
    at = datetime(2026, 9, 21, 14, 0, tzinfo=NY)
    booked = datetime(2026, 9, 18, 17, 30, tzinfo=NY)  # Friday evening, after its 16:00
    facts = _facts(appointment=(4, at.astimezone(UTC), booked.astimezone(UTC)))
    assert _local_due(facts, at, "agenda_reminder") == []  # the booking reply asked for it


def test_did_you_meet_after_the_meeting_and_day_before_reminder():
    at = START + timedelta(days=20)
    due = _due(_facts(appointment=(4, at, START)), at + timedelta(hours=3))
    assert ("did_you_meet", 2) in due and ("meeting_reminder", 1) in due


def test_droop_after_one_and_a_half_cadences_without_a_meeting_says_why():
    met = [(3, START + timedelta(days=5), START + timedelta(days=5))]
    now = START + timedelta(days=5, weeks=6, hours=1)
    steps = [s for s in plan(_facts(meetings=met), now).due if s.kind in ("droop", "droop_flag")
             and s.payload.get("reason") == "no_meeting"]
    assert {s.person_id for s in steps} == {1, 2, 9}
    assert all(s.payload["weeks"] == 6 and s.payload["cadence"] == 4 for s in steps)
    assert not [s for s in plan(_facts(meetings=met), now - timedelta(days=3)).due
                if s.payload.get("reason") == "no_meeting"]


def test_falling_ratings_and_pulse_fire_droop_with_the_signal_not_the_figures():
    facts = _facts(ratings=[(1, 5), (2, 4), (3, 2)], pulse={1: [5, 4], 2: [3, 2]})
    steps = plan(facts, START + timedelta(days=90)).due
    flags = [s.payload for s in steps if s.kind in ("droop", "droop_flag")
             and s.payload.get("reason") != "no_meeting"]
    assert {p["reason"] for p in flags} == {"falling_ratings", "falling_pulse"}
    assert all(set(p) <= {"reason", "pair_key", "flag_pair"} for p in flags), flags


def test_midpoint_prompts_fall_between_40_and_60_percent():
    end = datetime(2027, 6, 30, 22, 0, tzinfo=UTC)
    steps = [s for s in plan(_facts(), end).due if s.payload.get("reason") == "midpoint"]
    span = (end - START).total_seconds()
    for step in steps:
        share = (step.due_at - START).total_seconds() / span
        assert 0.4 <= share <= 0.6


def test_the_end_evaluation_closing_and_check_in():
    late = datetime(2027, 9, 1, tzinfo=UTC)
    steps = plan(_facts(evaluation_done={1}), late).due
    kinds = {(s.kind, s.person_id, s.payload.get("reminder", False)) for s in steps
             if s.kind in ("evaluation", "closing", "post_checkin")}
    assert ("evaluation", 1, False) in kinds and ("evaluation", 1, True) not in kinds
    assert ("evaluation", 2, True) in kinds
    assert ("post_checkin", 2, False) in kinds and ("post_checkin", 1, False) not in kinds
    assert plan(_facts(), late).next_check is None


def test_keys_are_stable_so_a_prompt_is_proposed_once():
    now = START + timedelta(days=40)
    first = {s.key for s in plan(_facts(), now).due}
    again = {s.key for s in plan(_facts(), now + timedelta(hours=1)).due}
    assert first <= again
