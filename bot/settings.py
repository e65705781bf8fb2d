"""The process's configuration: every environment variable read once, here, and checked.

`app.py` builds one frozen `Settings` at start-up and passes it down; no other module reads
the environment. A value that cannot be used stops the process with a line naming the
variable (`PORT must be a whole number, not 'abc'`), instead of a traceback later.
The adapters still read their own variables from `env`, a read-only copy taken at the same
moment, so a platform keeps its variables to itself (bot/platform.py).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_DATABASE_URL = "sqlite:///mentor.db"
# The organizer of the bot's calendar invites; set BOT_EMAIL to an address of your own domain.
DEFAULT_BOT_EMAIL = "mentoring-bot@mentor-companion.invalid"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A variable holds a value the program cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    port: int = 3978
    host: str = "127.0.0.1"
    tick_seconds: float = 30.0
    log_level: str = "INFO"
    bot_email: str = DEFAULT_BOT_EMAIL
    clock_file: str = ""  # rehearsal time shared by processes (never in production)
    inbox_claim_seconds: float = 120.0
    engine_processes: int = -1  # -1: automatic (`turn_processes`)
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        source = dict(os.environ if environ is None else environ)
        return cls(
            database_url=_text(source, "DATABASE_URL") or DEFAULT_DATABASE_URL,
            port=_number(source, "PORT", 3978, int, low=0, high=65535),
            host=_text(source, "HOST") or "127.0.0.1",
            tick_seconds=_number(source, "TICK_SECONDS", 30.0, float, low=0.01),
            log_level=_choice(source, "LOG_LEVEL", "INFO", LOG_LEVELS),
            bot_email=_text(source, "BOT_EMAIL") or DEFAULT_BOT_EMAIL,
            clock_file=_text(source, "CLOCK_FILE"),
            inbox_claim_seconds=_number(source, "INBOX_CLAIM_SECONDS", 120.0, float, low=1),
            engine_processes=_number(source, "ENGINE_PROCESSES", -1, int, low=0, high=64),
            env=MappingProxyType(source),
        )

    def turn_processes(self, cores: int) -> int:
        """How many processes `serve` runs engine turns in (bot/inbox/turns.py): ENGINE_PROCESSES,
        else, on PostgreSQL, one per core (at most 4); none on SQLite, which has one writer at
        a time (its turns take turns in the serving process)."""
        if self.engine_processes >= 0:
            return self.engine_processes
        return 0 if self.database_url.startswith("sqlite") else max(1, min(cores, 4))

    def env_for_serve(self, host: str) -> dict[str, str]:
        """What the HTTP side reads: the variables, with the host `serve` really binds."""
        return {**self.env, "HOST": host}


def _text(source: Mapping[str, str], name: str) -> str:
    return (source.get(name) or "").strip()


def _number(source: Mapping[str, str], name: str, default, kind, *, low=None, high=None):
    raw = _text(source, name)
    if not raw:
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, not {raw[:40]!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise SettingsError(f"{name} must be {bounds}, not {raw[:40]!r}")
    return value


def _choice(source: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _text(source, name).upper()
    if not raw:
        return default
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw[:40]!r}")
    return raw
