"""Session lengths as typed in chat, in English and Danish."""

import pytest

from conversations.durations import parse_duration, split_duration


@pytest.mark.parametrize(
    ("token", "minutes"),
    [
        ("45m", 45),
        ("45 min", 45),
        ("45min", 45),
        ("45 minutes", 45),
        ("45 minutter", 45),
        ("1 minut", 1),
        ("45 MIN.", 45),
        ("1h", 60),
        ("1h30", 90),
        ("1h30m", 90),
        ("1 h 30", 90),
        ("1h 30min", 90),
        ("1.5h", 90),
        ("1,5t", 90),
        ("1t30", 90),
        ("1t", 60),
        ("90", 90),
        ("2 hours", 120),
        ("2 hours 15 minutes", 135),
        ("2 timer", 120),
        ("1 time", 60),
        ("1:30", 90),
        ("0:45", 45),
        ("0m", 0),
        ("0", 0),
        ("10h", 600),
        (" 45m ", 45),
        ("45m,", 45),
    ],
)
def test_parse_duration(token: str, minutes: int) -> None:
    assert parse_duration(token) == minutes


@pytest.mark.parametrize(
    "token",
    ["", "   ", "banana", "m", "h", "-5", "1h75", "1.5h30", "1:5", "1:75", "45x", "1.5",
     "h30", "one hour", "🙂", "1" * 5000, "45 m m", "1,5,5t"],
)
def test_garbage_is_none(token: str) -> None:
    assert parse_duration(token) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45m talked about promotion", (45, "talked about promotion")),
        ("45 min talked", (45, "talked")),
        ("1 h 30 snak om karriere", (90, "snak om karriere")),
        ("1h30", (90, "")),
        ("90 good chat", (90, "good chat")),
        ("2 timer workshop", (120, "workshop")),
        ("1,5t møde", (90, "møde")),
        ("30m, kort", (30, "kort")),
        ("talked 45m", None),
        ("", None),
    ],
)
def test_split_duration(text: str, expected: tuple[int, str] | None) -> None:
    assert split_duration(text) == expected
