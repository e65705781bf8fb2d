"""Every Adaptive Card the bot can send is valid against the official schema of the version it
declares, and every activity fits in one Teams message.

The cards come from the engine itself: a whole programme year (every prompt kind, both
languages, answered by simulated pairs), then every verb, button and form in chat, in English
and again with everyone switched to Danish, including a manager's announcement. Each card is
validated as sent and as closed after an answer. The e2e suite's own cards are validated as
they reach the fake connector (tests/e2e/conftest.py).
"""
from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from sqlmodel import select

from app import build
from bot.simulation import run as simulation
from bot.teams.render import (
    CARD_TYPE,
    CARD_VERSION,
    MAX_ACTIVITY,
    activity_size,
    answered,
    card,
    to_activity,
)
from conversations.clock import FakeClock
from conversations.engine import Engine
from conversations.messages import Message
from storage.db import Database
from storage.tables import Person
from tests.conftest import START
from tests.fakes import RecordingMessenger
from tests.helpers import import_programme, press, say
from tests.schemas import card_errors

ROOT = Path(__file__).resolve().parents[2]
JONAS, GRACE, MAJA = "jonas.berg@example.org", "grace.okafor@example.org", \
    "maja.kruse@example.org"


def _chat(services, lang: str) -> None:
    """Every verb, button and form a participant and a manager can reach."""
    for line in ("help", "status", "log today 07:00 45m talked about goals", "log", "next",
                 "next friday 10:00", "agenda 1) goals 2) saying no", "reflect",
                 "snooze 2 weeks", "snooze off", "optout", "optin", "evaluate", "export",
                 "forget", "frobnicate", "log yesterday"):
        say(services, JONAS, line)
    for action, value, values in (
            ("open_log", "", {}), ("open_next", "", {}),
            ("log_submit", "", {"date": "2026-09-01", "time": "08:00", "minutes": "30",
                                "note": "fine"}),
            ("log_submit", "", {"date": "", "time": "", "minutes": "x"}),
            ("next_submit", "", {"date": "2026-09-20", "time": "10:00"}),
            ("snooze", "1w", {}), ("evaluate", "", {}), ("reflect", "", {}),
            ("did_meet", "yes", {})):
        press(services, JONAS, action, value, values)
    say(services, GRACE, "status")
    for line in ("help", "report", "followup", "announce",
                 "announce mentees next monday 14:00 Master class on feedback, room 2",
                 "announce status"):
        say(services, MAJA, line)
    press(services, MAJA, "announce_send")
    say(services, MAJA, "announce mentors in two weeks 10:00 Peer group for mentors")
    press(services, MAJA, "announce_cancel")


@pytest.fixture(scope="module")
def produced(tmp_path_factory) -> list[Message]:
    """Every message the engine produced: prompts, replies, forms, announcements."""
    messages: list[Message] = []
    real_handle, real_send = Engine.handle, simulation.SimMessenger.send

    def handle(self, event):
        reply = real_handle(self, event)
        messages.extend(reply.messages)
        return reply

    async def send(self, recipient, message):
        messages.append(message)
        return await real_send(self, recipient, message)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Engine, "handle", handle)
        patch.setattr(simulation.SimMessenger, "send", send)
        assert simulation.simulate(pairs=0, as_json=True, out=io.StringIO(),
                                   programme_file=ROOT / "examples" / "programme.toml") == 0
        for lang in ("en", "da"):
            db = Database(f"sqlite:///{tmp_path_factory.mktemp(lang)}/mentor.db")
            clock = FakeClock(START)
            recorder = RecordingMessenger()
            services = build(clock=clock, messenger=recorder, db=db, worker="cards")
            import_programme(db, now=clock.now())
            with db.unit() as session:
                for person in session.exec(select(Person)):
                    person.language = lang
                    session.add(person)
            _chat(services, lang)
            for _ in range(3):
                clock.advance(days=3)
                asyncio.run(services.pump())
            messages.extend(sent.message for sent in recorder.sent)
            db.dispose()
    return messages


def _cards(messages: list[Message]) -> dict[str, dict]:
    cards = {}
    for message in messages:
        for attachment in to_activity(message).get("attachments", []):
            if attachment["contentType"] == CARD_TYPE:
                content = attachment["content"]
                cards[json.dumps(content, sort_keys=True)] = content
                label = content["actions"][0]["title"] if content["actions"] else ""
                closed = answered(content, label)
                cards[json.dumps(closed, sort_keys=True)] = closed
    return cards


def test_every_card_is_valid_adaptive_card_1_5(produced, record_property):
    cards = _cards(produced)
    kinds = {element["type"] for c in cards.values() for element in c["body"]}
    languages = {"Log it", "Log mødet", "Book it", "Book mødet"} & {
        a["title"] for c in cards.values() for a in c["actions"]}
    # The suite reaches forms, facts, choices and both languages; else it proves too little.
    assert {"TextBlock", "Input.Date", "Input.Time", "Input.Number", "Input.Text"} <= kinds
    assert languages == {"Log it", "Log mødet", "Book it", "Book mødet"}
    assert len(cards) > 50
    problems = {key[:80]: errors for key, c in cards.items() if (errors := card_errors(c))}
    assert problems == {}
    assert all(c["version"] == CARD_VERSION == "1.5" for c in cards.values())
    record_property("cards_validated", len(cards))
    print(f"\n{len(cards)} distinct Adaptive Cards validated against schemas/1.5.0")


def test_required_inputs_say_what_is_missing_and_numbers_are_numbers(produced):
    inputs = [element for c in _cards(produced).values() for element in c["body"]
              if element["type"].startswith("Input.")]
    required = [i for i in inputs if i.get("isRequired")]
    assert required and all(i.get("errorMessage") for i in required)
    assert "Vælg en dato." in {i["errorMessage"] for i in required}
    numbers = [i for i in inputs if i["type"] == "Input.Number"]
    assert numbers and all(isinstance(i.get("value", 0), (int, float)) for i in numbers)


def test_every_activity_fits_in_one_teams_message(produced):
    sizes = [activity_size(to_activity(m)) for m in produced]
    assert max(sizes) <= MAX_ACTIVITY


def test_the_check_bites_on_what_was_wrong_before():
    """The old log form's input (a string in Input.Number, no errorMessage) is refused."""
    form = card(Message("x"))
    form["body"].append({"type": "Input.Number", "id": "minutes", "value": "60",
                         "isRequired": True, "label": "Minutes"})
    assert "body/1/value: '60' is not of type 'number'" in card_errors(form)
    form["body"][-1]["value"] = 60
    assert card_errors(form) == ["minutes: a required input without an errorMessage"]
    form["body"][-1]["errorMessage"] = "How many minutes?"
    assert card_errors(form) == []
    assert card_errors({**form, "body": [{"type": "TextBlock"}]}) == ["body/0: 'text' is a required property"]
