"""Console adapter, inbound: a typed line becomes a neutral event from the signed-in person."""
from __future__ import annotations

import re
from datetime import datetime

from conversations.messages import ActionInvoked, Button, ConversationRef, TextReceived

BUTTON = re.compile(r"^#(\d{1,2})$")


def ref_for(email: str) -> ConversationRef:
    return ConversationRef(platform="console", user_id=email.lower(), email=email.lower())


def to_event(line: str, email: str, at: datetime, buttons: list[Button]
             ) -> TextReceived | ActionInvoked | None:
    """`#2` presses the second button shown last; anything else is a command or an answer."""
    match = BUTTON.match(line.strip())
    if match:
        index = int(match.group(1)) - 1
        if 0 <= index < len(buttons):
            button = buttons[index]
            return ActionInvoked(ref_for(email), button.action_id, button.value, at)
        return None
    return TextReceived(ref_for(email), line, at)
