"""Every sentence the bot says comes from `prompts/<lang>/<area>/<name>.md.j2` (engine layer).

Values put into a template are wrapped as *user text* (see `user_span`), so each platform's
renderer can escape them: a note containing `<!channel>` or `*bold*` is shown, never obeyed.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from markupsafe import Markup

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
LANGUAGES = ("en", "da")


def locale_language(locale: str) -> str:
    """"da-DK", "da_DK" or "da" → "da" when the bot speaks it, else ""."""
    code = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return code if code in LANGUAGES else ""

USER_START, USER_END = "\ue000", "\ue001"
MONTHS = {
    "en": "January February March April May June July August September October November December",
    "da": "januar februar marts april maj juni juli august september oktober november december",
}
WEEKDAYS = {
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "da": "mandag tirsdag onsdag torsdag fredag lørdag søndag",
}


def user_span(value: object) -> str:
    """Mark text that came from a person, so renderers escape it for their platform."""
    text = strip_markers(str(value))
    return f"{USER_START}{text}{USER_END}" if text else ""


def strip_markers(text: str) -> str:
    return text.replace(USER_START, "").replace(USER_END, "")


_MARKERS = re.compile(f"([{USER_START}{USER_END}])")


def spans(text: str) -> Iterator[tuple[bool, str]]:
    """Split rendered text into (is_user_text, chunk) pieces."""
    is_user = False
    for piece in _MARKERS.split(text):
        if piece == USER_START or piece == USER_END:
            is_user = piece == USER_START
        elif piece:
            yield is_user, piece


def _finalize(value: object) -> object:
    if isinstance(value, Markup) or value is None:
        return value
    return user_span(value)


def format_day(moment: date | datetime, lang: str, year: bool = False) -> str:
    weekday = WEEKDAYS[lang].split()[moment.weekday()]
    month = MONTHS[lang].split()[moment.month - 1]
    if lang == "da":
        return f"{weekday} {moment.day}. {month}" + (f" {moment.year}" if year else "")
    return f"{weekday} {moment.day} {month}" + (f" {moment.year}" if year else "")


def format_moment(moment: datetime, lang: str, year: bool = False) -> str:
    """'Tuesday 3 March, 14:00' / 'tirsdag 3. marts kl. 14.00', in the moment's own zone."""
    if lang == "da":
        return f"{format_day(moment, lang, year)} kl. {moment:%H.%M}"
    return f"{format_day(moment, lang, year)}, {moment:%H:%M}"


def relative_parts(moment: datetime, now: datetime, lang: str) -> dict:
    """What `_macros.md.j2`'s `relative_moment` words a moment from (both in the reader's
    zone): days from today, the weekday, the date, the clock. The words live in the template."""
    moment = moment.astimezone(now.tzinfo)
    return {"days": (moment.date() - now.date()).days,
            "weekday": Markup(WEEKDAYS[lang].split()[moment.weekday()]),
            "day": Markup(format_day(moment, lang, moment.year != now.year)),
            "hour": Markup(f"{moment:%H}"), "minute": Markup(f"{moment:%M}")}


def format_minutes(minutes: int, lang: str) -> str:
    hours, rest = divmod(minutes, 60)
    unit = "t" if lang == "da" else "h"
    if hours and rest:
        return f"{hours} {unit} {rest} min"
    return f"{hours} {unit}" if hours else f"{rest} min"


def _other_year(context, moment: date | datetime) -> bool:
    """Dates show their year when it is not the reader's current one (`now` in the values)."""
    now = context.get("now")
    return isinstance(now, datetime) and moment.year != now.year


class Texts:
    """One Jinja2 environment per language, strict about missing values."""

    def __init__(self, root: Path = PROMPTS) -> None:
        self._envs = {}
        for lang in LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(root / lang),
                undefined=StrictUndefined,
                finalize=_finalize,
                autoescape=False,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=False,
            )
            env.filters["day"] = pass_context(
                lambda c, d, _l=lang: Markup(format_day(d, _l, _other_year(c, d))))
            env.filters["moment"] = pass_context(
                lambda c, d, _l=lang: Markup(format_moment(d, _l, _other_year(c, d))))
            env.filters["relative"] = pass_context(
                lambda c, d, _e=env, _l=lang: Markup(_e.get_template("_macros.md.j2").module
                                                     .relative_moment(**relative_parts(
                                                         d, c.get("now") or d, _l))))
            env.filters["minutes"] = lambda m, _l=lang: Markup(format_minutes(m, _l))
            self._envs[lang] = env

    def render(self, lang: str, template: str, /, **values: object) -> str:
        env = self._envs.get(lang) or self._envs["en"]
        return env.get_template(f"{template}.md.j2").render(**values).strip()

    def names(self, lang: str) -> set[str]:
        return {n.removesuffix(".md.j2") for n in self._envs[lang].list_templates(extensions=["j2"])}
