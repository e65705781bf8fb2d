"""`app.py simulate`: a whole programme on a fake clock, every delivered prompt in time order.

The real engine, timeline and outbox run against a throw-away SQLite database; simulated
participants (bot/simulation/people.py) answer the prompts as real pairs would.
"""
from __future__ import annotations

import asyncio
import json
import random
import tempfile
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.cli.importer import import_file
from bot.simulation.people import Persona, Simulation
from conversations.clock import FakeClock
from conversations.messages import Message, SentRef
from conversations.outbox import Recipient
from conversations.texts import Texts, spans
from storage import answers, outbox
from storage.db import Database
from storage.people import person_by_email
from storage.roster_file import read_programme

STYLES = {0: "steady", 1: "steady", 2: "fading", 3: "abandons"}


class SimMessenger:
    """Delivers into memory; the simulation reads what each person last received."""

    def __init__(self) -> None:
        self.last: dict[str, Message] = {}
        self.count = 0

    async def send(self, recipient: Recipient, message: Message) -> SentRef:
        self.last[recipient.email] = message
        self.count += 1
        return SentRef("sim", str(self.count))


def simulate(*, pairs: int, as_json: bool, programme_file: Path, out: TextIO,
             step: timedelta = timedelta(days=1), keep_db: Path | None = None,
             seed: int | None = None, months: int | None = None) -> int:
    """`keep_db`: write the simulation's SQLite database there and keep it (for `report`).
    With generated pairs, `seed` puts every person in a random time zone (mentor and mentee
    apart) and `months` shortens the programme."""
    from app import build

    if keep_db is not None and keep_db.exists():
        print(f"Cannot simulate: {keep_db} already exists; remove it or choose another path.",
              file=out)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        if pairs:
            programme_file = _generated_programme(Path(folder), programme_file, pairs, seed,
                                                  months)
        parsed = read_programme(programme_file)
        if parsed.problems:
            print(f"Cannot simulate: {programme_file} has problems; run `app.py import` on it "
                  "to see them.", file=out)
            return 1
        zone = ZoneInfo(parsed.timezone)
        start = datetime.combine(parsed.starts, time(0, 0), zone) - timedelta(days=1)
        clock = FakeClock(start)
        messenger = SimMessenger()
        services = build(clock=clock, messenger=messenger,
                         db=Database(f"sqlite:///{keep_db or Path(folder) / 'simulation.db'}"))
        import_file(services.db, programme_file, clock.now(), Texts(), _Null())
        personas = _personas(parsed, start, datetime.combine(parsed.ends, time(0, 0), zone))
        simulation = Simulation(services.engine, personas,
                                lambda email: _open_form(services.db, email))
        end = datetime.combine(parsed.ends, time(0, 0), zone) + timedelta(weeks=10)
        printed = asyncio.run(_run(services, simulation, messenger, clock, end, step, as_json, out))
        services.db.dispose()
    if not as_json:
        print(f"\n{printed} messages delivered.", file=out)
    return 0


async def _run(services, simulation: Simulation, messenger: SimMessenger, clock: FakeClock,
               end: datetime, step: timedelta, as_json: bool, out: TextIO) -> int:
    """Jump from one moment something is due to the next; nothing happens in between."""
    since, seen = clock.now(), set()
    while clock.now() < end:
        await services.pump()
        with services.db.unit() as session:
            rows = [r for r in outbox.delivered_since(session, since) if r["id"] not in seen]
            upcoming = outbox.next_due_moment(session)
        since = clock.now()
        for row in rows:
            seen.add(row["id"])
            _print(row, as_json, out)
            message = messenger.last.get(row["email"])
            if message is not None:
                simulation.react(row["email"], row["kind"], message, clock.now())
        simulation.act(clock.now())
        moments = [clock.now() + step, *simulation.upcoming()]
        if upcoming is not None:
            moments.append(upcoming)
        clock.set(max(min(moments), clock.now() + timedelta(minutes=1)))
    return len(seen)


def _open_form(db: Database, email: str) -> str | None:
    with db.unit() as session:
        person = person_by_email(session, email)
        state = answers.dialog_of(session, person.id) if person else None
        return state.form if state else None


def _personas(parsed, start: datetime, end: datetime) -> dict[str, Persona]:
    pair_keys = sorted({r.pair for r in parsed.rows if r.pair})
    style_of = {key: STYLES.get(i % 10, "steady") for i, key in enumerate(pair_keys)}
    return {r.email: Persona(r.email, r.role, r.language, r.timezone, style_of[r.pair],
                             start + timedelta(days=1), end)
            for r in parsed.rows if r.pair}


def _print(row: dict, as_json: bool, out: TextIO) -> None:
    local = row["sent_at"].astimezone(ZoneInfo(row["timezone"]))
    text = "".join(chunk for _, chunk in spans(row["text"]))
    if as_json:
        print(json.dumps({"at": local.isoformat(), "recipient": row["email"], "role": row["role"],
                          "kind": row["kind"], "lang": row["lang"], "text": text},
                         ensure_ascii=False), file=out)
    else:
        first = text.splitlines()[0] if text else ""
        print(f"{local:%Y-%m-%d %a %H:%M %z}  {row['email']:<28} {row['kind']:<20} {first[:90]}",
              file=out)


ZONES = ("Europe/Copenhagen", "America/New_York", "Europe/London", "Asia/Singapore")
RANDOM_ZONES = ZONES + ("America/Chicago", "America/Los_Angeles", "Asia/Tokyo",
                        "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Auckland")


def _generated_programme(folder: Path, sample: Path, pairs: int, seed: int | None = None,
                         months: int | None = None) -> Path:
    """The sample's settings with N generated pairs in a few time zones and both languages."""
    chosen = random.Random(seed)
    lines = ["email,name,role,pair,timezone,language",
             "manager@example.org,Pat Manager,manager,,Europe/Copenhagen,en"]
    for i in range(pairs):
        zone, lang = ZONES[i % len(ZONES)], "da" if i % 3 == 0 else "en"
        mentor_zone = mentee_zone = zone
        if seed is not None:
            mentor_zone, mentee_zone = chosen.choice(RANDOM_ZONES), chosen.choice(RANDOM_ZONES)
        lines.append(f"mentor{i}@example.org,Mentor {i},mentor,pair-{i:05d},{mentor_zone},{lang}")
        lines.append(f"mentee{i}@example.org,Mentee {i},mentee,pair-{i:05d},{mentee_zone},{lang}")
    (folder / "roster.csv").write_text("\n".join(lines) + "\n")
    toml = sample.read_text()
    if months:
        parsed = read_programme(sample)
        ends = parsed.starts + timedelta(days=round(30.5 * months))
        toml = toml.replace(f"ends = {parsed.ends.isoformat()}", f"ends = {ends.isoformat()}")
    path = folder / "programme.toml"
    path.write_text(toml)
    return path


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


__all__ = ["simulate", "timezone"]
