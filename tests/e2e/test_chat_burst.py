"""SIGKILL during a burst of Slack commands, light: a real `serve` on SQLite, killed with -9
after half of 40 commands were acknowledged, restarted. Every acknowledged command is stored
once and answered (the full version, hundreds on PostgreSQL: tests/faults/test_chat_burst.py)."""
from __future__ import annotations

from tests.faults.test_chat_burst import burst_with_a_kill, check


async def test_an_acknowledged_command_survives_a_kill(tmp_path):
    outcome = await burst_with_a_kill(f"sqlite:///{tmp_path / 'burst.db'}", tmp_path,
                                      senders=40, kill_at=20, rate=100)
    check(outcome)
