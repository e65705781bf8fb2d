"""Console adapter, rendering: a neutral message as plain terminal text."""
from __future__ import annotations

from conversations.messages import Button, Message
from conversations.texts import spans


def render(message: Message, first_button: int = 1) -> str:
    text = "".join(chunk for _, chunk in spans(message.text))
    lines = [text]
    for label, value in message.facts:
        lines.append(f"  {label}: {value}")
    if message.buttons:
        lines.append("  " + "   ".join(f"[#{i}] {b.label}" for i, b in
                                        enumerate(message.buttons, first_button)))
    if message.form is not None:
        fields = ", ".join(f.label for f in message.form.fields)
        lines.append(f"  ({message.form.title}: {fields})")
    return "\n".join(lines)


def numbered(buttons: list[Button]) -> list[Button]:
    return list(buttons)
