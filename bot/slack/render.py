"""Slack adapter, rendering: a neutral `Message` as Block Kit (sections, actions, modals, home).

Template text is Slack mrkdwn already (`*bold*`, `_italic_`, backticks); it only needs `&<>`
escaped. User text (the spans marked by `conversations.texts`) is escaped *and* has its
formatting characters neutralised, so `<!channel>`, `<@U123>` and `*bold*` are shown, never obeyed.
"""
from __future__ import annotations

import json
import re

from conversations.messages import Button, Form, FormField, Message
from conversations.texts import spans

SECTION_LIMIT = 3000  # characters in one section's text
FALLBACK_LIMIT = 3000
MAX_BLOCKS = 50
ZWSP = "\u200b"
FORMATTING = "*_~`"
ACTIONS_PREFIX = "actions:"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_user(text: str) -> str:
    """Shown literally: no mention, no link, no bold. A zero-width space on each side of a
    formatting character keeps it from opening or closing a style (mrkdwn has no escape)."""
    text = escape(text)
    for char in FORMATTING:
        text = text.replace(char, f"{ZWSP}{char}{ZWSP}")
    return text


_LINK = re.compile(r"https?://[^\s<>|]+")


def mrkdwn(text: str) -> str:
    """Template text escaped, its web addresses (e.g. the console's sign-in link) made links
    (sections are `verbatim`, so Slack links nothing by itself); user text shown literally."""
    return "".join(escape_user(chunk) if is_user else _LINK.sub(r"<\g<0>>", escape(chunk))
                   for is_user, chunk in spans(text))


def plain(text: str) -> str:
    """For `plain_text` objects (labels, titles), which Slack never parses."""
    return "".join(chunk for _, chunk in spans(text))


def _mrkdwn_object(text: str) -> dict:
    """`verbatim`: Slack must not turn anything into a link or a mention on its own."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain_text(text: str, limit: int) -> dict:
    text = plain(text).strip() or "…"
    return {"type": "plain_text", "text": text if len(text) <= limit else text[:limit - 1] + "…",
            "emoji": True}


def _split(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Paragraph-sized pieces no longer than Slack's section limit."""
    pieces: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(paragraph) > limit:
            pieces.append(paragraph[:limit])
            paragraph = paragraph[limit:]
        current = paragraph
    if current:
        pieces.append(current)
    return pieces


def text_blocks(text: str) -> list[dict]:
    return [{"type": "section", "text": _mrkdwn_object(piece)}
            for piece in _split(mrkdwn(text)) if piece.strip()]


def fallback(message: Message) -> str:
    """The notification text (also mrkdwn, so also escaped)."""
    text = mrkdwn(message.text)
    return text if len(text) <= FALLBACK_LIMIT else text[:FALLBACK_LIMIT - 1] + "…"


def blocks(message: Message) -> list[dict]:
    """At most Slack's 50 blocks; when the text needs more, `overflow` carries all of it."""
    return _all_blocks(message)[:MAX_BLOCKS]


def overflow(message: Message) -> tuple[str, str, bytes] | None:
    """The whole text as a file, for a message longer than Slack's blocks can hold."""
    if len(_all_blocks(message)) <= MAX_BLOCKS:
        return None
    text = plain(message.text)
    if message.facts:
        text += "\n\n" + "\n".join(f"{plain(k)}: {plain(v)}" for k, v in message.facts)
    return ("message.txt", "text/plain", text.encode("utf-8"))


def _all_blocks(message: Message) -> list[dict]:
    result = text_blocks(message.text)
    facts = [_mrkdwn_object(f"*{mrkdwn(label)}*\n{mrkdwn(value)}"[:2000])
             for label, value in message.facts]
    for start in range(0, len(facts), 10):
        result.append({"type": "section", "fields": facts[start:start + 10]})
    result.extend(button_blocks(message.buttons))
    return result


def button_blocks(buttons: tuple[Button, ...]) -> list[dict]:
    """One actions block per group of buttons sharing a verb, so answering one group (the
    ratings) leaves the others ("Schedule next") in place. `action_id`s must be unique in a
    block: `answer:1`, `answer:2` … (the suffix is stripped inbound)."""
    groups: list[tuple[str, list[Button]]] = []
    for button in buttons:
        if groups and groups[-1][0] == button.action_id:
            groups[-1][1].append(button)
        else:
            groups.append((button.action_id, [button]))
    result = []
    for index, (action_id, group) in enumerate(groups):
        elements = []
        for n, button in enumerate(group, 1):
            element = {"type": "button", "text": _plain_text(button.label, 75),
                       "action_id": f"{action_id}:{n}"}
            if button.value:
                element["value"] = button.value[:2000]
            if button.style == "primary":
                element["style"] = "primary"
            elements.append(element)
        result.append({"type": "actions", "block_id": f"{ACTIONS_PREFIX}{index}:{action_id}",
                       "elements": elements[:25]})
    return result


def answered(original: list[dict], block_id: str, line: str) -> list[dict]:
    """The message's blocks with the pressed group of buttons replaced by a context line."""
    context = {"type": "context", "block_id": f"done:{block_id}"[:255],
               "elements": [_mrkdwn_object(mrkdwn(line))]}
    return [context if block.get("block_id") == block_id else block for block in original]


def modal(form: Form, intro: str, metadata: dict) -> dict:
    view_blocks = [{"type": "context", "elements": [_mrkdwn_object(piece)]}
                   for piece in _split(mrkdwn(intro), 2000)] if intro.strip() else []
    view_blocks += [_input(field) for field in form.fields]
    return {
        "type": "modal",
        "callback_id": form.action_id,
        "title": _plain_text(form.title, 24),
        "submit": _plain_text(form.submit_label, 24),
        "private_metadata": json.dumps({**metadata, "value": form.value}),
        "blocks": view_blocks[:100],
    }


def _input(field: FormField) -> dict:
    element: dict = {"action_id": field.name}
    if field.kind == "date":
        element["type"] = "datepicker"
        if field.initial:
            element["initial_date"] = field.initial
    elif field.kind == "time":
        element["type"] = "timepicker"
        if field.initial:
            element["initial_time"] = field.initial
    elif field.kind == "number":
        element.update(type="number_input", is_decimal_allowed=False, min_value="1")
        if field.initial:
            element["initial_value"] = field.initial
    elif field.kind == "choice" and field.choices:
        options = [{"text": _plain_text(label, 75), "value": value}
                   for value, label in field.choices]
        element.update(type="static_select", options=options[:100])
        initial = next((o for o in options if o["value"] == field.initial), None)
        if initial is not None:
            element["initial_option"] = initial
    else:
        element.update(type="plain_text_input", multiline=field.kind == "multiline")
        if field.initial:
            element["initial_value"] = field.initial
    return {"type": "input", "block_id": field.name, "label": _plain_text(field.label, 2000),
            "optional": not field.required, "element": element}


def context(text: str) -> dict:
    """A small grey line under a message (hints, "✓ You chose: 4")."""
    return {"type": "context", "elements": [_mrkdwn_object(mrkdwn(text))]}


def home(messages: list[Message], hint: str) -> dict:
    """The App Home tab: the status reply's text, then a hint how to talk to the bot."""
    view_blocks: list[dict] = []
    for message in messages:
        if view_blocks:
            view_blocks.append({"type": "divider"})
        view_blocks.extend(blocks(Message(message.text, facts=message.facts)))
    view_blocks.append(context(hint))
    return {"type": "home", "blocks": view_blocks[:100]}
