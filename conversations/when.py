"""Natural-language dates and times for the chat grammar, in English and Danish.

dateparser misreads the phrases people use most when scheduling ("next friday at 10",
"fredag kl 10", "i morgen kl 10"), so relative days, weekdays and times of day are read
here, and dateparser is only asked about calendar dates ("3 March", "3. marts",
"2026-03-03", "3/3") and offsets in days or longer ("in 2 days", "for 2 dage siden").

Weekdays, counted in the participant's zone with weeks running Monday to Sunday:

* "next X" / "næste X": the first X after today, unless that is still in the current
  week, in which case the X a week later. On a Wednesday "next friday" is nine days
  ahead and "next monday" five.
* "this X" / "denne X": the X of the current week, even if it has passed.
* "last X" / "sidste X" / "forrige X" / "i Xs" ("i fredags"): the most recent X before
  today.
* "X", "on X", "på X", "i X": with prefer="future" the first X after today, or today if
  it is X and a time still ahead was given; with prefer="past" the most recent X before
  today, or today if it is X and a time already passed was given.

A time on its own is its next occurrence (prefer="future") or its most recent one
(prefer="past"). A calendar date without a year counts today in either direction.
Numeric dates are day first ("3/4" is 3 April) in both languages.

Times people also write as durations ("9", "1:30") are only read as times by
`split_when` when a duration or nothing follows them: "yesterday 1:30 talked" leaves
"1:30 talked" for the duration parser, while "yesterday 9:30 45m" and "friday 10" take
the time. "sat", "sun", "wed", "man" and "søn" are ordinary words too, so `split_when`
takes them on their own under the same condition.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from itertools import islice
from typing import Literal
from zoneinfo import ZoneInfo

import dateparser

from conversations.durations import parse_duration

Prefer = Literal["past", "future"]
_Mode = Literal["this", "next", "last", "bare"]


@dataclass(frozen=True)
class When:
    at: datetime  # timezone-aware, in the participant's zone
    has_time: bool  # False when the phrase named only a day


@dataclass(frozen=True)
class _Weekday:
    weekday: int
    mode: _Mode


@dataclass(frozen=True)
class _Context:
    now: datetime
    tz: ZoneInfo
    lang: str
    prefer: Prefer
    default_time: time


# "the day before yesterday at 10 am" and "fredag den 6. marts kl 10" are the longest phrases.
_MAX_WORDS = 7
# A time is at most a marker, a clock reading and am/pm: "at 10 am".
_MAX_TIME_WORDS = 3
# Keeps dates far outside any mentoring programme from overflowing datetime arithmetic.
_YEARS = range(1900, 2201)

_TOKEN = re.compile(r"\S+")

_RELATIVE_DAYS = {
    "en": {
        "today": 0,
        "yesterday": -1,
        "tomorrow": 1,
        "day before yesterday": -2,
        "the day before yesterday": -2,
        "day after tomorrow": 2,
        "the day after tomorrow": 2,
    },
    "da": {
        "i dag": 0,
        "idag": 0,
        "i gar": -1,
        "igar": -1,
        "i morgen": 1,
        "imorgen": 1,
        "i forgars": -2,
        "iforgars": -2,
        "forgars": -2,
        "i overmorgen": 2,
        "overmorgen": 2,
    },
}

_EN_WEEKDAYS = {
    name: weekday
    for weekday, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
# Full Danish names are looked up folded; abbreviations as typed, since folding "tør"
# (dare) would make it "tor" (Thursday).
_DA_WEEKDAYS = {
    name: weekday
    for weekday, name in enumerate(
        ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lordag", "sondag")
    )
}
_DA_ABBREVIATIONS = {
    name: weekday
    for weekday, names in enumerate(
        (
            ("man",),
            ("tir", "tirs"),
            ("ons",),
            ("tor", "tors"),
            ("fre",),
            ("lør", "lor"),
            ("søn", "son"),
        )
    )
    for name in names
}
_AMBIGUOUS_WEEKDAYS = {"sat", "sun", "wed", "man", "søn", "son"}

_QUALIFIERS: dict[str, dict[str, _Mode]] = {
    "en": {"this": "this", "next": "next", "last": "last"},
    "da": {"denne": "this", "naeste": "next", "sidste": "last", "forrige": "last"},
}
_ON = {"en": {"on"}, "da": {"pa"}}
_TIME_MARKERS = {"en": {"at", "@"}, "da": {"kl", "klokken", "@"}}
_NAMED_TIMES = {
    "en": {"noon": time(12), "midday": time(12), "midnight": time(0)},
    "da": {"midnat": time(0)},
}

_CLOCK = re.compile(
    r"(?P<hour>\d{1,2})(?:(?P<sep>[:.])(?P<minute>\d{2}))?\s?(?:(?P<meridiem>[ap])\.?m\.?)?",
    re.ASCII,
)
# "1.12." is a Danish date, not a time.
_NUMERIC_DAY_MONTH = re.compile(r"\d{1,2}\.\d{1,2}\.", re.ASCII)

_NUMBER_WORDS = {"en": {"a": 1, "an": 1, "one": 1}, "da": {"en": 1, "et": 1}}
_UNITS = {
    "en": {
        **dict.fromkeys(("day", "days"), "days"),
        **dict.fromkeys(("week", "weeks"), "weeks"),
        **dict.fromkeys(("month", "months"), "months"),
        **dict.fromkeys(("year", "years"), "years"),
    },
    "da": {
        **dict.fromkeys(("dag", "dage"), "dage"),
        **dict.fromkeys(("uge", "uger"), "uger"),
        **dict.fromkeys(("maned", "maneder"), "måneder"),
        "ar": "år",
    },
}
_RELATIVE = {
    "en": (
        re.compile(r"in (?P<n>\S+) (?P<unit>\S+)"),
        re.compile(r"(?P<n>\S+) (?P<unit>\S+) ago"),
    ),
    "da": (
        re.compile(r"om (?P<n>\S+) (?P<unit>\S+)"),
        re.compile(r"(?:for )?(?P<n>\S+) (?P<unit>\S+) siden"),
    ),
}
_RELATIVE_TEMPLATES = {  # (ahead, back), as `_RELATIVE`
    "en": ("in {n} {unit}", "{n} {unit} ago"),
    "da": ("om {n} {unit}", "for {n} {unit} siden"),
}

_EN_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DA_MONTH = (
    r"(?:jan(?:uar)?|feb(?:ruar)?|mar(?:ts)?|apr(?:il)?|maj|juni?|juli?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|okt(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# dateparser reads an impossible day as a year ("32 March" is 1932), so only real ones pass.
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_EN_DAY = rf"(?:the )?{_DAY}(?:st|nd|rd|th)?"
_NUMERIC_DATES = (
    rf"\d{{4}}-{_MONTH}-{_DAY}",
    rf"{_DAY}/{_MONTH}(?:/(?:\d{{2}}|\d{{4}}))?",
    rf"{_DAY}\.{_MONTH}\.(?:\d{{2}}|\d{{4}})?",
    rf"{_DAY}-{_MONTH}-\d{{4}}",
)
_CALENDAR_DATES = {
    "en": tuple(
        re.compile(pattern, re.ASCII)
        for pattern in (
            rf"{_EN_DAY}(?: of)? {_EN_MONTH}(?: \d{{4}})?",
            rf"{_EN_MONTH} {_EN_DAY}(?: \d{{4}})?",
            *_NUMERIC_DATES,
        )
    ),
    "da": tuple(
        re.compile(pattern, re.ASCII)
        for pattern in (rf"(?:den )?{_DAY}\.? {_DA_MONTH}(?: \d{{4}})?", *_NUMERIC_DATES)
    ),
}
# dateparser reads "1.12." as 01:12 and "3.4.26" as 1926 when preferring the past, so
# dotted dates reach it with slashes and two-digit years are widened first.
_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})?", re.ASCII)
_SHORT_YEAR = re.compile(r"^(?P<head>\d{1,2}[./-]\d{1,2}[./-])(?P<year>\d{2})$", re.ASCII)
_HAS_YEAR = re.compile(r"\d{4}|\d{1,2}[./-]\d{1,2}[./-]\d", re.ASCII)


def parse_when(
    text: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    lang: str,
    prefer: Prefer,
    default_time: time = time(9, 0),
) -> When | None:
    """The moment `text` names, or None when all of it is not a date or time."""
    context = _context(now, tz, lang, prefer, default_time)
    tokens = _tokens(text, _MAX_WORDS + 1)
    if not tokens or len(tokens) > _MAX_WORDS:
        return None
    return _phrase([word for word, _ in tokens], context, ambiguous_ok=True)


def split_when(
    text: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    lang: str,
    prefer: Prefer,
    default_time: time = time(9, 0),
) -> tuple[When, str] | None:
    """The longest leading date phrase of `text` and what follows it, for commands that
    take a date, a duration and free text in one line."""
    context = _context(now, tz, lang, prefer, default_time)
    tokens = _tokens(text, _MAX_WORDS + 1)
    seen: dict = {}  # the shorter phrases tried again and again, read once
    for count in range(min(len(tokens), _MAX_WORDS), 0, -1):
        ambiguous_ok = count == len(tokens) or parse_duration(tokens[count][0]) is not None
        when = _phrase([word for word, _ in tokens[:count]], context, ambiguous_ok, seen)
        if when is not None:
            rest = text[tokens[count - 1][1] :].strip().lstrip(",;").strip()
            return when, rest
    return None


def _context(
    now: datetime, tz: ZoneInfo, lang: str, prefer: Prefer, default_time: time
) -> _Context:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if lang not in _RELATIVE_DAYS:
        raise ValueError(f"unsupported language: {lang!r}")
    return _Context(now.astimezone(tz), tz, lang, prefer, default_time)


def _tokens(text: str, limit: int) -> list[tuple[str, int]]:
    """Normalised words with where each ends in `text`, so the rest can be cut unchanged."""
    tokens = []
    for match in islice(_TOKEN.finditer(text), limit):
        word = unicodedata.normalize("NFKC", match.group()).lower().rstrip(",;!?")
        if word:
            tokens.append((word, match.end()))
    return tokens


def _word(token: str) -> str:
    return token.rstrip(".:")


def _fold(word: str) -> str:
    """Danish spelt on a keyboard without æ, ø and å: "naeste", "loerdag", "i gaar"."""
    word = word.replace("æ", "ae").replace("ø", "o").replace("å", "a")
    return word.replace("oe", "o").replace("aa", "a")


@lru_cache(maxsize=4096)
def _key(word: str, lang: str) -> str:
    return _fold(_word(word)) if lang == "da" else _word(word)


def _phrase(tokens: list[str], context: _Context, ambiguous_ok: bool,
            seen: dict | None = None) -> When | None:
    """Reads a day, a time, or both with the time on either side of the day. `seen` keeps
    what parts of one text read as (`split_when` tries its shorter phrases again)."""
    seen = {} if seen is None else seen

    def day_of(part: list[str], ok: bool):
        key = ("day", tuple(part), ok)
        if key not in seen:
            seen[key] = _day(part, context, ok)
        return seen[key]

    def time_of(part: list[str]):
        key = ("time", tuple(part), ambiguous_ok)
        if key not in seen:
            seen[key] = _time(part, context.lang, ambiguous_ok)
        return seen[key]

    day = day_of(tokens, ambiguous_ok)
    if day is not None:
        return _resolve(day, None, context)
    clock = time_of(tokens)
    if clock is not None:
        return _resolve(None, clock, context)
    # Time after the day first: "3 march 14" is 3 March at 14, not 14 March at 3.
    for size in range(1, min(_MAX_TIME_WORDS, len(tokens) - 1) + 1):
        for clock_part, day_part in (
            (tokens[-size:], tokens[:-size]),
            (tokens[:size], tokens[size:]),
        ):
            clock = time_of(clock_part)
            if clock is None:
                continue
            day = day_of(day_part, True)
            if day is not None:
                return _resolve(day, clock, context)
    return None


def _time(tokens: list[str], lang: str, ambiguous_ok: bool) -> time | None:
    marked = len(tokens) > 1 and _word(tokens[0]) in _TIME_MARKERS[lang]
    if marked:
        tokens = tokens[1:]
    if not tokens or len(tokens) > 2 or _NUMERIC_DAY_MONTH.fullmatch(tokens[0]):
        return None
    text = " ".join(_word(token) for token in tokens)
    if text in _NAMED_TIMES[lang]:
        return _NAMED_TIMES[lang][text]
    match = _CLOCK.fullmatch(text)
    if match is None:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    meridiem = match["meridiem"]
    if meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    looks_like_duration = match["sep"] is None or (
        match["sep"] == ":" and len(match["hour"]) == 1
    )
    if looks_like_duration and not (marked or meridiem or ambiguous_ok):
        return None
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _day(tokens: list[str], context: _Context, ambiguous_ok: bool) -> date | _Weekday | None:
    if not tokens:
        return None
    lang = context.lang
    offset = _RELATIVE_DAYS[lang].get(" ".join(_key(token, lang) for token in tokens))
    if offset is not None:
        return context.now.date() + timedelta(days=offset)
    weekday = _weekday_phrase(tokens, lang, ambiguous_ok)
    if weekday is not None:
        return weekday
    return _calendar_day(tokens, context)


def _weekday_phrase(tokens: list[str], lang: str, ambiguous_ok: bool) -> _Weekday | None:
    keys = [_key(token, lang) for token in tokens]
    if lang == "da" and len(keys) == 2 and keys[0] == "i":
        # "i fredags" is last Friday, "i fredag" the coming one.
        past = _DA_WEEKDAYS.get(keys[1][:-1]) if keys[1].endswith("s") else None
        if past is not None:
            return _Weekday(past, "last")
        weekday = _weekday_of(tokens[1], lang)
        return _Weekday(weekday, "bare") if weekday is not None else None
    alone = len(tokens) == 1
    mode: _Mode = "bare"
    if keys and keys[0] in _ON[lang]:
        tokens, keys = tokens[1:], keys[1:]
    if len(keys) == 2 and keys[0] in _QUALIFIERS[lang]:
        mode = _QUALIFIERS[lang][keys[0]]
        tokens, keys = tokens[1:], keys[1:]
    if len(tokens) != 1:
        return None
    weekday = _weekday_of(tokens[0], lang)
    if weekday is None:
        return None
    if alone and not ambiguous_ok and _word(tokens[0]) in _AMBIGUOUS_WEEKDAYS:
        return None
    return _Weekday(weekday, mode)


def _weekday_of(token: str, lang: str) -> int | None:
    word = _word(token)
    if lang == "en":
        return _EN_WEEKDAYS.get(word)
    abbreviation = _DA_ABBREVIATIONS.get(word)
    return abbreviation if abbreviation is not None else _DA_WEEKDAYS.get(_fold(word))


def _calendar_day(tokens: list[str], context: _Context) -> date | None:
    """Dates and day offsets, handed to dateparser only once they are known to be well formed,
    so ordinary words never reach its slow first call. The common forms (numeric dates, offsets
    in days and weeks) are counted here; dateparser reads the rest, and anything odd."""
    lang = context.lang
    base = context.now.replace(tzinfo=None)
    relative = _relative_parts(tokens, lang)
    if relative is not None:
        fast = _shifted(base, *relative)
        if fast is not None:
            return fast
        parsed = _dateparser(_relative_text(lang, *relative), lang, base, context.prefer)
        return parsed.date() if parsed is not None else None

    if len(tokens) > 1 and _key(tokens[0], lang) in _ON[lang]:
        tokens = tokens[1:]
    weekday = _weekday_of(tokens[0], lang) if len(tokens) > 1 else None
    if weekday is not None:
        tokens = tokens[1:]
    phrase = " ".join(tokens)
    if not any(pattern.fullmatch(phrase) for pattern in _CALENDAR_DATES[lang]):
        return None
    dotted = _DOTTED_DATE.fullmatch(phrase)
    if dotted is not None:
        phrase = "/".join(part for part in dotted.groups() if part)
    phrase = _SHORT_YEAR.sub(r"\g<head>20\g<year>", phrase)
    day = _numeric_date(phrase, context)
    if day is None:
        day = _dateparser_day(phrase, lang, base, context)
    if day is None or (weekday is not None and day.weekday() != weekday):
        return None
    return day


def _dateparser_day(phrase: str, lang: str, base: datetime, context: _Context) -> date | None:
    if context.prefer == "future" and not _HAS_YEAR.search(phrase):
        # dateparser moves a year-less date that is not after its base to next year,
        # which would turn today into a year from now.
        base = datetime.combine(context.now.date() - timedelta(days=1), time.max)
    parsed = _dateparser(phrase, lang, base, context.prefer)
    # A clock time in the result means dateparser read part of the date as one.
    if parsed is None or parsed.time() != time(0):
        return None
    return parsed.date()


# What the fast path reads itself, as it reaches dateparser: "2026-03-02", "2/3/2026",
# "2-3-2026" (day first), and "2/3" (no year: the nearest such day in the preferred direction).
_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})", re.ASCII)
_DMY_DATE = re.compile(r"(?P<day>\d{1,2})[/-](?P<month>\d{1,2})(?:[/-](?P<year>\d{4}))?",
                       re.ASCII)


def _numeric_date(phrase: str, context: _Context) -> date | None:
    """A numeric date, as dateparser reads it; None for anything it should read instead (a
    month name, an impossible day, 29 February without a year)."""
    match = _ISO_DATE.fullmatch(phrase) or _DMY_DATE.fullmatch(phrase)
    if match is None:
        return None
    day, month = int(match["day"]), int(match["month"])
    if match["year"] is not None:
        year = int(match["year"])
        if year not in _YEARS:
            return None
        try:
            return date(year, month, day)
        except ValueError:
            return None
    if (month, day) == (2, 29):
        return None
    today = context.now.date()
    try:
        this_year = date(today.year, month, day)
    except ValueError:
        return None
    if context.prefer == "future":
        return this_year if this_year >= today else this_year.replace(year=today.year + 1)
    return this_year if this_year <= today else this_year.replace(year=today.year - 1)


def _relative_parts(tokens: list[str], lang: str) -> tuple[int, int, str] | None:
    """"2 days ago" → (-1, 2, "days"), "om en uge" → (1, 1, "uger"): direction, count, unit."""
    phrase = " ".join(_key(token, lang) for token in tokens)
    for sign, pattern in zip((1, -1), _RELATIVE[lang]):
        match = pattern.fullmatch(phrase)
        if match is None:
            continue
        number, unit = match["n"], _UNITS[lang].get(match["unit"])
        count = _NUMBER_WORDS[lang].get(number) or (
            int(number) if number.isascii() and number.isdigit() and len(number) <= 3 else None
        )
        if unit is not None and count is not None:
            return sign, count, unit
    return None


def _relative_text(lang: str, sign: int, count: int, unit: str) -> str:
    return _RELATIVE_TEMPLATES[lang][0 if sign > 0 else 1].format(n=count, unit=unit)


_DAYS_PER_UNIT = {"days": 1, "dage": 1, "weeks": 7, "uger": 7}


def _shifted(base: datetime, sign: int, count: int, unit: str) -> date | None:
    """An offset in days or weeks counted from `base`, as dateparser counts it; None for
    months and years (calendar arithmetic: dateparser's)."""
    days = _DAYS_PER_UNIT.get(unit)
    if days is None:
        return None
    try:
        moved = base.date() + timedelta(days=sign * count * days)
    except OverflowError:
        return None
    return moved if moved.year in _YEARS else None


def _dateparser(phrase: str, lang: str, base: datetime, prefer: Prefer) -> datetime | None:
    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": prefer,
        "DATE_ORDER": "DMY",
        "PARSERS": ["relative-time", "absolute-time"],
        # The base is the participant's wall-clock time; reading it as UTC keeps dateparser
        # from applying the server's zone or DST to what is pure calendar arithmetic.
        "TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    try:
        parsed = dateparser.parse(phrase, languages=[lang], settings=settings)
    except Exception:  # a parsing library must not turn a chat message into a crash
        return None
    if parsed is None or parsed.year not in _YEARS:
        return None
    return parsed


def _resolve(day: date | _Weekday | None, clock: time | None, context: _Context) -> When:
    at_time = clock if clock is not None else context.default_time
    if isinstance(day, _Weekday):
        day = _weekday_date(day, clock, context)
    elif day is None:
        day = _time_only_date(at_time, context)
    return When(_local(day, at_time, context.tz), clock is not None)


def _weekday_date(weekday: _Weekday, clock: time | None, context: _Context) -> date:
    today = context.now.date()
    current = today.weekday()
    ahead = (weekday.weekday - current) % 7 or 7
    behind = (current - weekday.weekday) % 7 or 7
    if weekday.mode == "this":
        return today + timedelta(days=weekday.weekday - current)
    if weekday.mode == "next":
        in_this_week = current + ahead <= 6
        return today + timedelta(days=ahead + (7 if in_this_week else 0))
    if weekday.mode == "last":
        return today - timedelta(days=behind)
    if weekday.weekday == current and clock is not None:
        at = _local(today, clock, context.tz)
        if (at > context.now) if context.prefer == "future" else (at < context.now):
            return today
    if context.prefer == "future":
        return today + timedelta(days=ahead)
    return today - timedelta(days=behind)


def _time_only_date(clock: time, context: _Context) -> date:
    today = context.now.date()
    at = _local(today, clock, context.tz)
    if context.prefer == "future":
        return today if at > context.now else today + timedelta(days=1)
    return today if at <= context.now else today - timedelta(days=1)


def _local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """Wall-clock time in `tz`; a time skipped by DST moves forward to one that exists."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(timezone.utc).astimezone(tz)
