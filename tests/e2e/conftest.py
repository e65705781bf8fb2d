"""End-to-end fixtures: nothing may leave this machine; the Teams bot served on 127.0.0.1."""
from __future__ import annotations

import pytest

from tests.fake_teams_connector import (
    card_problems,
    cards_checked,
    largest_activity,
    refuse_internet,
    serve_bot,
)
from tests.helpers import import_programme


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    attempts = refuse_internet(monkeypatch)
    yield
    assert attempts == []


@pytest.fixture(autouse=True)
def valid_cards():
    """Every Adaptive Card a test sends to the fake connector is valid against its schema."""
    card_problems.clear()
    yield
    assert card_problems == []


@pytest.fixture
async def bot(sqlite_database, clock):
    running = await serve_bot(sqlite_database, clock)
    import_programme(running.services.db, now=clock.now())
    yield running
    await running.close()


@pytest.fixture
async def bot_on_both(database, clock):
    running = await serve_bot(database, clock)
    import_programme(running.services.db, now=clock.now())
    yield running
    await running.close()


def pytest_terminal_summary(terminalreporter):
    """The figures issue 16 asks for: the largest activity and the cards checked on the way."""
    if cards_checked[0] or largest_activity[0]:
        terminalreporter.write_line(
            f"Teams: largest activity {largest_activity[0]:,} bytes as UTF-16 "
            f"({largest_activity[1][:40]!r}…); {cards_checked[0]} Adaptive Cards validated "
            "at the fake connector")
