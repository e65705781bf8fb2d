"""Pair health is one rule on plain data: meeting / drooping / silent / ended, table-driven.

The timeline (nudges and flags), the chat `report` and the HTML/CSV report all call
`conversations.health.classify`, so they cannot disagree; these rows are that rule."""
from datetime import datetime, timedelta, timezone

import pytest

from conversations.health import Signs, classify

START = datetime(2026, 9, 1, tzinfo=timezone.utc)
END = datetime(2027, 6, 30, 23, 59, tzinfo=timezone.utc)
NOW = datetime(2027, 1, 15, 12, tzinfo=timezone.utc)


def weeks_ago(n: float) -> datetime:
    return NOW - timedelta(weeks=n)


# (what, last met, began, last flag, now) -> (status, met, weeks quiet, flagged)
ROWS = [
    ("met last week", weeks_ago(1), START, None, NOW, ("meeting", True, 1, False)),
    ("just under 1.5 x 4 weeks", weeks_ago(5.9), START, None, NOW, ("meeting", True, 5, False)),
    ("exactly 1.5 x 4 weeks", weeks_ago(6), START, None, NOW, ("drooping", True, 6, False)),
    ("11 weeks quiet", weeks_ago(11), START, None, NOW, ("drooping", True, 11, False)),
    ("12 weeks: 3 x cadence", weeks_ago(12), START, None, NOW, ("silent", True, 12, False)),
    ("never met, began 19 weeks ago", None, START, None, NOW, ("silent", False, 19, False)),
    ("never met, young pair", None, weeks_ago(2), None, NOW, ("meeting", False, 2, False)),
    ("never met, joined 6 weeks ago", None, weeks_ago(6), None, NOW, ("silent", False, 6, False)),
    ("met, then flagged", weeks_ago(2), START, weeks_ago(1), NOW, ("drooping", True, 2, True)),
    ("flagged, then met", weeks_ago(1), START, weeks_ago(2), NOW, ("meeting", True, 1, False)),
    ("flag older than six weeks", weeks_ago(3), START, weeks_ago(7), NOW,
     ("meeting", True, 3, False)),
    ("after the end", weeks_ago(20), START, None, END + timedelta(days=1),
     ("ended", True, 43, False)),
    ("on the last day", None, START, None, END - timedelta(hours=1), ("silent", False, 43, False)),
]


@pytest.mark.parametrize(("what", "last_met", "began", "last_flag", "now", "expected"), ROWS,
                         ids=[r[0] for r in ROWS])
def test_classify(what, last_met, began, last_flag, now, expected):
    signs = Signs(began=began, ends=END, cadence_weeks=4, droop_factor=1.5, last_met=last_met,
                  last_flag=last_flag)
    health = classify(signs, now)
    assert (health.status, health.met, health.weeks_quiet, health.flagged) == expected


def test_a_larger_droop_factor_moves_the_line():
    signs = Signs(began=START, ends=END, cadence_weeks=4, droop_factor=2.0, last_met=weeks_ago(7))
    assert classify(signs, NOW).status == "meeting"
    assert classify(signs, NOW + timedelta(weeks=1)).status == "drooping"
    assert signs.drooping_from == weeks_ago(7) + timedelta(weeks=8)


# (what, last met, nudges as (member, weeks ago)) -> unanswered nudges at NOW
NUDGE_ROWS = [
    ("no nudges", weeks_ago(8), (), 0),
    ("two nudges to each member", weeks_ago(8), ((1, 2), (2, 2), (1, 1), (2, 1)), 2),
    ("a nudge before the last meeting does not count", weeks_ago(3), ((1, 4), (1, 1)), 1),
    ("one member got one more", None, ((1, 5), (2, 5), (1, 1)), 2),
    ("a nudge still to come is not unanswered", weeks_ago(8), ((1, -1),), 0),
]


@pytest.mark.parametrize(("what", "last_met", "nudged", "expected"), NUDGE_ROWS,
                         ids=[r[0] for r in NUDGE_ROWS])
def test_the_manager_reads_how_many_nudges_went_unanswered(what, last_met, nudged, expected):
    signs = Signs(began=START, ends=END, cadence_weeks=4, last_met=last_met,
                  nudged=tuple((member, weeks_ago(w)) for member, w in nudged))
    assert classify(signs, NOW).nudges == expected


@pytest.mark.parametrize(("mentors", "mentees", "large"),
                         [(1, 1, False), (1, 5, False), (1, 6, True), (2, 10, False),
                          (2, 11, True), (0, 6, True)])
def test_groups_larger_than_five_mentees_per_mentor_are_named(mentors, mentees, large):
    from conversations.health import too_large

    assert too_large(mentors, mentees) is large
