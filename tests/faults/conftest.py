"""The fault suite's figures and shared set-up: a table of what was tried and what came of it.

Every test adds its counts to one session-wide `Figures`; at the end of the run pytest prints
them as a table (and `make faults` finds it in out/faults.txt). A row per scenario:

    faults      faults injected (platform errors and refusals, kills, cut connections)
    inputs      inputs tried (fuzzed commands, presses, files; chat sent during faults)
    expected    prompts the outbox had to deliver (delivery rows)
    delivered   of those, sent
    duplicated  sent more than once to the platform
    ambiguous   rows with an attempt the bot itself counted as ambiguous (its answer was lost,
                or the process died holding it); duplicated must not exceed it, and the last
                column says what lost the duplicated rows' answers (see tests/faults/ledger.py)
    lost        neither sent nor recorded as failed/skipped with a reason, or "sent" but never
                seen at the platform (must be 0)
    failed      recorded as failed with the reason, after the last try
    skipped     recorded as skipped with the reason (stale, no longer on the roster ...)
"""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import POSTGRES, create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "out" / "faults.txt"
COLUMNS = ("faults", "inputs", "expected", "delivered", "duplicated", "ambiguous", "lost",
           "failed", "skipped")
HEADINGS = ("faults injected", "inputs tried", "messages expected", "delivered", "duplicated",
            "ambiguous", "lost", "failed (reason)", "skipped (reason)")
LIGHT_EXAMPLES = 150


def examples(heavy: bool) -> int:
    """Examples per fuzz property: modest in `make test`, FAULTS_EXAMPLES in `make faults`."""
    if not heavy:
        return LIGHT_EXAMPLES
    return int(os.environ.get("FAULTS_EXAMPLES", "500"))


BUDGETS = [pytest.param(False, id="light"),
           pytest.param(True, id="heavy", marks=pytest.mark.faults)]


@dataclass
class Row:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    why: Counter = field(default_factory=Counter)  # what caused the duplicates


class Figures:
    """What the fault tests tried and what came of it, one row per scenario."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.heavy = False  # a `faults`-marked test ran: write out/faults.txt

    def add(self, scenario: str, *, seconds: float = 0.0, note: str = "",
            why: Counter | None = None, **counts: int) -> None:
        row = self.rows.setdefault(scenario, Row())
        row.why.update(why or {})
        for name, value in counts.items():
            if name not in row.counts:
                raise KeyError(f"unknown figure {name!r}; one of {COLUMNS}")
            row.counts[name] += int(value)
        row.seconds += seconds
        if note and note not in row.notes:
            row.notes.append(note)

    def table(self) -> str:
        names = ["scenario", *HEADINGS, "seconds", "why duplicated"]
        lines = []
        totals = dict.fromkeys(COLUMNS, 0)
        seconds = 0.0
        for scenario, row in self.rows.items():
            why = ", ".join(f"{k} {n}" for k, n in row.why.most_common()) or "-"
            lines.append([scenario, *(str(row.counts[c]) for c in COLUMNS), f"{row.seconds:.0f}",
                          why])
            for c in COLUMNS:
                totals[c] += row.counts[c]
            seconds += row.seconds
        lines.append(["TOTAL", *(str(totals[c]) for c in COLUMNS), f"{seconds:.0f}", ""])
        widths = [max(len(names[i]), *(len(line[i]) for line in lines)) for i in range(len(names))]

        def fmt(cells):
            return "  ".join(c.ljust(w) if i in (0, len(cells) - 1) else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

        rule = "-" * len(fmt(names))
        out = [fmt(names), rule, *(fmt(line) for line in lines[:-1]), rule, fmt(lines[-1])]
        notes = [f"  {scenario}: {note}" for scenario, row in self.rows.items()
                 for note in row.notes]
        if notes:
            out += ["", "Notes:", *notes]
        return "\n".join(out)


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return _FIGURES


@pytest.fixture
def timed(figures):
    """`with timed("scenario"):` adds the seconds a block took to that scenario's row."""
    class Timer:
        def __init__(self, scenario: str) -> None:
            self.scenario = scenario

        def __enter__(self):
            self.started = time.monotonic()
            return self

        def __exit__(self, *exc) -> None:
            figures.add(self.scenario, seconds=time.monotonic() - self.started)

    return Timer


def pytest_runtest_setup(item) -> None:
    if item.get_closest_marker("faults") is not None:
        _FIGURES.heavy = True


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _FIGURES.rows:
        return
    table = _FIGURES.table()
    terminalreporter.write_sep("=", "fault suite: what was tried and what came of it")
    terminalreporter.write_line(table)
    if _FIGURES.heavy:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(table + "\n")
        terminalreporter.write_line(f"(also written to {OUT.relative_to(ROOT)})")


@pytest.fixture
def fresh_postgres():
    """A PostgreSQL database of its own (processes are killed while using it), dropped after."""
    if not POSTGRES:
        pytest.skip("PostgreSQL not reachable")
    url = create_database("mentor_faults")
    try:
        yield url
    finally:
        drop_database(url)


def roster(path: Path, pairs: int, *, zones: tuple[str, ...] = ("Europe/Copenhagen",),
           extra: str = "", name: str = "Fault Programme", starts: str = "2026-09-01",
           ends: str = "2027-06-30", prefix: str = "") -> Path:
    """A programme file with `pairs` generated pairs and one manager (like `simulate --pairs`)."""
    path.mkdir(parents=True, exist_ok=True)
    lines = ["email,name,role,pair,timezone,language",
             f"{prefix}manager@example.org,Pat {prefix or 'Manager'},manager,,Europe/Copenhagen,en"]
    for i in range(pairs):
        zone, lang = zones[i % len(zones)], "da" if i % 3 == 0 else "en"
        lines.append(f"{prefix}mentor{i}@example.org,Mentor{i} Nr{i},mentor,{prefix}pair-{i:05d},"
                     f"{zone},{lang}")
        lines.append(f"{prefix}mentee{i}@example.org,Mentee{i} Nr{i},mentee,{prefix}pair-{i:05d},"
                     f"{zone},{lang}")
    (path / "roster.csv").write_text("\n".join(lines) + "\n" + extra)
    (path / "programme.toml").write_text(
        f'name = "{name}"\nstarts = {starts}\nends = {ends}\ncadence_weeks = 4\n'
        'language = "en"\ntimezone = "Europe/Copenhagen"\nroster = "roster.csv"\n')
    return path / "programme.toml"
