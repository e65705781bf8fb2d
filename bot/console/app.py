"""Console adapter: a chat session in the terminal as one participant (also reads a pipe).

Lines starting with `:` talk to the console itself: `:advance 3d` moves a rehearsal clock,
`:as <email>` switches person, `:quit` ends. `#2` presses the second button shown.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TextIO

from bot.console.inbound import to_event
from bot.console.render import render
from conversations.clock import FakeClock
from conversations.compose import buttons_of_sent
from conversations.engine import Engine
from conversations.messages import Button, Message
from storage import outbox
from storage.db import Database
from storage.people import person_by_email

ADVANCE = re.compile(r"^:advance\s+(\d+)\s*([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ConsoleSession:
    def __init__(self, *, engine: Engine, db: Database, pump: Callable[[], Awaitable[object]],
                 email: str, out: TextIO = sys.stdout, attachments: Path = Path("out")) -> None:
        self.engine, self.db, self.pump = engine, db, pump
        self.email = email.strip().lower()
        self.out = out
        self.attachments = attachments
        self.buttons: list[Button] = []

    async def run(self, lines: Iterable[str], interactive: bool = False) -> None:
        await self.pump()
        self._show_inbox()
        for line in lines:
            line = line.rstrip("\n")
            if interactive is False:
                self._print(f"you> {line}")
            if not line.strip():
                continue
            if line.strip().startswith(":"):
                if not self._console_command(line.strip()):
                    return
            else:
                await self._say(line)
            await self.pump()
            self._show_inbox()

    async def _say(self, line: str) -> None:
        event = to_event(line, self.email, self.engine.clock.now(), self.buttons)
        if event is None:
            self._print("bot> There's no button with that number right now.")
            return
        reply = self.engine.handle(event)
        self.buttons = []
        for message in reply.messages:
            self._show(message)

    def _console_command(self, line: str) -> bool:
        if line in (":quit", ":q", ":exit"):
            return False
        match = ADVANCE.match(line)
        if match and isinstance(self.engine.clock, FakeClock):
            self.engine.clock.advance(**{UNITS[match.group(2)]: int(match.group(1))})
            self._print(f"(clock: {self.engine.clock.now():%Y-%m-%d %H:%M} UTC)")
        elif match:
            self._print("(:advance needs a rehearsal clock: start the console with --now)")
        elif line.startswith(":as "):
            self.email = line[4:].strip().lower()
            self._print(f"(you are now {self.email})")
        else:
            self._print("(console commands: :advance 3d, :as <email>, :quit)")
        return True

    def _show(self, message: Message, prefix: str = "bot> ") -> None:
        self._print(prefix + render(message, len(self.buttons) + 1).replace("\n", "\n     "))
        self.buttons.extend(message.buttons)
        if message.attachment is not None:
            name, _, content = message.attachment
            self.attachments.mkdir(parents=True, exist_ok=True)
            path = self.attachments / name
            path.write_bytes(content)
            self._print(f"     (attachment saved: {path})")

    def _show_inbox(self) -> None:
        with self.db.unit() as session:
            person = person_by_email(session, self.email)
            if person is None:
                return
            rows = outbox.unread_for(session, person.id, "console")
            now = self.engine.clock.now()
            outbox.mark_read(session, [r.id for r in rows], now)
            # The buttons the prompt carries in Slack or Teams, so `#1` or a typed yes works.
            shown = [(r.kind, Message(r.text, buttons=buttons_of_sent(
                session, r, self.engine.texts, now))) for r in rows]
        for kind, message in shown:
            self._show(message, f"bot ({kind})> ")

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)
