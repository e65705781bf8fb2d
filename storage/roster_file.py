"""Read and check a programme definition (TOML) and its roster (CSV) before anything is stored.

Checking is separate from storing so a broken file imports nothing: every problem is collected
with its line number, and the caller stores only a file that has none.

Both files are read only when they are regular files of a sane size: the roster named in the
TOML must stay inside the TOML's folder (no `../`, no absolute path, no symlink out of it)
unless the person at the command line names it themselves, and a directory, a device or a
named pipe is refused before it is read.
"""
from __future__ import annotations

import csv
import io
import os
import re
import stat
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from storage.emails import email_problem, normal_email, shown

HEADER = ["email", "name", "role", "pair", "timezone", "language"]
ROLES = ("mentor", "mentee", "manager")
LANGUAGES = ("en", "da")
EMAIL = re.compile(r"^[^@\s<>,;\x00-\x1f\x7f]+@[^@\s<>,;\x00-\x1f\x7f]+\.[^@\s<>,;\x00-\x1f\x7f]+$")
MAX_MENTEES_PER_MENTOR = 5
MAX_NAME = 200
MAX_ROSTER_BYTES = 20 * 1024 * 1024
MAX_TOML_BYTES = 1024 * 1024
# Bidirectional embeddings, overrides, isolates and marks: they reorder how a name is shown.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F])


@dataclass(frozen=True)
class Problem:
    """A reason the file cannot be imported; `code` picks the sentence in the report template."""

    line: int
    code: str
    detail: str = ""


@dataclass(frozen=True)
class RosterRow:
    line: int
    email: str
    name: str
    role: str
    pair: str
    timezone: str
    language: str


@dataclass
class ProgrammeFile:
    slug: str
    name: str
    starts: date
    ends: date
    cadence_weeks: int
    language: str
    timezone: str
    settings: dict
    rows: list[RosterRow] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # "timeline.weekly_cap" → its line
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:120] or "programme"


class Unreadable(Exception):
    """A file that is not read at all; `code` picks the sentence."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Opened without blocking and checked on the open descriptor, so a named pipe cannot hang
    the import and nothing is swapped in between the check and the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise Unreadable("missing") from None
    except IsADirectoryError:
        raise Unreadable("not_a_file") from None
    except OSError:  # permissions, a dangling or looping symlink, a socket …
        raise Unreadable("not_readable") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("not_a_file")
        if info.st_size > limit:
            raise Unreadable("too_large")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise Unreadable("too_large")
    return data


def read_programme(path: Path, roster: Path | None = None) -> ProgrammeFile:
    """Parse both files; the result's `problems` is empty only when everything checks out.

    `roster`: a roster file the caller named explicitly (the command line's `--roster`), used
    instead of the TOML's `roster` setting and trusted wherever it lies.
    """
    try:
        data = read_limited(path, MAX_TOML_BYTES)
    except Unreadable as error:
        missing = error.code == "missing"
        return _refused(Problem(0, "file_missing" if missing else f"toml_{error.code}",
                                str(path) if missing else path.name))
    programme, raw = parse_programme(data)
    if programme.problems and not programme.slug:
        return programme
    if roster is None:
        name = raw.get("roster")
        if not isinstance(name, str) or not name:
            programme.problems.append(Problem(0, "field_missing", "roster"))
            return programme
        roster = _inside(path.parent, name)
        if roster is None:
            programme.problems.append(Problem(0, "roster_outside", name[:200]))
            return programme
    try:
        roster_data = read_limited(roster, MAX_ROSTER_BYTES)
    except Unreadable as error:
        programme.problems.append(Problem(0, f"roster_{error.code}", roster.name))
        return programme
    read_roster(roster_data, programme)
    return programme


def parse_programme(data: bytes) -> tuple[ProgrammeFile, dict]:
    """A programme file's settings from its bytes (the roster is read separately), and the raw
    TOML table; a programme with no slug when the file cannot be used at all."""
    try:
        text = data.decode("utf-8")
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        return _refused(Problem(0, "toml_invalid", str(error)[:200])), {}
    problems: list[Problem] = []
    programme = _programme_fields(raw, problems)
    if programme is None:
        return _refused(*problems), raw
    programme.lines = setting_lines(text)
    return programme, raw


def _refused(*problems: Problem) -> ProgrammeFile:
    return ProgrammeFile("", "", date.min, date.min, 4, "en", "UTC", {}, problems=[*problems])


def _inside(folder: Path, name: str) -> Path | None:
    """The roster's path when it resolves (symlinks followed) inside the TOML's folder."""
    if "\x00" in name:
        return None
    base = folder.resolve()
    target = (base / name).resolve()
    return target if target != base and target.is_relative_to(base) else None


def _programme_fields(raw: dict, problems: list[Problem]) -> ProgrammeFile | None:
    for name in ("name", "starts", "ends", "language", "timezone"):
        if name not in raw:
            problems.append(Problem(0, "field_missing", name))
    if problems:
        return None
    starts, ends = raw["starts"], raw["ends"]
    if not isinstance(starts, date) or not isinstance(ends, date):
        problems.append(Problem(0, "dates_invalid"))
        return None
    if ends <= starts:
        problems.append(Problem(0, "ends_before_starts"))
    cadence = raw.get("cadence_weeks", 4)
    if not isinstance(cadence, int) or not 1 <= cadence <= 12:
        problems.append(Problem(0, "cadence_invalid", str(cadence)))
    if raw["language"] not in LANGUAGES:
        problems.append(Problem(0, "language_invalid", str(raw["language"])))
    if not valid_timezone(raw["timezone"]):
        problems.append(Problem(0, "timezone_invalid", str(raw["timezone"])))
    name = str(raw["name"]).strip()[:MAX_NAME]
    # `timeline` is kept even when it is not a table, so that the import can say so.
    settings = {k: v for k, v in raw.items() if isinstance(v, dict) or k == "timeline"}
    return ProgrammeFile(
        slug=slugify(str(raw.get("slug") or name)),
        name=name,
        starts=starts,
        ends=ends,
        cadence_weeks=cadence if isinstance(cadence, int) else 4,
        language=str(raw["language"]),
        timezone=str(raw["timezone"]),
        settings=settings,
        problems=problems,
    )


_TABLE = re.compile(r"""^\s*\[\s*([\w-]+|"[^"]*")\s*\]""")
_KEY = re.compile(r"""^\s*([\w.-]+|"[^"]*"|'[^']*')\s*=""")


def setting_lines(text: str) -> dict[str, int]:
    """Where each key is set: "timeline.weekly_cap" → 14, so a refused setting is named with
    its line (tomllib keeps no positions). A heuristic: a key-like line inside a multi-line
    string could be misread, which costs only a line number in a message."""
    table, lines = "", {}
    for number, line in enumerate(text.splitlines(), 1):
        if match := _TABLE.match(line):
            table = match.group(1).strip('"')
            lines.setdefault(table, number)
        elif match := _KEY.match(line):
            key = match.group(1).strip("\"'")
            lines.setdefault(f"{table}.{key}" if table else key, number)
    return lines


_ZONES: set[str] = set()


def valid_timezone(name: object) -> bool:
    if not _ZONES:
        _ZONES.update(available_timezones())
    if not isinstance(name, str) or name not in _ZONES:
        return False
    ZoneInfo(name)
    return True


def read_roster(data: bytes, programme: ProgrammeFile) -> None:
    """Check a roster's bytes against the programme; rows and problems land on `programme`."""
    problems = programme.problems
    if len(data) > MAX_ROSTER_BYTES:
        problems.append(Problem(0, "roster_too_large", "roster"))
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.append(Problem(line, "not_utf8"))
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if [h.strip().lower() for h in header or []] != HEADER:
        problems.append(Problem(1, "header_invalid", ",".join(HEADER)))
        return
    seen: dict[tuple[str, str], int] = {}
    spelled: dict[str, tuple[str, int]] = {}  # normal address → (how it was written, line)
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            row = _check_row(line, cells, problems)
            if row is None:
                continue
            written = cells[0].strip().lower()
            first = spelled.setdefault(row.email, (written, line))
            if first[0] != written:  # two spellings, one address: which one is meant?
                problems.append(Problem(line, "email_duplicate",
                                        f"{shown(cells[0].strip())[:80]} {first[1]}"))
                continue
            key = (row.email, row.pair)
            if key in seen:
                problems.append(Problem(line, "duplicate_row", f"{row.email} {seen[key]}"))
                continue
            seen[key] = line
            programme.rows.append(row)
    except csv.Error:  # e.g. a field longer than the csv module's limit (128 KiB)
        problems.append(Problem(reader.line_num, "csv_invalid"))
        return
    _check_groups(programme)


def _check_row(line: int, cells: list[str], problems: list[Problem]) -> RosterRow | None:
    if len(cells) != len(HEADER):
        problems.append(Problem(line, "column_count", str(len(cells))))
        return None
    email, name, role, pair, zone, language = (c.strip() for c in cells)
    email = normal_email(email)
    name = clean_name(name)
    before = len(problems)
    if email_problem(email):
        problems.append(Problem(line, email_problem(email), shown(email)[:120]))
    elif not EMAIL.match(email) or len(email) > 254:
        problems.append(Problem(line, "email_invalid", email[:80]))
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        problems.append(Problem(line, "name_invalid"))
    if role not in ROLES:
        problems.append(Problem(line, "role_invalid", role[:40]))
    if role in ("mentor", "mentee") and not pair:
        problems.append(Problem(line, "pair_missing"))
    if len(pair) > 80 or any(ord(c) < 32 for c in pair):  # PostgreSQL refuses NUL
        problems.append(Problem(line, "pair_invalid"))
    if not valid_timezone(zone):
        problems.append(Problem(line, "timezone_invalid", zone[:60]))
    if language not in LANGUAGES:
        problems.append(Problem(line, "language_invalid", language[:20]))
    if len(problems) > before:
        return None
    return RosterRow(line, email, name, role, pair if role != "manager" else "", zone, language)


def clean_name(name: str) -> str:
    """Without direction controls (a name must not reorder the text around it), NFC."""
    return unicodedata.normalize("NFC", name.translate(BIDI_CONTROLS)).strip()


def _check_groups(programme: ProgrammeFile) -> None:
    groups: dict[str, list[RosterRow]] = {}
    for row in programme.rows:
        if row.role != "manager":
            groups.setdefault(row.pair, []).append(row)
    for key, rows in groups.items():
        mentors = [r for r in rows if r.role == "mentor"]
        mentees = [r for r in rows if r.role == "mentee"]
        first = rows[0].line
        if not mentors or not mentees:
            programme.problems.append(Problem(first, "pair_incomplete", key))
        elif len(mentors) > 2:
            programme.problems.append(Problem(first, "too_many_mentors", key))
        elif len(mentees) > MAX_MENTEES_PER_MENTOR * len(mentors):
            programme.warnings.append(Problem(first, "large_group", key))
        if {r.email for r in mentors} & {r.email for r in mentees}:
            programme.problems.append(Problem(first, "mentor_is_mentee", key))
