"""Delivery routing: send each message through the platform the person last used with us."""
from __future__ import annotations

from datetime import datetime

from conversations.messages import Message, SentRef
from conversations.outbox import DeliveryFailed, Messenger, Recipient


class RoutingMessenger:
    """Picks the first of the recipient's addresses whose platform is live here.

    With `fallback` (the console inbox), people who never talked to the bot on a chat platform
    still get their prompts; without it they are reported unreachable (not installed).
    """

    def __init__(self, messengers: dict[str, Messenger], fallback: Messenger | None = None) -> None:
        self.messengers = messengers
        self.fallback = fallback

    async def send(self, recipient: Recipient, message: Message) -> SentRef:
        messenger = self._route(recipient)
        if messenger is None:
            raise DeliveryFailed("not_installed: has not opened a chat with the bot yet")
        return await messenger.send(recipient, message)

    async def find_sent(self, recipient: Recipient, keys: tuple[str, ...],
                        since: datetime) -> dict[str, SentRef]:
        """Which of these deliveries already reached the person, where the platform that
        `send` would use can tell (Slack can; Teams cannot: nothing is found)."""
        find = getattr(self._route(recipient), "find_sent", None)
        return await find(recipient, keys, since) if find is not None else {}

    def _route(self, recipient: Recipient) -> Messenger | None:
        for address in recipient.addresses:
            messenger = self.messengers.get(address.platform)
            if messenger is not None:
                return messenger
        return self.fallback
