"""Console adapter, delivery: a prompt for a person lands in their console inbox.

The outbox row itself is the inbox: it is marked sent on the `console` platform, and the
person's next console session shows it (and marks it read).
"""
from __future__ import annotations

import uuid

from conversations.messages import Message, SentRef
from conversations.outbox import Recipient


class ConsoleMessenger:
    platform = "console"

    async def send(self, recipient: Recipient, message: Message) -> SentRef:
        return SentRef(self.platform, uuid.uuid4().hex)
