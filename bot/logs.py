"""What reaches the log: set up once by `app.py` for every command.

Nothing a person wrote (notes, agendas, answers, request bodies) may reach it, at any level:
- the bot's own loggers (bot, conversations, storage, mentor) log at LOG_LEVEL; libraries only at
  WARNING and above, whatever LOG_LEVEL says (below it they quote SQL, HTTP and Slack bodies);
- Slack's libraries quote whole requests even at WARNING (an unhandled request, a refused
  signature), so what they say is withheld: their line keeps the logger, level and error type;
- every record is one line: its text is rendered once and line breaks and other control
  characters are escaped, so text from a request can never start a line of its own;
- an error is logged with its type and where it happened, never its message (a ValueError can
  quote what someone typed);
- the access log names the route (never the path as sent, nor the query string), the status,
  size and time, and no header.
"""
from __future__ import annotations

import logging
import re
import traceback
from pathlib import Path

from aiohttp.abc import AbstractAccessLogger

ROOT = f"{Path(__file__).resolve().parents[1]}/"  # the checkout: paths in it are named from here
OWN = ("bot", "conversations", "storage", "mentor")
QUOTING = ("slack_bolt", "slack_sdk")  # libraries that log request and response bodies
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FRAMES = 6  # innermost frames named for an error
# C0 and C1 controls, Unicode line and paragraph separators, and the invisible or
# direction-changing marks that can make a line read as something else.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LIBRARY = re.compile(r".*/(site-packages|dist-packages|lib/python3\.\d+)/")


def escape(text: str) -> str:
    """`text` on one line, each control character written as an escape (`\\n`, `\\x1b`, `\\u202e`)."""
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _quoting(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in QUOTING)


def error_summary(error: BaseException) -> str:
    """`KeyError at bot/slack/app.py:85 in events < …`: types and places, never messages."""
    parts = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = traceback.extract_tb(error.__traceback__)[-FRAMES:]
        where = " < ".join(f"{_short_path(f.filename)}:{f.lineno} in {f.name}"
                           for f in reversed(frames))
        parts.append(f"{type(error).__name__} at {where}" if where else type(error).__name__)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return "; from ".join(parts) + " (message withheld)"


def _short_path(path: str) -> str:
    library = _LIBRARY.search(path)
    if library:
        return path[library.end():]
    return path.removeprefix(ROOT)


class OneLine(logging.Filter):
    """Rewrites each record before any handler formats it (see the module's docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _quoting(record.name):
            if record.levelno < logging.WARNING:
                return False
            text = "withheld (this library can quote a request or a reply)"
        else:
            try:
                text = record.getMessage()
            except (TypeError, ValueError, KeyError):  # a bad format must not lose the record
                text = f"(a message that could not be rendered, from {record.module})"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{error_summary(record.exc_info[1])}]"
        if record.stack_info:
            text += " [stack withheld]"
        record.msg, record.args = escape(text), None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def configure(level: str = "INFO") -> None:
    """The one log set-up: stderr, one line per record, LOG_LEVEL for the bot's own loggers."""
    chosen = logging.getLevelName((level or "INFO").upper())
    unknown = not isinstance(chosen, int)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(OneLine())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OWN + ("aiohttp.access",):
        logging.getLogger(name).setLevel(logging.INFO if unknown else chosen)
    # A beat skipped while the last one still runs is by design (max_instances=1); the beat
    # logs its own failures (bot/web.py).
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    if unknown:
        logging.getLogger("mentor").warning("LOG_LEVEL=%s is not a level; using INFO", level)


class AccessLog(AbstractAccessLogger):
    """One line per request: method, route, status, size, seconds (`web.run_app`'s access log)."""

    def log(self, request, response, time: float) -> None:
        match = getattr(request, "match_info", None)
        route = getattr(match, "route", None)
        resource = getattr(route, "resource", None)
        name = resource.canonical if resource is not None else "(no route)"
        self.logger.info("%s %s %s %s %.3fs", request.method, name, response.status,
                         response.body_length, time)
