"""The console's HTML: structure in bot/webconsole/templates/, every word in
prompts/<lang>/console/words.html.j2, autoescape on (names and keys are text, never markup)."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from conversations.texts import LANGUAGES, PROMPTS, format_day, format_moment

HERE = Path(__file__).resolve().parent
CSS = (HERE / "console.css").read_text(encoding="utf-8")


def language(*candidates: str | None) -> str:
    return next((c for c in candidates if c in LANGUAGES), "en")


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(PROMPTS / lang / "console"),
                             FileSystemLoader(HERE / "templates"),
                             FileSystemLoader(PROMPTS / lang)]),  # report/words.html.j2
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["day"] = lambda d, _l=lang: format_day(d, _l, True) if d else ""
    env.filters["moment"] = lambda d, _l=lang: format_moment(d, _l) if d else ""
    return env


def render(lang: str, template: str, **values) -> str:
    other = next(code for code in LANGUAGES if code != lang)
    return environment(lang).get_template(template).render(lang=lang, other_lang=other,
                                                           **values)
