"""`app.py announce`: the same announcement as in chat, from the command line, with a preview.

It speaks the chat grammar to the engine as the manager (so the same checks apply), shows
the preview, and confirms only when told to (`--yes`) or when the person at the terminal agrees.
"""
from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import TextIO

from bot.console.inbound import ref_for
from bot.console.render import render
from conversations.engine import Engine
from conversations.messages import TextReceived


def announce(engine: Engine, *, manager: str, audience: str, text: str, event: str | None,
             send_at: str | None, yes: bool, out: TextIO,
             ask: Callable[[str], str] = input) -> int:
    words = ["announce"]
    if send_at:
        words += ["later", send_at]
    words += [audience] + ([event] if event else []) + [text]
    line = " ".join(words)
    preview = _say(engine, manager, line, out)
    if not any(b.action_id == "announce_send" for m in preview for b in m.buttons):
        return 1  # refused; the reply says why
    if not yes and ask("Send it? [y/N] ").strip().lower() not in ("y", "yes", "j", "ja"):
        _say(engine, manager, "announce cancel", out)
        return 1
    _say(engine, manager, "announce confirm", out)
    return 0


def _say(engine: Engine, manager: str, line: str, out: TextIO):
    reply = engine.handle(TextReceived(ref_for(manager), line, engine.clock.now()))
    for message in reply.messages:
        print(render(message), file=out)
    return reply.messages


__all__ = ["announce", "shlex"]
