"""A scripted console conversation for situation tests: people, a rehearsal clock, replies.

A `Room` is a throw-away programme (roster written as TOML + CSV and imported like a manager
would), the real engine, timeline and outbox, and the console adapter's rendering. Each person
speaks in their own time zone; `read()` says what reached them since last asked and when, in
their own local time. Every calendar invite that passes through (a reply or a relayed message)
is parsed with a real iCalendar parser and checked against RFC 5545/5546 as it goes.
"""
from __future__ import annotations

import asyncio
import io
import textwrap
from dataclasses import dataclass
from datetime import date, datetime, UTC
from pathlib import Path
from zoneinfo import ZoneInfo

from app import build
from bot.cli.importer import import_file
from bot.console.inbound import ref_for, to_event
from bot.console.messenger import ConsoleMessenger
from bot.console.render import render
from conversations.clock import FakeClock
from conversations.messages import ActionInvoked, Button, Message, SentRef
from conversations.texts import Texts, spans
from storage import outbox
from storage.people import person_by_email
from tests.situations.invites import check_invite

MEETING_KINDS = ("agenda_reminder", "meeting_reminder", "did_you_meet", "agenda",
                 "meeting_booked", "meeting_moved", "meeting_cancelled", "announcement")


@dataclass(frozen=True)
class Someone:
    key: str  # how the test names them: "anna"
    name: str
    role: str
    pair: str
    zone: str
    lang: str = "en"

    @property
    def email(self) -> str:
        return f"{self.key}@example.org"


class InviteCheckingMessenger(ConsoleMessenger):
    """The console's delivery (the outbox row is the inbox), keeping every invite it carries."""

    def __init__(self, invites: list) -> None:
        self.invites = invites
        self.last: dict[str, Message] = {}

    async def send(self, recipient, message: Message) -> SentRef:
        self.last[recipient.email] = message
        if message.attachment is not None:
            self.invites.append((recipient.email, check_invite(message.attachment)))
        return await super().send(recipient, message)


class Room:
    def __init__(self, db, folder: Path, people: list[Someone], *, starts: date, ends: date,
                 imported: datetime, timeline: str = "") -> None:
        self.db, self.people = db, {p.key: p for p in people}
        self.people["maja"] = Someone("maja", "Maja Kruse", "manager", "", "Europe/Copenhagen")
        self.clock = FakeClock(imported)
        self.invites: list = []
        roster = ["email,name,role,pair,timezone,language"] + [
            f"{p.email},{p.name},{p.role},{p.pair},{p.zone},{p.lang}" for p in self.people.values()]
        (folder / "roster.csv").write_text("\n".join(roster) + "\n")
        (folder / "programme.toml").write_text(textwrap.dedent(f"""\
            name = "Situations"
            starts = {starts.isoformat()}
            ends = {ends.isoformat()}
            cadence_weeks = 4
            language = "en"
            timezone = "Europe/Copenhagen"
            roster = "roster.csv"
            """) + timeline)
        out = io.StringIO()
        assert import_file(db, folder / "programme.toml", imported, Texts(), out) == 0, \
            out.getvalue()
        self.messenger = InviteCheckingMessenger(self.invites)
        self.services = build(clock=self.clock, messenger=self.messenger, db=db,
                              worker="situations")
        self.buttons: dict[str, list[Button]] = {}
        self.replies: dict[str, list[Message]] = {}

    # -- time ------------------------------------------------------------------------------
    def local(self, key: str) -> ZoneInfo:
        return ZoneInfo(self.people[key].zone)

    def moment(self, when: str, key: str) -> datetime:
        """'2026-12-10 10:00' in that person's zone."""
        return datetime.fromisoformat(when).replace(tzinfo=self.local(key))

    def run_until(self, when: str, key: str) -> None:
        """Let the bot work until that local moment, stopping at every moment something is
        due (as `serve` would, ticking often)."""
        until = self.moment(when, key).astimezone(UTC)
        asyncio.run(self._run(until))

    async def _run(self, until: datetime) -> None:
        while True:
            await self.services.pump()
            with self.db.unit() as session:
                upcoming = outbox.next_due_moment(session)
            now = self.clock.now()
            if upcoming is None or upcoming > until or upcoming <= now:
                if now >= until:
                    return
                self.clock.set(until if upcoming is None or upcoming > until or upcoming <= now
                               else upcoming)
                continue
            self.clock.set(upcoming)

    def warm_up(self, when: str, key: str) -> None:
        """Run the programme up to the situation's start and forget what was read before."""
        self.run_until(when, key)
        for person in self.people:
            self.read(person, kinds=None)

    # -- talking ---------------------------------------------------------------------------
    def say(self, key: str, line: str) -> str:
        """What the console prints for this line, buttons numbered from #1."""
        person = self.people[key]
        event = to_event(line, person.email, self.clock.now(), self.buttons.get(key, []))
        assert event is not None, f"no button {line} for {key}"
        reply = self.services.engine.handle(event)
        self.buttons[key], self.replies[key] = [], reply.messages
        shown = []
        for message in reply.messages:
            shown.append(render(message, len(self.buttons[key]) + 1))
            self.buttons[key].extend(message.buttons)
            if message.attachment is not None:
                self.invites.append((person.email, check_invite(message.attachment)))
        return "\n".join(shown)

    def press(self, key: str, action_id: str, value: str = "") -> Message:
        """A button or shortcut the console does not show (a Slack or Teams card's button)."""
        event = ActionInvoked(ref_for(self.people[key].email), action_id, value, self.clock.now())
        return self.services.engine.handle(event).messages[0]

    def tap(self, key: str, label: str) -> str:
        """Press a button of the last prompt this person received (a card in Slack or Teams)."""
        message = self.messenger.last[self.people[key].email]
        self.buttons[key] = [b for b in message.buttons if b.label == label]
        assert self.buttons[key], f"no {label!r} on {key}'s last prompt"
        return self.say(key, "#1")

    def read(self, key: str, kinds: tuple[str, ...] | None = MEETING_KINDS) -> list[str]:
        """What reached this person since last asked: 'Fri 11 Dec 16:00 kind: text', their
        local time. Other kinds of prompt (kick-off, pulse ...) are left out unless asked."""
        person = self.people[key]
        zone = self.local(key)
        with self.db.unit() as session:
            found = person_by_email(session, person.email)
            rows = outbox.unread_for(session, found.id, "console")
            outbox.mark_read(session, [r.id for r in rows], self.clock.now())
            seen = [(r.sent_at, r.kind, r.text) for r in rows]
        return [f"{at.astimezone(zone):%a %d %b %H:%M} {kind}: {_plain(text)}"
                for at, kind, text in seen if kinds is None or kind in kinds]

    def skipped(self, key: str) -> list[tuple[str, str]]:
        """(kind, reason) of this person's prompts that were skipped, in order."""
        from sqlmodel import select

        from storage.tables import Delivery

        with self.db.unit() as session:
            found = person_by_email(session, self.people[key].email)
            rows = session.exec(select(Delivery).where(Delivery.person_id == found.id,
                                                       Delivery.status == "skipped")
                                .order_by(Delivery.id)).all()
            return [(r.kind, r.last_error) for r in rows]


def _plain(text: str) -> str:
    return " ".join("".join(chunk for _, chunk in spans(text)).split())


def heads(lines: list[str], expected: list[str]) -> list[str]:
    """Each line cut to the length of the expected line at its place (the rest stays whole), so
    `assert heads(read, expected) == expected` compares beginnings and counts."""
    return [line[:len(want)] if i < len(expected) else line
            for i, (line, want) in enumerate(zip(lines, expected + [""] * len(lines)))]


def expect(lines: list[str], expected: list[str]) -> None:
    """The lines begin as expected, one for one."""
    assert heads(lines, expected) == expected
