"""`app.py import`: check a programme file, store it in one transaction, report what changed.

The web console's import (bot/webconsole/importing.py) shares `problems_of` and `import_checked`:
a preview is the same import in a transaction that is rolled back, so what the preview shows is
what Apply does, and nothing changes before Apply."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlmodel import select

from conversations.programme import TIMELINE_SETTINGS, SettingProblem, check_timeline
from conversations.texts import Texts, strip_markers
from storage.console_access import end_sessions_of_former_managers
from storage.db import Database
from storage.roster import ImportSummary, RosterState, apply_programme, roster_state
from storage.roster_file import ProgrammeFile, read_programme
from storage.tables import Programme


def import_file(db: Database, path: Path, now: datetime, texts: Texts, out: TextIO,
                lang: str = "en", roster: Path | None = None) -> int:
    """0 when imported (or nothing changed), 1 when the file was rejected and nothing stored.

    `roster`: named by the person at the command line, so it may lie anywhere; the programme
    file's own `roster` setting must stay inside the programme file's folder."""
    parsed = read_programme(path, roster)
    problems = problems_of(parsed)
    if problems:
        print(problems_text(texts, lang, path.name, problems), file=out)
        return 1
    result = import_checked(db, parsed, now, apply=True)
    print(_plain(texts.render(lang, "cli/import_report", summary=result.summary,
                              warnings=parsed.warnings)), file=out)
    return 0


def problems_of(parsed: ProgrammeFile) -> list:
    """Every reason not to import, each with its line: the files' and the timeline's."""
    return [*parsed.problems, *timeline_problems(parsed)]


def problems_text(texts: Texts, lang: str, file: str, problems: list) -> str:
    return _plain(texts.render(lang, "cli/import_problems", file=file, problems=problems,
                               known=TIMELINE_SETTINGS))


@dataclass(frozen=True)
class PersonChange:
    """One person whose place in the programme an import changes: roles as (role, pair)."""

    name: str
    email: str
    before: tuple[tuple[str, str], ...] = ()
    after: tuple[tuple[str, str], ...] = ()

    @property
    def loses_console(self) -> bool:
        return any(r == "manager" for r, _ in self.before) and \
            not any(r == "manager" for r, _ in self.after)


@dataclass(frozen=True)
class ImportResult:
    """What an import of a checked file does (or did): counts, and who and which pairs."""

    summary: ImportSummary
    added: list[PersonChange] = field(default_factory=list)
    changed: list[PersonChange] = field(default_factory=list)
    removed: list[PersonChange] = field(default_factory=list)  # they lose access at once
    pairs_added: list[str] = field(default_factory=list)
    pairs_removed: list[str] = field(default_factory=list)

    @property
    def losing_console(self) -> list[PersonChange]:
        return [p for p in (*self.changed, *self.removed) if p.loses_console]


def import_checked(db: Database, parsed: ProgrammeFile, now: datetime, *,
                   apply: bool) -> ImportResult:
    """Import a file with no problems; with `apply` False, only say what it would change."""
    with db.unit() as session:
        before = roster_state(session, parsed.slug)
        summary = apply_programme(session, parsed, now)
        after = roster_state(session, parsed.slug)
        if apply:
            end_sessions_of_former_managers(session)
        else:
            session.rollback()
    return _compare(summary, before, after)


def _compare(summary: ImportSummary, before: RosterState, after: RosterState) -> ImportResult:
    def roles(state: RosterState, email: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((r, k) for e, r, k in state.roles if e == email))

    result = ImportResult(summary, pairs_added=sorted(after.pairs - before.pairs),
                          pairs_removed=sorted(before.pairs - after.pairs))
    for email in sorted(set(before.people) | set(after.people)):
        name = (after.people.get(email) or before.people[email])[0]
        change = PersonChange(name, email, roles(before, email), roles(after, email))
        if email not in before.people:
            result.added.append(change)
        elif email not in after.people:
            result.removed.append(change)
        elif change.before != change.after or before.people[email] != after.people[email]:
            result.changed.append(change)
    return result


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
