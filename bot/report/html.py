"""The programme report as one self-contained HTML page (report adapter).

Inline CSS and server-drawn SVG, no script, no external URL of any kind, so the page can be
mailed, archived or printed as it is. The structure is `bot/report/templates/`, every word is
in `prompts/<lang>/report/words.html.j2`, and autoescape is on: programme and person names and
open answers are text, never markup.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.report.svg import distribution_chart, meetings_chart
from conversations.texts import LANGUAGES, PROMPTS
from conversations.health import STATUSES
from storage.report import Report

HERE = Path(__file__).resolve().parent
SEVERITY = {status: i for i, status in enumerate(reversed(STATUSES))}  # silent first


def language(lang: str | None, fallback: str = "en") -> str:
    for candidate in (lang, fallback):
        if candidate in LANGUAGES:
            return candidate
    return "en"


@lru_cache(maxsize=None)
def environment(lang: str) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(PROMPTS / lang / "report"),
                             FileSystemLoader(HERE / "templates")]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.globals.update(fmt=fmt, meetings_chart=meetings_chart,
                       distribution_chart=distribution_chart)
    return env


def words(lang: str):
    """The language's words module: its macros and lists, callable from Python."""
    return environment(lang).get_template("words.html.j2").module


def fmt(value: float | None, digits: int, decimal: str, signed: bool = False) -> str:
    if value is None:
        return ""
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.replace(".", decimal).replace("-", "−")


def css() -> Markup:
    """Our own stylesheet, trusted as is (autoescape would break its quotes)."""
    return Markup((HERE / "report.css").read_text(encoding="utf-8"))


def render_html(report: Report, lang: str) -> str:
    lang = language(lang, report.programme.language)
    env = environment(lang)
    w = words(lang)
    rows, previous_year = [], None
    for month in report.months:
        label = str(w.month_label(month.month, month.month.year != previous_year))
        previous_year = month.month.year
        rows.append((label, month.held, month.promised))
    as_of = report.as_of.astimezone(ZoneInfo(report.programme.timezone)).date()
    pairs = sorted(report.pairs, key=lambda p: (SEVERITY.get(p.status, 0), p.key))
    kinds = sorted(report.deliveries, key=lambda k: str(w.kind_name(k.kind)).casefold())
    return env.get_template("page.html.j2").render(
        r=report, lang=lang, css=css(), month_rows=rows, pairs=pairs, kinds=kinds, as_of=as_of,
        droop_factor=report.droop_factor, closes_on=report.evaluation_closes.astimezone(
            ZoneInfo(report.programme.timezone)).date() if report.evaluation_closes else as_of)


def render_admin(programmes: list, lang: str, base: str = "/admin") -> str:
    lang = language(lang)
    other = next(code for code in LANGUAGES if code != lang)
    return environment(lang).get_template("admin.html.j2").render(
        programmes=programmes, lang=lang, other_lang=other, base=base, css=css())

