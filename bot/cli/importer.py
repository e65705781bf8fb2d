"""`app.py import`: check a programme file, store it in one transaction, report what changed."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlmodel import select

from conversations.programme import TIMELINE_SETTINGS, SettingProblem, check_timeline
from conversations.texts import Texts, strip_markers
from storage.db import Database
from storage.roster import apply_programme
from storage.roster_file import ProgrammeFile, read_programme
from storage.tables import Programme


def import_file(db: Database, path: Path, now: datetime, texts: Texts, out: TextIO,
                lang: str = "en", roster: Path | None = None) -> int:
    """0 when imported (or nothing changed), 1 when the file was rejected and nothing stored.

    `roster`: named by the person at the command line, so it may lie anywhere; the programme
    file's own `roster` setting must stay inside the programme file's folder."""
    parsed = read_programme(path, roster)
    problems = [*parsed.problems, *timeline_problems(parsed)]
    if problems:
        print(_plain(texts.render(lang, "cli/import_problems", file=path.name,
                                  problems=problems, known=TIMELINE_SETTINGS)), file=out)
        return 1
    with db.unit() as session:
        summary = apply_programme(session, parsed, now)
    print(_plain(texts.render(lang, "cli/import_report", summary=summary,
                              warnings=parsed.warnings)), file=out)
    return 0


@dataclass(frozen=True)
class SettingLine:
    """A refused `[timeline]` setting, placed on its line of the programme file."""

    line: int
    setting: SettingProblem
    code: str = "timeline"
    detail: str = ""


def timeline_problems(parsed: ProgrammeFile) -> list[SettingLine]:
    """Every `[timeline]` setting is checked by the rule that reads it (name, type, range), so
    a value the engine could not use is refused here, not in every tick after the import."""
    if "timeline" not in parsed.settings:
        return []
    _, problems = check_timeline(parsed.settings["timeline"])
    table = parsed.lines.get("timeline", 0)
    return [SettingLine(parsed.lines.get(f"timeline.{p.name}", table), p) for p in problems]


def has_programmes(db: Database) -> bool:
    with db.unit() as session:
        return session.exec(select(Programme.id).limit(1)).first() is not None


def _plain(text: str) -> str:
    return strip_markers(text)
