"""Teams adapter, inbound: a Bot Framework activity (plain JSON) as a neutral event.

Works on the activity's JSON rather than botbuilder's classes, so the translation survives a
move to the SDK's successor unchanged.
"""
from __future__ import annotations

from datetime import datetime

from conversations.messages import ActionInvoked, ConversationRef, TextReceived

PLATFORM = "teams"
MAX_VALUES = 20  # form inputs taken from one card submit


def user_id_of(account: dict) -> str:
    """The stable id of a Teams user: the AAD object id when Teams sends it."""
    return str(account.get("aadObjectId") or account.get("id") or "")


def tenant_of(activity: dict) -> str:
    conversation = activity.get("conversation") or {}
    tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get("id")
    return str(conversation.get("tenantId") or tenant or "")


def ref_for(activity: dict, user_id: str, email: str = "") -> ConversationRef:
    return ConversationRef(platform=PLATFORM, user_id=user_id, email=email.strip().lower(),
                           tenant_id=tenant_of(activity),
                           conversation_id=str((activity.get("conversation") or {}).get("id", "")),
                           service_url=str(activity.get("serviceUrl", "")))


def is_card_submit(activity: dict) -> bool:
    value = activity.get("value")
    return (activity.get("type") == "message" and isinstance(value, dict)
            and isinstance(value.get("action"), str))


def text_of(activity: dict) -> str:
    """The message text without the @mention of the bot (group chats put one in front)."""
    text = str(activity.get("text") or "")
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or []:
        if not isinstance(entity, dict) or entity.get("type") != "mention":
            continue
        if (entity.get("mentioned") or {}).get("id") == bot_id and entity.get("text"):
            text = text.replace(str(entity["text"]), " ")
    return text.strip()


def to_event(activity: dict, ref: ConversationRef, at: datetime
             ) -> TextReceived | ActionInvoked | None:
    """A typed message or a card submit; None for anything the engine has no use for."""
    if activity.get("type") != "message":
        return None
    event_id = str(activity.get("id") or "")
    if is_card_submit(activity):
        value = activity["value"]
        values = {str(k): _text(v) for k, v in list(value.items())[:MAX_VALUES]
                  if k not in ("action", "value")}
        return ActionInvoked(ref, value["action"], _text(value.get("value")), at, values,
                             event_id=event_id)
    return TextReceived(ref, text_of(activity), at, event_id=event_id)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
