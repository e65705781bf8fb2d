"""`app.py simulate` over the sample and over generated programmes with people in random time
zones: no prompt outside its reader's working hours (a partner's action relayed because the
meeting comes first is the one exception), no "tomorrow" that is not tomorrow for the reader,
no reminder after its meeting or event started."""
from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app import main
from conversations.catalog import KINDS
from conversations.programme import Settings
from conversations.texts import WEEKDAYS, spans
from conversations.working_hours import in_working_hours, next_working_moment
from storage.db import Database
from storage.tables import Delivery, Person, Programme

TOMORROW = re.compile(r"\b(?:tomorrow|i morgen), (\w+),")
TODAY = re.compile(r"\b(?:today at|i dag kl\.) (\d\d)[:.](\d\d)")
ON_WEEKDAY = re.compile(r"\b(?:on|på) (Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
                        r"|mandag|tirsdag|onsdag|torsdag|fredag|lørdag|søndag) (?:at|kl\.)")
PREPARING = ("agenda_reminder", "meeting_reminder")


def _weekday(name: str) -> int:
    for lang in ("en", "da"):
        names = [n.lower() for n in WEEKDAYS[lang].split()]
        if name.lower() in names:
            return names.index(name.lower())
    raise AssertionError(f"not a weekday: {name}")


def broken_rules(url: str) -> tuple[int, list[str]]:
    """How many prompts were sent, and every one that breaks a rule, with why."""
    db = Database(url)
    problems, count = [], 0
    with db.unit() as session:
        settings = {p.id: Settings.of(p) for p in session.exec(select(Programme))}
        rows = session.exec(select(Delivery, Person).join(Person, Person.id == Delivery.person_id)
                            .where(Delivery.status == "sent")).all()
    db.dispose()
    for row, person in rows:
        count += 1
        zone, s = person.timezone, settings[row.programme_id]
        sent = row.sent_at
        local = sent.astimezone(ZoneInfo(zone))
        text = "".join(chunk for _, chunk in spans(row.text))
        payload = json.loads(row.payload_json or "{}")
        at = datetime.fromisoformat(payload["at"]) if "at" in payload else None
        where = f"{row.kind} to {person.email} at {local:%a %Y-%m-%d %H:%M} {zone}"
        if not in_working_hours(sent, zone, s) and not KINDS[row.kind].transactional:
            sooner = KINDS[row.kind].relayed and at is not None \
                and at <= next_working_moment(sent, zone, s)
            if not sooner:
                problems.append(f"outside working hours: {where}")
        for match in TOMORROW.finditer(text):
            if _weekday(match.group(1)) != (local + timedelta(days=1)).weekday():
                problems.append(f"'tomorrow, {match.group(1)}' is not tomorrow: {where}")
        for match in ON_WEEKDAY.finditer(text):
            if at is not None and _weekday(match.group(1)) != at.astimezone(ZoneInfo(zone)).weekday():
                problems.append(f"'on {match.group(1)}' is not the meeting's day: {where}")
        if at is not None and TODAY.search(text) and at.astimezone(ZoneInfo(zone)).date() != \
                local.date():
            problems.append(f"'today' is not today: {where}")
        if "Tomorrow:" in text or "reminder for tomorrow" in text or "I morgen:" in text:
            problems.append(f"an unchecked 'tomorrow': {where}")
        if at is not None and sent >= at and (row.kind in PREPARING or payload.get("reminder")):
            problems.append(f"reminder after it started: {where}")
    return count, problems


def _simulate(tmp_path, *args: str) -> str:
    path = tmp_path / "simulation.db"
    with redirect_stdout(io.StringIO()):
        assert main(["simulate", "--keep-db", str(path), *args]) == 0
    return f"sqlite:///{path}"


def test_the_sample_programme_keeps_every_delivery_rule(tmp_path):
    count, problems = broken_rules(_simulate(tmp_path))
    assert count > 300 and problems == []


@pytest.mark.parametrize("seed", [7, 2026])
def test_generated_pairs_in_random_time_zones_keep_every_delivery_rule(tmp_path, seed):
    count, problems = broken_rules(_simulate(tmp_path, "--pairs", "3", "--seed", str(seed),
                                             "--months", "3"))
    assert count > 30 and problems == []
