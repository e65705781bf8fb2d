"""Teams adapter, delivery: a neutral message into a person's Teams chat, replies and prompts alike.

Proactive prompts go to the conversation reference stored when the person installed the bot
or last wrote to it (service URL + conversation id); someone who has not is `not_installed`.
A file goes by consent card or one-time link, and a message too long for Teams as a file
(bot/teams/files.py): a send never fails for its size.
"""
from __future__ import annotations

from collections import OrderedDict

from bot.teams.connector import Connector
from bot.teams.files import TeamsFiles
from bot.teams.render import CARD_TYPE, to_activity
from conversations.messages import Message, SentRef
from conversations.outbox import Address, DeliveryFailed, Recipient

PLATFORM = "teams"


class SentCards:
    """The cards this process sent lately, so a submitted card can be shown again, closed.

    Teams cannot hand a card back to us. A card sent by another replica, or before a restart,
    is closed with the ✓ line only.
    """

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self._cards: OrderedDict[tuple[str, str], dict] = OrderedDict()

    def remember(self, conversation_id: str, activity_id: str, card: dict) -> None:
        key = (conversation_id, activity_id)
        self._cards[key] = card
        self._cards.move_to_end(key)
        while len(self._cards) > self.size:
            self._cards.popitem(last=False)

    def get(self, conversation_id: str, activity_id: str) -> dict | None:
        return self._cards.get((conversation_id, activity_id))


class TeamsMessenger:
    platform = PLATFORM

    def __init__(self, connector: Connector, cards: SentCards, files: TeamsFiles,
                 bot_id: str = "") -> None:
        self.connector = connector
        self.cards = cards
        self.files = files
        self.bot_id = bot_id

    async def send(self, recipient: Recipient, message: Message) -> SentRef:
        address = _teams_address(recipient)
        if address is None:
            raise DeliveryFailed("not_installed: has not opened a chat with the bot in Teams yet")
        addressing = {"conversation": {"id": address.conversation_id}}
        if self.bot_id:
            addressing["from"] = {"id": self.bot_id}
        activity_id = await self.post(address.service_url, address.conversation_id, message,
                                      addressing=addressing, person_id=recipient.person_id,
                                      personal=is_personal(address.conversation_id))
        return SentRef(PLATFORM, activity_id)

    async def post(self, service_url: str, conversation_id: str, message: Message, *,
                   reply_to: str = "", addressing: dict | None = None,
                   person_id: int | None = None, personal: bool = True) -> str:
        """Post one message (in two activities when it is too long and carries a file too);
        the id of the first, which holds the text and any card."""
        first = ""
        for part, files in await self.files.prepare(message, person_id, personal):
            activity = to_activity(part)
            if files:
                activity["attachments"] = activity.get("attachments", []) + files
            activity_id = await self.send_activity(service_url, conversation_id, activity,
                                                   reply_to=reply_to, addressing=addressing)
            first = first or activity_id
        return first

    async def send_activity(self, service_url: str, conversation_id: str, activity: dict, *,
                            reply_to: str = "", addressing: dict | None = None) -> str:
        activity = {**activity, **(addressing or {})}
        activity_id = await self.connector.send(service_url, conversation_id, activity, reply_to)
        for attachment in activity.get("attachments", []):
            if attachment["contentType"] == CARD_TYPE and activity_id:
                self.cards.remember(conversation_id, activity_id, attachment["content"])
        return activity_id

    async def replace_card(self, service_url: str, conversation_id: str, activity_id: str,
                           card: dict) -> None:
        await self.connector.update(service_url, conversation_id, activity_id, {
            "type": "message", "attachments": [{"contentType": CARD_TYPE, "content": card}]})
        self.cards.remember(conversation_id, activity_id, card)


def is_personal(conversation_id: str) -> bool:
    """Group chats and channels have `19:…` thread ids; a personal chat with the bot does not."""
    return not conversation_id.startswith("19:")


def _teams_address(recipient: Recipient) -> Address | None:
    for address in recipient.addresses:
        if address.platform == PLATFORM and address.conversation_id and address.service_url:
            return address
    return None
