"""Teams adapter, rendering: a neutral message as a Teams activity (markdown or Adaptive Card).

Template text uses a small Markdown subset (`*bold*`, `_italic_`, lists); user text inside it
(marked by the engine) is escaped so Teams shows it literally: never a mention, link or card
element. Cards are built as dicts and serialised by the HTTP client, never by concatenation.
"""
from __future__ import annotations

import json
import math
import re
from copy import deepcopy

from conversations.messages import Form, FormField, Message
from conversations.texts import spans, strip_markers

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_ACTIVITY = 80 * 1024  # Teams refuses a message of about 100 KB counted as UTF-16: a margin
CARD_VERSION = "1.5"  # what Teams renders for bots; tests/schemas holds its schema
_HOLE = "\ue002{}\ue003"
_HOLES = re.compile("\ue002(\\d+)\ue003")
_BOLD = re.compile(r"(?<![\w*\\])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_LIST_ITEM = re.compile(r"^\s*(?:[-•*+]|\d{1,3}[.)])\s+")
_MARKDOWN = re.compile(r"([\\`*_~#\[\]()|!{}])")
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+(?=\.))", re.MULTILINE)  # lists, headings


def escape(text: str) -> str:
    """User text for Teams markdown: HTML characters as entities, markdown characters escaped.

    A line break the person typed stays a line break (Teams would join single newlines).
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _LINE_START.sub(lambda m: m.group(1) + (
        m.group(2) + "\\" if m.group(2).isdigit() else "\\" + m.group(2)), text)
    return re.sub(r"\s*\n\s*", "\n\n", text.replace("\r\n", "\n").strip("\n"))


def plain(text: str) -> str:
    """For fields Teams shows as plain text (button titles, input labels)."""
    return strip_markers(text)


def blocks(text: str) -> list[tuple[str, bool]]:
    """Rendered text as Teams markdown blocks: (markdown, starts_a_paragraph).

    Template markup is translated (`*bold*` → `**bold**`); user spans are escaped after the
    translation, so nothing a person typed can become markup. A run of list items is one
    block; every other line is its own block, because Teams joins single newlines.
    """
    holes: list[str] = []
    template = []
    for is_user, chunk in spans(text):
        if is_user:
            template.append(_HOLE.format(len(holes)))
            holes.append(escape(chunk))
        else:
            template.append(chunk)
    source = _BOLD.sub(r"**\1**", "".join(template))
    result: list[tuple[str, bool]] = []
    for paragraph in re.split(r"\n\s*\n", source.strip()):
        first = True
        items: list[str] = []
        for line in paragraph.split("\n"):
            if _LIST_ITEM.match(line):
                items.append(line.strip())
                continue
            if items:
                result.append(("\n".join(items), first))
                items, first = [], False
            if line.strip():
                result.append((line.strip(), first))
                first = False
        if items:
            result.append(("\n".join(items), first))
    return [(_HOLES.sub(lambda m: holes[int(m.group(1))], md), new) for md, new in result]


def markdown(text: str) -> str:
    """Rendered text as one Teams markdown string (a message's `text`)."""
    return "\n\n".join(md for md, _ in blocks(text))


def activity_size(activity: dict) -> int:
    """An activity's size as Teams counts it: its JSON in UTF-16."""
    return len(json.dumps(activity, ensure_ascii=False).encode("utf-16-le"))


def fits(message: Message) -> bool:
    return activity_size(to_activity(message)) <= MAX_ACTIVITY


def to_activity(message: Message) -> dict:
    """The activity body for a message: markdown text, or an Adaptive Card for buttons/forms.

    A file is not part of it: Teams takes files by consent card or link (bot/teams/files.py).
    """
    activity: dict = {"type": "message", "textFormat": "markdown"}
    attachments = []
    if message.buttons or message.form is not None:
        activity["summary"] = _summary(message.text)
        attachments.append({"contentType": CARD_TYPE, "content": card(message)})
    else:
        text = markdown(message.text)
        if message.facts:
            text += "\n\n" + "\n".join(f"- **{escape(plain(k))}**: {_inline(v)}"
                                       for k, v in message.facts)
        activity["text"] = text
    if attachments:
        activity["attachments"] = attachments
    return activity


def card(message: Message) -> dict:
    body: list[dict] = []
    for md, new_paragraph in blocks(message.text):
        body.append(_text_block(md, spacing="Medium" if new_paragraph and body else "Small"))
    if message.facts:
        body.append({"type": "FactSet", "facts": [
            {"title": plain(k), "value": _inline(v)} for k, v in message.facts]})
    actions = [_submit(b.label, b.action_id, b.value, primary=b.style == "primary")
               for b in message.buttons]
    if message.form is not None:
        body.extend(_form_body(message.form))
        actions.append(_submit(message.form.submit_label, message.form.action_id,
                               message.form.value, primary=True))
    return {"type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION, "body": body, "actions": actions}


def answered(content: dict | None, label: str) -> dict:
    """The card after a submit: same text, no inputs or actions, and a short ✓ line."""
    body = [] if content is None else [
        deepcopy(element) for element in content.get("body", [])
        if not str(element.get("type", "")).startswith("Input.")
        and not element.get("id", "").startswith("form-")]
    body.append(_text_block(f"✓ {escape(label)}".strip(), spacing="Medium", weight="Bolder"))
    return {"type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION, "body": body, "actions": []}


def submit_label(content: dict | None, action_id: str, value: str) -> str:
    """The title of the action that was pressed, read from the card we sent."""
    for action in (content or {}).get("actions", []):
        data = action.get("data") or {}
        if data.get("action") == action_id and data.get("value", "") == value:
            return str(action.get("title", ""))
    return ""


def _submit(label: str, action_id: str, value: str, primary: bool = False) -> dict:
    action = {"type": "Action.Submit", "title": plain(label),
              "data": {"action": action_id, "value": value}}
    if primary:
        action["style"] = "positive"
    return action


def _form_body(form: Form) -> list[dict]:
    elements: list[dict] = [_text_block(markdown(form.title), spacing="Medium", weight="Bolder")]
    elements[0]["id"] = "form-title"
    for field in form.fields:
        elements.append(_input(field))
    return elements


_INPUT_TYPES = {"date": "Input.Date", "time": "Input.Time", "number": "Input.Number",
                "choice": "Input.ChoiceSet"}


def _input(field: FormField) -> dict:
    element: dict = {"type": _INPUT_TYPES.get(field.kind, "Input.Text"), "id": field.name,
                     "label": plain(field.label), "isRequired": field.required}
    if field.kind == "multiline":
        element["isMultiline"] = True
    if field.kind == "number":
        element["min"] = 0
    if field.kind == "choice":
        element["choices"] = [{"title": plain(label), "value": value}
                              for value, label in field.choices]
        element["style"] = "expanded"
    if field.required:
        element["errorMessage"] = plain(field.error or field.label)
    if field.initial and field.kind == "number":
        number = _number(field.initial)
        if number is not None:
            element["value"] = number
    elif field.initial:
        element["value"] = plain(field.initial)
    return element


def _number(text: str) -> int | float | None:
    """An Input.Number's value is a JSON number, never a string."""
    try:
        value = float(plain(text).strip())
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def _text_block(md: str, spacing: str = "Default", weight: str = "") -> dict:
    block = {"type": "TextBlock", "text": md, "wrap": True, "spacing": spacing}
    if weight:
        block["weight"] = weight
    return block


def _inline(text: str) -> str:
    return " ".join(md for md, _ in blocks(text))


def _summary(text: str) -> str:
    """The notification preview of a card: the first line, as plain text."""
    first = _BOLD.sub(r"\1", plain(text)).strip().split("\n", 1)[0]
    return first[:120]

