"""A realistic first month of one pair, driven through `app.py console` over a pipe."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def console(db_url: str, email: str, now: str, lines: list[str]) -> str:
    env = {**os.environ, "DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [sys.executable, "app.py", "console", "--as", email, "--now", now],
        input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_first_month_of_a_pair(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'mentor.db'}"
    env = {**os.environ, "DATABASE_URL": db_url}
    imported = subprocess.run([sys.executable, "app.py", "import", "examples/programme.toml"],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert "Imported the new programme" in imported.stdout

    # Week 1, Tuesday: Jonas (mentee, Copenhagen) gets the kick-off and books the first meeting.
    mentee = console(db_url, "jonas.berg@example.org", "2026-09-01T09:30:00+02:00", [
        "help", "1) speak up in meetings 2) delegate more", "2", "3",
        "next thursday 16:00", "agenda 1) my learning goals 2) <!channel> how to say no",
    ])
    assert "Welcome to *Nordlys Mentoring 2026/27*, Jonas!" in mentee
    assert "`agenda 1) … 2) …`: send your agenda to your mentor" in mentee
    assert "Where are you today on _speak up in meetings_" in mentee
    assert "Booked: Thursday 3 September, 16:00 (your time)" in mentee
    # 09:30 in Copenhagen is 02:30 in Chicago: Grace gets it when her working day starts.
    assert "Grace Okafor will get it Tuesday 1 September, 16:00 your time" in mentee
    assert "Sent to Grace Okafor for your meeting Thursday 3 September, 16:00" in mentee

    # Grace (mentor, Chicago) sees the booking and the agenda in her own time zone.
    mentor = console(db_url, "grace.okafor@example.org", "2026-09-01T09:30:00-05:00", ["status"])
    assert "Jonas Berg booked your next mentoring meeting: on Thursday at 09:00" in mentor
    assert "Jonas Berg sent the agenda for your meeting Thursday 3 September, 09:00" in mentor
    assert "<!channel> how to say no" in mentor
    assert "Next meeting: Thursday 3 September, 09:00" in mentor

    # After the meeting Jonas logs it, sees his status and reflects.
    after = console(db_url, "jonas.berg@example.org", "2026-09-03T18:00:00+02:00", [
        "log today 16:00 1h talked about my goals and about saying no", "status", "reflect",
        "That I avoid conflict more than I thought", "4", "skip",
    ])
    assert "Logged: Thursday 3 September, 16:00, 1 h." in after
    assert "Meetings held: 1 (" in after
    assert "Next meeting: not booked yet" in after
    assert "A question to think about:" in after
    assert "Thank you for taking a moment to reflect" in after

    # Grace never sees Jonas's note, only that the meeting happened.
    mentor = console(db_url, "grace.okafor@example.org", "2026-09-03T12:00:00-05:00", ["status"])
    assert "Meetings held: 1 (" in mentor
    assert "saying no" not in mentor
