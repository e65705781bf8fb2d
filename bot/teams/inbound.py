"""Teams adapter, inbound: a Bot Framework activity (plain JSON) as a neutral event.

Works on the activity's JSON rather than botbuilder's classes, so the translation survives a
move to the SDK's successor unchanged.
"""
from __future__ import annotations

import json
import re
from datetime import datetime

from conversations.messages import ActionInvoked, ConversationRef, TextReceived

PLATFORM = "teams"
MAX_VALUES = 20  # form inputs taken from one card submit
MAX_DEPTH = 32  # real activities nest a handful of levels
# The longest each id may be: what the conversation reference and the processed-event key
# ("teams:<activity id>:<member id>", 200 characters) can hold.
ID_LIMITS = {"id": 64, "replyToId": 64, "serviceUrl": 400, "conversation.id": 400,
             "conversation.tenantId": 200, "channelData.tenant.id": 200}
ACCOUNT_ID_LIMIT = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse(raw: bytes) -> dict | None:
    """The activity in a request body, or None for anything that is not one we could handle:
    not JSON, nested deeper than any activity, NUL characters, ids that are not plain text."""
    try:
        activity = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not _looks_like_an_activity(activity) or not _shallow_and_without_nul(activity):
        return None
    ids = [(_path(activity, name), limit) for name, limit in ID_LIMITS.items()]
    accounts = [activity.get("from") or {}, activity.get("recipient") or {},
                *(activity.get("membersAdded") or [])]
    for account in accounts:
        if not isinstance(account, dict):
            return None
        ids += [(account.get("id"), ACCOUNT_ID_LIMIT), (account.get("aadObjectId"),
                                                        ACCOUNT_ID_LIMIT)]
    if not all(_plain_id(value, limit) for value, limit in ids):
        return None
    return activity


def _looks_like_an_activity(activity: object) -> bool:
    if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
        return False
    return all(isinstance(activity.get(key) or {}, dict)
               for key in ("from", "recipient", "conversation", "channelData")) \
        and isinstance(activity.get("membersAdded") or [], list) \
        and isinstance(activity.get("entities") or [], list) \
        and isinstance(activity.get("text") or "", str) \
        and isinstance((activity.get("channelData") or {}).get("tenant") or {}, dict)


def _shallow_and_without_nul(activity: dict) -> bool:
    """No level deeper than MAX_DEPTH and no NUL in any key or text (PostgreSQL refuses NUL)."""
    pending: list[tuple[object, int]] = [(activity, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return False
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return False
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    return False
                pending.append((item, depth + 1))
    return True


def _path(activity: dict, dotted: str) -> object:
    value: object = activity
    for name in dotted.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _plain_id(value: object, limit: int) -> bool:
    if value is None or value == "":
        return True
    return isinstance(value, str) and len(value) <= limit and not _CONTROL.search(value)


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
                           service_url=str(activity.get("serviceUrl", "")),
                           locale=str(activity.get("locale") or "")[:20])


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
    if is_card_submit(activity):
        value = activity["value"]
        values = {str(k): _text(v) for k, v in list(value.items())[:MAX_VALUES]
                  if k not in ("action", "value")}
        return ActionInvoked(ref, value["action"], _text(value.get("value")), at, values)
    return TextReceived(ref, text_of(activity), at)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
