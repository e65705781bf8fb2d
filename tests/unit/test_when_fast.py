"""The fast path of conversations/when.py reads numeric dates and offsets in days and weeks
itself; it must agree with dateparser (the slow path) on every such phrase, at any moment, in
any zone, both languages, either direction."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations import when as when_module
from conversations.when import parse_when, split_when

ZONES = st.sampled_from([ZoneInfo(name) for name in (
    "Europe/Copenhagen", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC")])
MOMENTS = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2100, 12, 31),
                       timezones=st.just(UTC))
PREFERS = st.sampled_from(["past", "future"])
DAYS = st.integers(1, 31)
MONTHS = st.integers(1, 12)
YEARS = st.integers(1990, 2110)


def _padded(number: int, draw) -> str:
    return f"{number:02d}" if draw(st.booleans()) else str(number)


@st.composite
def numeric_dates(draw) -> str:
    day, month, year = draw(DAYS), draw(MONTHS), draw(YEARS)
    d, m = _padded(day, draw), _padded(month, draw)
    return draw(st.sampled_from([
        f"{year}-{m}-{d}", f"{d}/{m}/{year}", f"{d}.{m}.{year}", f"{d}.{m}.{year % 100:02d}",
        f"{d}/{m}/{year % 100:02d}", f"{d}-{m}-{year}", f"{d}/{m}", f"{d}.{m}.",
        f"friday {year}-{m}-{d}", f"on {d}/{m}", f"fredag {d}.{m}.", f"på {d}/{m}/{year}"]))


@st.composite
def offsets(draw) -> tuple[str, str]:
    count = draw(st.integers(0, 999))
    small = draw(st.integers(0, 300))
    return draw(st.sampled_from([
        ("en", f"{count} days ago"), ("en", f"in {count} days"), ("en", f"{small} weeks ago"),
        ("en", f"in {small} weeks"), ("en", "a week ago"), ("en", "in a day"),
        ("en", "one day ago"), ("da", f"for {count} dage siden"), ("da", f"om {small} uger"),
        ("da", f"{count} dage siden"), ("da", "om en uge"), ("da", "for en dag siden"),
        ("da", f"for {small} uger siden"), ("en", f"{count} day ago")]))


def _slow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(when_module, "_numeric_date", lambda *args: None)
    monkeypatch.setattr(when_module, "_shifted", lambda *args: None)


def _both(text: str, lang: str, now: datetime, tz: ZoneInfo, prefer: str):
    options = {"now": now, "tz": tz, "lang": lang, "prefer": prefer}
    fast = parse_when(text, **options), split_when(text + " 45m talk", **options)
    with pytest.MonkeyPatch.context() as patch:
        _slow(patch)
        slow = parse_when(text, **options), split_when(text + " 45m talk", **options)
    return fast, slow


@settings(max_examples=400, deadline=None)
@given(text=numeric_dates(), lang=st.sampled_from(["en", "da"]), now=MOMENTS, tz=ZONES,
       prefer=PREFERS)
def test_numeric_dates_agree_with_dateparser(text, lang, now, tz, prefer) -> None:
    fast, slow = _both(text, lang, now, tz, prefer)
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(phrase=offsets(), now=MOMENTS, tz=ZONES, prefer=PREFERS)
def test_offsets_agree_with_dateparser(phrase, now, tz, prefer) -> None:
    lang, text = phrase
    fast, slow = _both(text, lang, now, tz, prefer)
    assert fast == slow


@settings(max_examples=200, deadline=None)
@given(now=MOMENTS, tz=ZONES, prefer=PREFERS, day=st.sampled_from([(2, 28), (2, 29), (3, 1),
                                                                    (12, 31), (1, 1)]))
def test_year_ends_and_leap_days_agree(now, tz, prefer, day) -> None:
    month, number = day
    for text in (f"{number}/{month}", f"{number}.{month}.", f"{now.year}-{month}-{number}"):
        fast, slow = _both(text, "en", now, tz, prefer)
        assert fast == slow


def test_common_forms_do_not_call_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("dateparser called")

    monkeypatch.setattr(when_module.dateparser, "parse", refuse)
    now = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    cph = ZoneInfo("Europe/Copenhagen")
    for lang, text in [("en", "2026-03-02 14:00 45m talked"), ("en", "2/3/2026 2pm 1h notes"),
                       ("da", "2.3.26 kl 14 1t snak"), ("en", "3 days ago 45m"),
                       ("da", "for 2 uger siden 30m"), ("da", "i går 14:00 45m"),
                       ("en", "yesterday 9:00 45m"), ("da", "fredag kl 10 1h"), ("en", "2/3 45m")]:
        parsed = split_when(text, now=now, tz=cph, lang=lang, prefer="past")
        assert parsed is not None, text
    assert split_when("2026-03-02", now=now, tz=cph, lang="en", prefer="past")[0].at == \
        datetime(2026, 3, 2, 9, 0, tzinfo=cph)
    assert parse_when("3 days ago", now=now, tz=cph, lang="en", prefer="past").at.date() == \
        (now - timedelta(days=3)).date()
