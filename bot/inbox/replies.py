"""The engine's reply as plain JSON, kept in the inbox row until it has been sent (bot layer).

Written in the engine's own unit of work: a worker that takes over a dead claim sends this
answer instead of running the command a second time.
"""
from __future__ import annotations

import base64
import json

from conversations.engine import Reply
from conversations.messages import Button, Form, FormField, Message


def encode(reply: Reply) -> str:
    return json.dumps({"person_id": reply.person_id,
                       "messages": [_message(m) for m in reply.messages]}, ensure_ascii=False)


def decode(text: str) -> Reply:
    data = json.loads(text)
    return Reply([_from_message(m) for m in data["messages"]], data.get("person_id"))


def _message(message: Message) -> dict:
    form = message.form
    return {
        "text": message.text, "facts": [list(f) for f in message.facts],
        "buttons": [[b.label, b.action_id, b.value, b.style] for b in message.buttons],
        "form": None if form is None else {
            "title": form.title, "action_id": form.action_id, "submit_label": form.submit_label,
            "value": form.value,
            "fields": [[f.name, f.label, f.kind, f.required, [list(c) for c in f.choices],
                        f.initial, f.error] for f in form.fields]},
        "ephemeral": message.ephemeral, "refused": message.refused,
        "attachment": None if message.attachment is None else [
            message.attachment[0], message.attachment[1],
            base64.b64encode(message.attachment[2]).decode("ascii")],
    }


def _from_message(data: dict) -> Message:
    form = data["form"]
    attachment = data["attachment"]
    return Message(
        text=data["text"], facts=tuple(tuple(f) for f in data["facts"]),
        buttons=tuple(Button(*b) for b in data["buttons"]),
        form=None if form is None else Form(
            title=form["title"], action_id=form["action_id"], submit_label=form["submit_label"],
            value=form["value"],
            fields=tuple(FormField(name, label, kind, required, tuple(tuple(c) for c in choices),
                                   initial, error)
                         for name, label, kind, required, choices, initial, error
                         in form["fields"])),
        ephemeral=data["ephemeral"], refused=data["refused"],
        attachment=None if attachment is None else (
            attachment[0], attachment[1], base64.b64decode(attachment[2])))
