"""The neutral vocabulary between adapters and the engine: what comes in, what goes out.

Adapters translate platform payloads into `TextReceived` / `ActionInvoked` and render a
`Message` into Block Kit, Adaptive Cards or plain text. Nothing here knows a platform.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ConversationRef:
    """Where a person was talking to us from; stored as plain columns, refreshed on every event."""

    platform: str  # "console", "slack", "teams"
    user_id: str
    email: str = ""
    tenant_id: str = ""
    conversation_id: str = ""
    service_url: str = ""
    locale: str = ""  # the platform's language for the user ("da-DK"), for people not on a roster


@dataclass(frozen=True)
class TextReceived:
    ref: ConversationRef
    text: str
    at: datetime


@dataclass(frozen=True)
class ActionInvoked:
    """A button press or form submit: `action_id` names the verb, `values` are the form fields."""

    ref: ConversationRef
    action_id: str
    value: str
    at: datetime
    values: dict[str, str] = field(default_factory=dict)


InboundEvent = TextReceived | ActionInvoked


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str = ""
    style: str = ""  # "", "primary"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str = "text"  # "text", "multiline", "date", "time", "number", "choice"
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    initial: str = ""
    error: str = ""  # what a form shows when a required field is left empty


@dataclass(frozen=True)
class Form:
    """A small form (Slack modal, Adaptive Card inputs); submitting it invokes `action_id`."""

    title: str
    action_id: str
    submit_label: str
    fields: tuple[FormField, ...]
    value: str = ""


@dataclass(frozen=True)
class Message:
    """Text in a small Markdown subset (`*bold*`, `_italic_`, lists), facts, buttons, a form.

    `text` is already rendered from a template and has user text escaped by the engine's
    `plain()` marker, so each renderer escapes for its own platform.
    """

    text: str
    facts: tuple[tuple[str, str], ...] = ()
    buttons: tuple[Button, ...] = ()
    form: Form | None = None
    ephemeral: bool = True
    attachment: tuple[str, str, bytes] | None = None  # (filename, mime type, content)
    refused: bool = False  # a friendly refusal: nothing was changed (a form can show it inline)


@dataclass(frozen=True)
class Outgoing:
    """A message for one person, reached through whatever identity the messenger picks."""

    person_id: int
    message: Message


@dataclass(frozen=True)
class SentRef:
    platform: str
    message_id: str
