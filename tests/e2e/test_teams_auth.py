"""Teams with an app id: every request must carry a valid Bot Framework token, or it gets 401."""
from __future__ import annotations

import base64
import json

import pytest

from tests.fake_teams_connector import refuse_internet, serve_bot
from tests.helpers import import_programme, snapshot

JONAS = "jonas.berg@example.org"
APP = {"MICROSOFT_APP_ID": "00000000-0000-0000-0000-000000000001",
       "MICROSOFT_APP_PASSWORD": "x"}


def _unsigned_jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT', 'kid': 'k1'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.fixture
async def bot(sqlite_database, clock, monkeypatch):
    attempts = refuse_internet(monkeypatch)
    running = await serve_bot(sqlite_database, clock, env=APP)
    import_programme(running.services.db, now=clock.now())
    yield running
    await running.close()
    assert attempts == []  # no token fetch, no key download: refused before any outgoing call


@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer not-a-jwt",
    "Bearer aaa.bbb.ccc",
    "Basic dXNlcjpwYXNz",
    "Bearer " + _unsigned_jwt({"iss": "https://attacker.example", "aud": APP["MICROSOFT_APP_ID"]}),
])
async def test_requests_without_a_valid_token_are_refused(bot, authorization):
    before = snapshot(bot.services.db)
    activity = bot.teams.activity(bot.teams.user(JONAS), text="log today 07:00 45m goals")
    headers = {} if authorization is None else {"Authorization": authorization}

    status, calls = await bot.teams.post(activity, headers)

    assert status == 401
    assert calls == [] and bot.connector.lookups == []
    assert snapshot(bot.services.db) == before


async def test_the_banner_says_validation_is_on(bot):
    assert "Teams: live at /api/messages (app id 0000…, MultiTenant, token validation on)" \
        in bot.banner
