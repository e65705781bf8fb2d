"""Situation fixtures: a room of people in the zones and languages a situation needs."""
from __future__ import annotations

from datetime import date, datetime, timedelta, UTC

import pytest

pytest.register_assert_rewrite("tests.situations.room", "tests.situations.invites")

from tests.situations.room import Room, Someone  # noqa: E402

CPH, CHICAGO, LONDON = "Europe/Copenhagen", "America/Chicago", "Europe/London"
TOKYO, SYDNEY, LA = "Asia/Tokyo", "Australia/Sydney", "America/Los_Angeles"

PEOPLE = [
    # one-to-one in Copenhagen, English and Danish
    Someone("anna", "Anna Weiss", "mentee", "cph-en", CPH),
    Someone("lars", "Lars Nielsen", "mentor", "cph-en", CPH),
    Someone("sofie", "Sofie Lund", "mentee", "cph-da", CPH, "da"),
    Someone("mads", "Mads Holm", "mentor", "cph-da", CPH, "da"),
    # three pairs across time zones
    Someone("jonas", "Jonas Berg", "mentee", "cph-chicago", CPH),
    Someone("grace", "Grace Okafor", "mentor", "cph-chicago", CHICAGO),
    Someone("kenji", "Kenji Sato", "mentee", "london-tokyo", TOKYO),
    Someone("priya", "Priya Raman", "mentor", "london-tokyo", LONDON),
    Someone("mia", "Mia Chen", "mentee", "sydney-la", LA),
    Someone("noah", "Noah Kelly", "mentor", "sydney-la", SYDNEY),
    # a group: one mentor and five mentees, one of them in Chicago, one in London
    Someone("karen", "Karen Dahl", "mentor", "group", CPH),
    Someone("ali", "Ali Hassan", "mentee", "group", CPH),
    Someone("bea", "Bea Jensen", "mentee", "group", CPH, "da"),
    Someone("carl", "Carl Moe", "mentee", "group", CPH),
    Someone("dina", "Dina Ross", "mentee", "group", CHICAGO),
    Someone("emil", "Emil Storm", "mentee", "group", LONDON),
]


@pytest.fixture
def room(sqlite_database, tmp_path):
    """`room(starts, first_moment)`: the programme imported a week before it starts."""
    made = []

    def make(*pairs: str, starts: date = date(2026, 12, 7), ends: date = date(2027, 6, 30),
             imported: datetime | None = None, timeline: str = "") -> Room:
        when = imported or datetime(starts.year, starts.month, starts.day, 6, 0,
                                    tzinfo=UTC) - timedelta(days=1)
        people = [p for p in PEOPLE if p.pair in pairs] if pairs else PEOPLE
        made.append(Room(sqlite_database, tmp_path, people, starts=starts, ends=ends,
                         imported=when, timeline=timeline))
        return made[-1]

    return make
