"""`app.py report`: a programme's health as a short summary, an HTML page and/or a CSV file."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.report.csv import render_csv
from bot.report.html import language, render_html
from conversations.health import programme_report, summary_values
from conversations.texts import Texts, strip_markers
from storage import report
from storage.db import Database


def run(db: Database, now: datetime, texts: Texts, out: TextIO, *, slug: str | None,
        html: Path | None, csv: Path | None, lang: str | None) -> int:
    """0 when reported; 1 when there is nothing to report on; 2 when the programme is unclear."""
    with db.unit() as session:
        known = report.programmes(session)
        say_lang = language(lang, known[0].language if len(known) == 1 else "en")

        def say(template: str, **values) -> None:
            print(strip_markers(texts.render(say_lang, template, **values)), file=out)

        choices = [f"{p.slug}  ({p.name})" for p in known]
        if not known:
            say("report/cli_none")
            return 1
        if slug:
            programme = report.programme_by_slug(session, slug)
            if programme is None:
                say("report/cli_unknown", slug=slug, choices=choices)
                return 2
        elif len(known) > 1:
            say("report/cli_choose", choices=choices)
            return 2
        else:
            programme = known[0]
        health = programme_report(session, programme, now)
    lang = language(lang, health.programme.language)
    for path, content in ((html, render_html(health, lang) if html else ""),
                          (csv, render_csv(health) if csv else "")):
        if path is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        # newline="" keeps the CSV's own CRLF line ends as they are.
        path.write_text(content, encoding="utf-8", newline="")
        print(strip_markers(texts.render(lang, "report/cli_written", path=str(path))), file=out)
    if html is None and csv is None:
        print(strip_markers(texts.render(lang, "report/summary", **summary_values(health))),
              file=out)
    return 0
