"""Delivery routing: send each message through the platform the person last used with us."""
from __future__ import annotations

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
        for address in recipient.addresses:
            messenger = self.messengers.get(address.platform)
            if messenger is not None:
                return await messenger.send(recipient, message)
        if self.fallback is not None:
            return await self.fallback.send(recipient, message)
        raise DeliveryFailed("not_installed: has not opened a chat with the bot yet")
