"""Configuration is read once: bot/settings.py alone reads the environment, and a value the
program cannot use stops it with a line that names the variable."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import main
from bot.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for folder in ("bot", "conversations", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text()):
                readers.append(str(path.relative_to(ROOT)))
    if re.search(r"os\.environ|os\.getenv", (ROOT / "app.py").read_text()):
        readers.append("app.py")
    assert readers == ["bot/settings.py"]


@pytest.mark.parametrize("name, value, words", [
    ("PORT", "abc", "PORT must be a whole number, not 'abc'"),
    ("PORT", "70000", "PORT must be between 0 and 65535"),
    ("TICK_SECONDS", "soon", "TICK_SECONDS must be a number"),
    ("INBOX_CLAIM_SECONDS", "0", "INBOX_CLAIM_SECONDS must be at least 1"),
    ("LOG_LEVEL", "chatty", "LOG_LEVEL must be one of DEBUG, INFO"),
    ("ENGINE_PROCESSES", "many", "ENGINE_PROCESSES must be a whole number, not 'many'"),
    ("ENGINE_PROCESSES", "-2", "ENGINE_PROCESSES must be between 0 and 64"),
])
def test_a_value_that_cannot_be_used_names_its_variable(name, value, words):
    with pytest.raises(SettingsError, match=re.escape(words)):
        Settings.from_environ({name: value})


def test_engine_turns_get_processes_of_their_own_on_postgresql_unless_told_otherwise():
    postgres = {"DATABASE_URL": "postgresql+psycopg://bot@db/mentoring"}
    assert Settings.from_environ(postgres).turn_processes(cores=2) == 2
    assert Settings.from_environ(postgres).turn_processes(cores=16) == 4
    assert Settings.from_environ({**postgres, "ENGINE_PROCESSES": "0"}).turn_processes(2) == 0
    assert Settings.from_environ({}).turn_processes(cores=8) == 0  # SQLite: one writer
    assert Settings.from_environ({"ENGINE_PROCESSES": "3"}).turn_processes(cores=8) == 3


def test_the_defaults_and_the_values_read():
    assert Settings.from_environ({}).database_url == "sqlite:///mentor.db"
    settings = Settings.from_environ({"PORT": "8080", "TICK_SECONDS": "0.5",
                                      "BOT_EMAIL": " bot@example.org ", "LOG_LEVEL": "warning"})
    assert (settings.port, settings.tick_seconds, settings.bot_email, settings.log_level) \
        == (8080, 0.5, "bot@example.org", "WARNING")
    with pytest.raises(AttributeError):
        settings.port = 1  # frozen


def test_the_command_line_refuses_to_start_and_says_which_variable(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "eighty")
    assert main(["migrate"]) == 2
    assert "PORT must be a whole number, not 'eighty'" in capsys.readouterr().err
