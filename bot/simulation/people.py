"""Simulated participants: how each kind of pair reacts to the bot's prompts.

They talk to the real engine through its neutral inbound events, like any adapter's users:
a steady pair meets on cadence, a fading pair stops after three months, one group member
abandons the evaluation halfway.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conversations.engine import Engine
from conversations.messages import ActionInvoked, ConversationRef, Message, TextReceived

FADES_AFTER = timedelta(days=92)
TEXT_ANSWERS = {
    "en": ["Listening before answering", "To ask for feedback earlier",
           "Book a coffee with my line manager", "It helped me see my own pattern"],
    "da": ["At lytte, før jeg svarer", "At bede om feedback tidligere",
           "Tage en kaffe med min leder", "Det hjalp mig at se mit eget mønster"],
}


@dataclass
class Persona:
    email: str
    role: str
    lang: str
    zone: str
    style: str  # "steady", "fading", "abandons"
    programme_start: datetime
    programme_end: datetime
    pending: list[tuple[datetime, str]] = field(default_factory=list)
    answered: int = 0
    evaluation_answers: int = 0

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.zone))

    def active(self, now: datetime) -> bool:
        return self.style != "fading" or now < self.programme_start + FADES_AFTER


class Simulation:
    """Feeds each persona's reactions to the engine at plausible moments."""

    def __init__(self, engine: Engine, personas: dict[str, Persona],
                 dialog_open: Callable[[str], str | None]) -> None:
        self.engine = engine
        self.personas = personas
        self.dialog_open = dialog_open
        self.cadence = timedelta(weeks=4)

    def react(self, email: str, kind: str, message: Message, now: datetime) -> None:
        persona = self.personas.get(email)
        if persona is None or not persona.active(now):
            return
        later = now + timedelta(hours=2)
        if self.dialog_open(email):
            persona.pending.append((later, ANSWER_RATING if _rating(message) else ANSWER_TEXT))
        if kind == "meeting_proposed":  # a group's mentor books the time a mentee proposed
            choices = [b for b in message.buttons if b.action_id == "book_choice"]
            if choices:
                persona.pending.append((later, BOOK + choices[0].value))
        if persona.role != "mentee":
            return
        local = persona.local(now)
        if kind in ("first_meeting_chase", "meeting_nudge"):
            day = (local + timedelta(days=7 if kind == "first_meeting_chase" else 10)).date()
            persona.pending.append((later, f"next {day.isoformat()} 10:00"))
        elif kind == "agenda_reminder":
            persona.pending.append((later, "agenda 1) what I tried since last time 2) next step"))
        elif kind == "did_you_meet":
            held = local - timedelta(hours=2)
            persona.pending.append((later, f"log {held:%Y-%m-%d %H}:00 1h good talk"))
            booking = (local + self.cadence).date()
            if booking < persona.programme_end.date():  # pairs stop booking at the formal end
                persona.pending.append((later + timedelta(minutes=5),
                                        f"next {booking.isoformat()} 10:00"))

    def upcoming(self) -> list[datetime]:
        return [at for persona in self.personas.values() for at, _ in persona.pending]

    def act(self, now: datetime) -> None:
        for persona in self.personas.values():
            due = [p for p in persona.pending if p[0] <= now]
            persona.pending = [p for p in persona.pending if p[0] > now]
            for _, line in due:
                if not persona.active(now):
                    break
                if line.startswith(BOOK):
                    ref = ConversationRef("sim", persona.email, email=persona.email)
                    replies = self.engine.handle(ActionInvoked(
                        ref, "book_choice", line.removeprefix(BOOK), now)).messages
                    self._choose(persona, replies, now)
                elif line in (ANSWER_RATING, ANSWER_TEXT):
                    self._answer_dialog(persona, line == ANSWER_RATING, now)
                else:
                    self._choose(persona, self._send(persona, line, now), now)

    def _answer_dialog(self, persona: Persona, rating: bool, now: datetime) -> None:
        """Answer the open questionnaire one question at a time, as a person would."""
        for _ in range(25):
            if not self.dialog_open(persona.email):
                return
            form = self.dialog_open(persona.email)
            if persona.style == "abandons" and form == "evaluation":
                persona.evaluation_answers += 1
                if persona.evaluation_answers > 5:
                    return  # leaves the evaluation halfway; the reminder will come
            reply = self._send(persona, self._answer(persona, rating), now)
            persona.answered += 1
            if not reply:
                return
            rating = _rating(reply[-1])

    def _answer(self, persona: Persona, rating: bool) -> str:
        if rating:
            return {"steady": "4", "fading": "2", "abandons": "3"}[persona.style]
        options = TEXT_ANSWERS[persona.lang]
        return options[persona.answered % len(options)]

    def _choose(self, persona: Persona, replies: list[Message], now: datetime) -> None:
        """Asked to confirm a time outside someone's working hours, a pair picks the first of
        the times that suit everyone (or books anyway when there is none)."""
        choices = [b for m in replies for b in m.buttons if b.action_id == "book_choice"]
        if choices:
            choice = choices[1] if len(choices) > 1 else choices[0]
            ref = ConversationRef("sim", persona.email, email=persona.email)
            self.engine.handle(ActionInvoked(ref, choice.action_id, choice.value, now))

    def _send(self, persona: Persona, line: str, now: datetime) -> list[Message]:
        ref = ConversationRef("sim", persona.email, email=persona.email)
        return self.engine.handle(TextReceived(ref, line, now)).messages


ANSWER_RATING, ANSWER_TEXT, BOOK = "\x00rating", "\x00text", "\x00book:"


def _rating(message: Message) -> bool:
    return any(b.action_id == "answer" for b in message.buttons)
