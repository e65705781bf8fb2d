"""Session lengths as mentors type them in chat, in English and Danish."""

import re
from fractions import Fraction
from itertools import islice

# Danish abbreviates "time"/"timer" (hour/hours) to "t", so "1t30" is 1 h 30 min.
_HOURS = r"(?:h|hr|hrs|hour|hours|t|tim|time|timer)"
_MINUTES = r"(?:m|min|mins|minute|minutes|minut|minutter)"

_DURATION = re.compile(
    rf"""
    (?P<hours>\d{{1,3}}(?:[.,]\d{{1,2}})?) \s* {_HOURS}
        (?: \s* (?P<extra>\d{{1,2}}) \s* {_MINUTES}? )?
    | (?P<minutes>\d{{1,4}}) \s* {_MINUTES}?
    | (?P<clock_hours>\d{{1,2}}) : (?P<clock_minutes>\d{{2}})
    """,
    re.ASCII | re.VERBOSE,
)

_TOKEN = re.compile(r"\S+")

# "1 h 30 min" and "2 hours 15 minutes" are the longest forms anyone types.
_MAX_TOKENS = 4


def parse_duration(token: str) -> int | None:
    """Minutes in `token`, or None; 0 stays 0 so the caller can say why it is rejected."""
    match = _DURATION.fullmatch(token.strip().lower().rstrip(".,;").strip())
    if match is None:
        return None
    if match["minutes"] is not None:
        return int(match["minutes"])
    if match["clock_hours"] is not None:
        minutes = int(match["clock_minutes"])
        return int(match["clock_hours"]) * 60 + minutes if minutes < 60 else None
    hours = Fraction(match["hours"].replace(",", "."))
    extra = match["extra"]
    if extra is None:
        return round(hours * 60)
    # "1.5h30" mixes two ways of writing the fraction and "1h75" is not a clock reading.
    if hours.denominator != 1 or int(extra) >= 60:
        return None
    return int(hours) * 60 + int(extra)


def split_duration(text: str) -> tuple[int, str] | None:
    """The longest leading run of words that reads as a duration, and the rest of `text`."""
    tokens = list(islice(_TOKEN.finditer(text), _MAX_TOKENS))
    for count in range(len(tokens), 0, -1):
        end = tokens[count - 1].end()
        minutes = parse_duration(text[tokens[0].start() : end])
        if minutes is not None:
            return minutes, text[end:].strip()
    return None
