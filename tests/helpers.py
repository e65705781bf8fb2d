"""Small helpers that keep tests reading like conversations."""
from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlmodel import SQLModel

from bot.cli.importer import import_file
from bot.console.inbound import ref_for
from conversations.messages import ActionInvoked, TextReceived
from conversations.texts import Texts
from tests.fakes import plain

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "programme.toml"


def import_programme(db, path: Path = SAMPLE, now: datetime | None = None) -> str:
    out = io.StringIO()
    code = import_file(db, path, now, Texts(), out)
    assert code == 0, out.getvalue()
    return out.getvalue()


def say(services, email: str, line: str) -> list[str]:
    """Send a line as `email` through the engine; the plain texts of the replies."""
    reply = services.engine.handle(TextReceived(ref_for(email), line, services.clock.now()))
    return [plain(m.text) for m in reply.messages]


def press(services, email: str, action_id: str, value: str = "", values=None) -> list[str]:
    event = ActionInvoked(ref_for(email), action_id, value, services.clock.now(), values or {})
    return [plain(m.text) for m in services.engine.handle(event).messages]


def snapshot(db) -> dict[str, list]:
    """Every row of every table, to prove a refused command changed nothing."""
    result = {}
    with db.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(text(f'SELECT * FROM "{table.name}"')).fetchall()
            result[table.name] = sorted(map(repr, rows))
    return result
