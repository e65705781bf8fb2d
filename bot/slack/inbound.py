"""Slack adapter, inbound: slash commands, DMs, button presses and modal submits as neutral events.

A retried delivery never gets this far: the inbox stored the request under its platform id
and turns the retry away (bot/slack/listeners.py).
"""
from __future__ import annotations

import json
from datetime import datetime

from conversations.messages import ActionInvoked, ConversationRef, TextReceived

PLATFORM = "slack"


def unescape(text: str) -> str:
    """Slack sends `&`, `<`, `>` typed by a person as entities; the engine wants what they typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def ref_for(user_id: str, team_id: str, email: str = "", channel: str = "",
            locale: str = "") -> ConversationRef:
    """Only the bot's own DM channel is remembered (`D…`); a channel id is no place for prompts."""
    return ConversationRef(platform=PLATFORM, user_id=user_id, email=email.strip().lower(),
                           tenant_id=team_id,
                           conversation_id=channel if channel.startswith("D") else "",
                           locale=locale[:20])


def neutral_action_id(slack_action_id: str) -> str:
    """`answer:3` → `answer` (the suffix only keeps ids unique within a block)."""
    return slack_action_id.split(":", 1)[0]


def is_person_dm(event: dict) -> bool:
    """A person's own new message in the bot's DM: no edits, joins or bot messages."""
    return (event.get("type") == "message" and event.get("channel_type") == "im"
            and not event.get("subtype") and not event.get("bot_id") and bool(event.get("user")))


def team_of(body: dict) -> str:
    team = body.get("team")
    if isinstance(team, dict):
        return team.get("id", "")
    return body.get("team_id") or (body.get("user") or {}).get("team_id", "") or ""


def command_event(body: dict, ref: ConversationRef, at: datetime) -> TextReceived:
    return TextReceived(ref, unescape(body.get("text") or ""), at)


def message_event(body: dict, ref: ConversationRef, at: datetime) -> TextReceived:
    event = body["event"]
    return TextReceived(ref, unescape(event.get("text") or ""), at)


def action_event(body: dict, ref: ConversationRef, at: datetime) -> ActionInvoked:
    action = body["actions"][0]
    return ActionInvoked(ref, neutral_action_id(action.get("action_id", "")),
                         action.get("value", ""), at)


def view_event(body: dict, ref: ConversationRef, at: datetime) -> ActionInvoked:
    view = body["view"]
    metadata = view_metadata(view)
    values = form_values(view.get("state", {}).get("values", {}))
    return ActionInvoked(ref, view.get("callback_id", ""), metadata.get("value", ""), at,
                         values=values)


def view_metadata(view: dict) -> dict:
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


def form_values(state: dict) -> dict[str, str]:
    """Field name → text: dates as YYYY-MM-DD, times as HH:MM, numbers and text as typed."""
    values: dict[str, str] = {}
    for elements in state.values():
        for action_id, element in elements.items():
            kind = element.get("type")
            if kind == "datepicker":
                value = element.get("selected_date")
            elif kind == "timepicker":
                value = element.get("selected_time")
            elif kind in ("static_select", "radio_buttons"):
                value = (element.get("selected_option") or {}).get("value")
            else:
                value = element.get("value")
            values[action_id] = value or ""
    return values
