"""Two programmes with different managers, for the web console's tests (aiohttp and browser)."""
from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestServer

from app import build
from bot.routing import RoutingMessenger
from bot.web import make_app
from bot.webconsole.auth import COOKIE, CSRF_FIELD
from tests.fakes import RecordingMessenger
from tests.helpers import SAMPLE, import_programme, say

MANAGER = "maja.kruse@example.org"  # manages the sample programme, Nordlys
OTHER_MANAGER = "ida.dahl@example.org"  # manages Fjord only
MENTEE = "jonas.berg@example.org"
SLUG = "nordlys-mentoring-2026-27"
OTHER_SLUG = "fjord-mentoring-2026"
LINK = re.compile(r"https?://\S+/console/in/[A-Za-z0-9_-]+")
CSRF = re.compile(rf'name="{CSRF_FIELD}" value="([0-9a-f]+)"')


def second_programme(folder: Path) -> Path:
    """Fjord: a small programme of its own, managed by Ida, who has no role in Nordlys."""
    (folder / "fjord.csv").write_text(
        "email,name,role,pair,timezone,language\n"
        f"{OTHER_MANAGER},Ida Dahl,manager,,Europe/Copenhagen,da\n"
        "kim.vang@example.org,Kim Vang,mentor,fjord-01,Europe/Copenhagen,da\n"
        "lea.moe@example.org,Lea Moe,mentee,fjord-01,Europe/Copenhagen,da\n", encoding="utf-8")
    toml = folder / "fjord.toml"
    toml.write_text('name = "Fjord Mentoring 2026"\nstarts = 2026-09-01\nends = 2027-05-31\n'
                    'cadence_weeks = 4\nlanguage = "da"\ntimezone = "Europe/Copenhagen"\n'
                    'roster = "fjord.csv"\n', encoding="utf-8")
    return toml


def two_programmes(db, folder: Path, now) -> None:
    import_programme(db, SAMPLE, now=now)
    import_programme(db, second_programme(folder), now=now)


def console_link(services, email: str = MANAGER, word: str = "console") -> str:
    """The sign-in link the bot answers `console` with, as the manager reads it."""
    replies = say(services, email, word)
    found = LINK.search("\n".join(replies))
    assert found, replies
    return found.group(0)


def services_with_two_programmes(db, clock, folder: Path):
    two_programmes(db, folder, clock.now())
    return build(clock=clock, messenger=RecordingMessenger(), db=db, worker="test")


async def serve(services, env: dict[str, str]) -> TestServer:
    """`serve`'s whole application on a free port of 127.0.0.1 (close it when done)."""
    app, _ = make_app(services, RoutingMessenger({}, None), {"HOST": "127.0.0.1", **env})
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


__all__ = ["COOKIE", "CSRF", "LINK", "MANAGER", "MENTEE", "OTHER_MANAGER", "OTHER_SLUG", "SLUG",
           "console_link", "second_programme", "serve", "services_with_two_programmes", "two_programmes"]
