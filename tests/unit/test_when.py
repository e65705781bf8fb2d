"""Natural-language dates against a fixed Wednesday, 4 March 2026, 10:30 in Copenhagen."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations import when as when_module
from conversations.durations import parse_duration
from conversations.when import When, parse_when, split_when

CPH = ZoneInfo("Europe/Copenhagen")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=CPH).astimezone(timezone.utc)


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CPH)


def parse(text: str, lang: str, prefer: str, **kwargs) -> When | None:
    kwargs = {"now": NOW, "tz": CPH, **kwargs}
    return parse_when(text, lang=lang, prefer=prefer, **kwargs)


def split(text: str, lang: str, prefer: str) -> tuple[When, str] | None:
    return split_when(text, now=NOW, tz=CPH, lang=lang, prefer=prefer)


PHRASES = [
    # English
    ("en", "yesterday 14:00", "past", at(3, 3, 14), True),
    ("en", "last tuesday", "past", at(3, 3), False),
    ("en", "next friday at 10", "future", at(3, 13, 10), True),
    ("en", "friday at 10", "future", at(3, 6, 10), True),
    ("en", "next friday", "future", at(3, 13), False),
    ("en", "tomorrow 9:30", "future", at(3, 5, 9, 30), True),
    ("en", "2pm", "future", at(3, 4, 14), True),
    ("en", "2pm", "past", at(3, 3, 14), True),
    ("en", "3 March", "past", at(3, 3), False),
    ("en", "3 March", "future", at(3, 3, year=2027), False),
    ("en", "4 March", "future", at(3, 4), False),
    ("en", "2026-03-02", "past", at(3, 2), False),
    ("en", "2 days ago", "past", at(3, 2), False),
    ("en", "in 3 days", "future", at(3, 7), False),
    ("en", "a week ago", "past", at(2, 25), False),
    ("en", "today", "past", at(3, 4), False),
    ("en", "day before yesterday", "past", at(3, 2), False),
    ("en", "the day after tomorrow at noon", "future", at(3, 6, 12), True),
    ("en", "this monday", "past", at(3, 2), False),
    ("en", "this friday", "future", at(3, 6), False),
    ("en", "next monday", "future", at(3, 9), False),
    ("en", "next wednesday", "future", at(3, 11), False),
    ("en", "last wednesday", "past", at(2, 25), False),
    ("en", "on friday", "past", at(2, 27), False),
    ("en", "wednesday 14:00", "future", at(3, 4, 14), True),
    ("en", "wednesday 9:00", "past", at(3, 4, 9), True),
    ("en", "wed", "future", at(3, 11), False),
    ("en", "Thurs 10am", "future", at(3, 5, 10), True),
    ("en", "sun", "past", at(3, 1), False),
    ("en", "at 10 next friday", "future", at(3, 13, 10), True),
    ("en", "10 am tomorrow", "future", at(3, 5, 10), True),
    ("en", "2:30 pm yesterday", "past", at(3, 3, 14, 30), True),
    ("en", "12am tomorrow", "future", at(3, 5, 0), True),
    ("en", "noon", "future", at(3, 4, 12), True),
    ("en", "14:00", "past", at(3, 3, 14), True),
    ("en", "14:00", "future", at(3, 4, 14), True),
    ("en", "9", "future", at(3, 5, 9), True),
    ("en", "Yesterday, 14:00.", "past", at(3, 3, 14), True),
    ("en", "  next   Friday  ", "future", at(3, 13), False),
    ("en", "March 3rd at 2pm", "past", at(3, 3, 14), True),
    ("en", "3/3", "past", at(3, 3), False),
    ("en", "friday 6 march", "future", at(3, 6), False),
    # Danish
    ("da", "i går", "past", at(3, 3), False),
    ("da", "sidste fredag kl 10", "past", at(2, 27, 10), True),
    ("da", "næste fredag", "future", at(3, 13), False),
    ("da", "fredag kl 10", "future", at(3, 6, 10), True),
    ("da", "i morgen kl 10", "future", at(3, 5, 10), True),
    ("da", "kl. 14.30", "future", at(3, 4, 14, 30), True),
    ("da", "kl. 14.30", "past", at(3, 3, 14, 30), True),
    ("da", "i fredags", "past", at(2, 27), False),
    ("da", "på fredag", "future", at(3, 6), False),
    ("da", "på fredag", "past", at(2, 27), False),
    ("da", "3. marts 14:00", "past", at(3, 3, 14), True),
    ("da", "for 2 dage siden", "past", at(3, 2), False),
    ("da", "om 3 dage", "future", at(3, 7), False),
    ("da", "for en uge siden", "past", at(2, 25), False),
    ("da", "i dag", "past", at(3, 4), False),
    ("da", "idag kl 8", "past", at(3, 4, 8), True),
    ("da", "igår", "past", at(3, 3), False),
    ("da", "i gaar kl 15", "past", at(3, 3, 15), True),
    ("da", "imorgen", "future", at(3, 5), False),
    ("da", "i forgårs", "past", at(3, 2), False),
    ("da", "i overmorgen klokken 9", "future", at(3, 6, 9), True),
    ("da", "mandag", "future", at(3, 9), False),
    ("da", "mandag", "past", at(3, 2), False),
    ("da", "denne mandag", "future", at(3, 2), False),
    ("da", "næste mandag", "future", at(3, 9), False),
    ("da", "forrige torsdag", "past", at(2, 26), False),
    ("da", "i mandags", "past", at(3, 2), False),
    ("da", "i søndags", "past", at(3, 1), False),
    ("da", "lørdag kl 11", "future", at(3, 7, 11), True),
    ("da", "loerdag", "future", at(3, 7), False),
    ("da", "lordag", "future", at(3, 7), False),
    ("da", "sondag", "past", at(3, 1), False),
    ("da", "naeste fredag", "future", at(3, 13), False),
    ("da", "kl 10 i morgen", "future", at(3, 5, 10), True),
    ("da", "tor kl 14", "future", at(3, 5, 14), True),
    ("da", "fre.", "past", at(2, 27), False),
    ("da", "onsdag kl 9", "past", at(3, 4, 9), True),
    ("da", "onsdag kl 9", "future", at(3, 11, 9), True),
    ("da", "onsdag kl 15", "future", at(3, 4, 15), True),
    ("da", "den 3. marts", "past", at(3, 3), False),
    ("da", "3.3.", "past", at(3, 3), False),
    ("da", "3.4.26", "past", at(4, 3), False),
    ("da", "1.12.", "past", at(12, 1, year=2025), False),
    ("da", "24.12. kl 18", "future", at(12, 24, 18), True),
    ("da", "2026-03-02 kl 14", "past", at(3, 2, 14), True),
    ("da", "fredag den 6. marts kl 10", "future", at(3, 6, 10), True),
    ("da", "I MORGEN KL 10:00", "future", at(3, 5, 10), True),
    ("da", "kl 10", "past", at(3, 4, 10), True),
]


@pytest.mark.parametrize(("lang", "text", "prefer", "expected", "has_time"), PHRASES)
def test_phrase(lang: str, text: str, prefer: str, expected: datetime, has_time: bool) -> None:
    result = parse(text, lang, prefer)
    assert result == When(expected, has_time)
    assert result.at.tzinfo == CPH


def test_table_covers_both_languages() -> None:
    english = sum(lang == "en" for lang, *_ in PHRASES)
    danish = sum(lang == "da" for lang, *_ in PHRASES)
    assert english >= 25 and danish >= 25


@pytest.mark.parametrize(
    "text",
    [
        "banana",
        "",
        "   ",
        "🙂",
        "'; DROP TABLE",
        "{{ 7*7 }}",
        "\x00\x01\x02",
        "friday\x00",
        "next",
        "at",
        "kl",
        "45m",
        "1h30",
        "25:00",
        "13pm",
        "32 March",
        "31/2",
        "2026",
        "yesterday yesterday",
        "next banana",
        "in 2 hours",
        "friday " * 40,
        "x" * 500,
    ],
)
@pytest.mark.parametrize("lang", ["en", "da"])
def test_garbage_is_none(text: str, lang: str) -> None:
    assert parse(text, lang, "past") is None
    assert parse(text, lang, "future") is None


@pytest.mark.parametrize(
    ("lang", "text"),
    [("da", "tomorrow"), ("da", "next friday"), ("en", "i morgen"), ("en", "fredag kl 10")],
)
def test_words_of_the_other_language_are_not_read(lang: str, text: str) -> None:
    assert parse(text, lang, "future") is None


def test_default_time_applies_when_only_a_day_is_named() -> None:
    assert parse("i går", "da", "past", default_time=time(12, 0)) == When(at(3, 3, 12), False)


def test_other_timezone() -> None:
    # 03:00 UTC on 4 March is still the evening of 3 March in New York.
    now = datetime(2026, 3, 4, 3, 0, tzinfo=timezone.utc)
    result = parse_when("tomorrow 9:30", now=now, tz=NEW_YORK, lang="en", prefer="future")
    assert result == When(datetime(2026, 3, 4, 9, 30, tzinfo=NEW_YORK), True)
    assert result.at.utcoffset() == timedelta(hours=-5)
    result = parse_when("22:00", now=now, tz=NEW_YORK, lang="en", prefer="past")
    assert result.at == datetime(2026, 3, 3, 22, 0, tzinfo=NEW_YORK)
    result = parse_when("i går", now=now, tz=NEW_YORK, lang="da", prefer="past")
    assert result.at == datetime(2026, 3, 2, 9, 0, tzinfo=NEW_YORK)


def test_dst_crossing() -> None:
    # Summer time starts in Copenhagen on Sunday 29 March 2026.
    now = datetime(2026, 3, 28, 12, 0, tzinfo=CPH).astimezone(timezone.utc)
    result = parse_when("next monday 10:00", now=now, tz=CPH, lang="en", prefer="future")
    assert result.at == datetime(2026, 3, 30, 10, 0, tzinfo=CPH)
    assert result.at.hour == 10
    assert result.at.utcoffset() == timedelta(hours=2)
    result = parse_when("om 2 dage kl 10", now=now, tz=CPH, lang="da", prefer="future")
    assert (result.at.hour, result.at.utcoffset()) == (10, timedelta(hours=2))


def test_time_skipped_by_dst_moves_forward() -> None:
    now = datetime(2026, 3, 28, 12, 0, tzinfo=CPH).astimezone(timezone.utc)
    result = parse_when("sunday 2:30", now=now, tz=CPH, lang="en", prefer="future")
    assert result.at == datetime(2026, 3, 29, 3, 30, tzinfo=CPH)
    assert result.at.utcoffset() == timedelta(hours=2)


def test_fast_path_does_not_call_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("dateparser called")

    monkeypatch.setattr(when_module.dateparser, "parse", refuse)
    for lang, text in [
        ("en", "next friday at 10"),
        ("en", "yesterday 14:00 45m talked about promotion"),
        ("da", "i morgen kl 10"),
        ("da", "sidste fredag kl 10 1h snak om karrieren"),
    ]:
        assert split(text, lang, "past") is not None


SPLITS = [
    ("en", "yesterday 14:00 45m talked about promotion", "past",
     When(at(3, 3, 14), True), "45m talked about promotion"),
    ("en", "last tuesday we talked", "past", When(at(3, 3), False), "we talked"),
    ("da", "sidste fredag kl 10 1h snak", "past", When(at(2, 27, 10), True), "1h snak"),
    ("en", "yesterday 1h30 notes", "past", When(at(3, 3), False), "1h30 notes"),
    ("da", "i går 90 min god snak", "past", When(at(3, 3), False), "90 min god snak"),
    ("da", "i går 45 snak", "past", When(at(3, 3), False), "45 snak"),
    ("en", "yesterday 9 45m notes", "past", When(at(3, 3, 9), True), "45m notes"),
    ("en", "yesterday 9 talked", "past", When(at(3, 3), False), "9 talked"),
    ("en", "yesterday 1:30 talked", "past", When(at(3, 3), False), "1:30 talked"),
    ("en", "yesterday 9:30 45m", "past", When(at(3, 3, 9, 30), True), "45m"),
    ("en", "yesterday 9.30 talked", "past", When(at(3, 3, 9, 30), True), "talked"),
    ("en", "friday 10", "future", When(at(3, 6, 10), True), ""),
    ("en", "friday talked about goals", "past", When(at(2, 27), False), "talked about goals"),
    ("en", "today at the office", "past", When(at(3, 4), False), "at the office"),
    ("da", "man 45m snak", "past", When(at(3, 2), False), "45m snak"),
    ("en", "3 March 45m review", "past", When(at(3, 3), False), "45m review"),
    ("da", "3. marts 14:00 1t30 møde", "past", When(at(3, 3, 14), True), "1t30 møde"),
    ("da", "kl 10 i morgen 1h planlægning", "future", When(at(3, 5, 10), True), "1h planlægning"),
    ("da", "i morgen, 30m, kort", "future", When(at(3, 5), False), "30m, kort"),
    ("en", "2 days ago 2 hours workshop", "past", When(at(3, 2), False), "2 hours workshop"),
    ("en", "next friday at 10", "future", When(at(3, 13, 10), True), ""),
    ("da", "i dag dagsorden", "past", When(at(3, 4), False), "dagsorden"),
    ("en", "the day before yesterday at 10 am 1h", "past", When(at(3, 2, 10), True), "1h"),
    ("en", "yesterday " + "word " * 100, "past", When(at(3, 3), False), ("word " * 100).strip()),
]


@pytest.mark.parametrize(("lang", "text", "prefer", "expected", "rest"), SPLITS)
def test_split(lang: str, text: str, prefer: str, expected: When, rest: str) -> None:
    assert split(text, lang, prefer) == (expected, rest)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("da", "man talte om karriere"),
        ("en", "sat down with her"),
        ("en", "talked yesterday"),
        ("en", "45m yesterday"),
        ("en", "the meeting"),
        ("da", "i det hele taget"),
        ("en", ""),
    ],
)
def test_split_needs_a_leading_date(lang: str, text: str) -> None:
    assert split(text, lang, "past") is None


LANGS = st.sampled_from(["en", "da"])
PREFERS = st.sampled_from(["past", "future"])
WORDS = st.lists(
    st.sampled_from(
        ["next", "last", "this", "on", "at", "kl", "i", "på", "næste", "friday", "fredags",
         "man", "sat", "tomorrow", "i går", "morgen", "3", "3.", "14:00", "9", "1:30", "2pm",
         "march", "marts", "2026", "ago", "siden", "for", "om", "in", "days", "dage", "45m",
         "1h30", "3/3", "3.3.", "2026-03-02", "🙂", ",", ".", "\x00", "99999999"]
    ),
    max_size=9,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=80), WORDS), lang=LANGS, prefer=PREFERS)
def test_random_text_never_raises(text: str, lang: str, prefer: str) -> None:
    parse(text, lang, prefer)
    split(text, lang, prefer)
    parse_duration(text)
