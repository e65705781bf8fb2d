"""Hand-written fakes for tests: a messenger that records what it was asked to send."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from conversations.messages import Message, SentRef
from conversations.outbox import DeliveryFailed, Recipient
from conversations.texts import spans


def plain(text: str) -> str:
    return "".join(chunk for _, chunk in spans(text))


@dataclass
class Sent:
    email: str
    message: Message

    @property
    def text(self) -> str:
        return plain(self.message.text)


class RecordingMessenger:
    """Records every send; `failures[email]` makes that person's next sends raise."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.failures: dict[str, list[DeliveryFailed]] = {}
        self._ids = itertools.count(1)

    async def send(self, recipient: Recipient, message: Message) -> SentRef:
        if self.failures.get(recipient.email):
            raise self.failures[recipient.email].pop(0)
        self.sent.append(Sent(recipient.email, message))
        return SentRef("test", str(next(self._ids)))

    def texts_for(self, email: str) -> list[str]:
        return [s.text for s in self.sent if s.email == email]
