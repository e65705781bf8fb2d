"""Issue 11, finding 9: a manager's announcement cannot crash the engine, cannot pass a preview
and then fail for one reader, and its RSVP buttons answer only what was really sent to you."""
from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from storage.tables import Announcement, Delivery, Rsvp
from tests.helpers import SAMPLE, import_programme, press, say, snapshot

MAJA = "maja.kruse@example.org"
TUESDAY = datetime(2026, 9, 15, 8, 0, tzinfo=timezone.utc)
LONG_FIRST = "Bartholomæus-Maximilian-Konstantin"  # 34 characters, a real kind of name


@pytest.mark.parametrize("field", [
    "(" * 900 + "first_name" + ")" * 900,
    "[" * 1900,
    "-" * 1900 + "first_name",
    "not " * 450 + "first_name",
    "{" * 1900,
])
def test_deeply_nested_fields_get_the_friendly_refusal(services, clock, caplog, field):
    import_programme(services.db, now=clock.now())
    say(services, MAJA, "help")
    before = snapshot(services.db)
    caplog.set_level(logging.DEBUG)
    reply = say(services, MAJA, "announce everyone Hello {{ " + field + " }}")
    assert len(reply) == 1 and "won't run" in reply[0] and "{{ first_name }}" in reply[0]
    assert snapshot(services.db) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "RecursionError" not in caplog.text and len(caplog.text.splitlines()) < 20


def _roster_with_long_name(tmp_path):
    shutil.copy(SAMPLE, tmp_path / "programme.toml")
    rows = (SAMPLE.parent / "roster.csv").read_text().replace(
        "Omar Haddad", f"{LONG_FIRST} Haddad")
    (tmp_path / "roster.csv").write_text(rows)
    return tmp_path / "programme.toml"


@pytest.mark.parametrize("field,audience", [("first_name", "mentees"), ("partner", "mentors")])
async def test_a_preview_that_passes_cannot_fail_for_the_longest_name(
        services, clock, messenger, tmp_path, field, audience):
    """Anna (first by name) fits 4,000 characters; Omar's long first name would not: the
    preview is refused for everyone instead of the send failing for him alone."""
    import_programme(services.db, _roster_with_long_name(tmp_path), now=clock.now())
    clock.set(TUESDAY)
    say(services, MAJA, "help")
    before = snapshot(services.db)
    template = "Hi {{" + field + "}}! " + ("{{" + field + "}}") * 130  # 130 × 34 > 4,000
    refused = say(services, MAJA, f"announce {audience} {template}")
    assert "too long" in refused[0]
    assert snapshot(services.db) == before
    fits = "Hi {{" + field + "}}! " + ("{{" + field + "}}") * 80  # 80 × 40 < 4,000
    assert "Preview" in say(services, MAJA, f"announce {audience} {fits}")[0]
    say(services, MAJA, "announce confirm")
    for hours in range(0, 48, 2):  # two days: everyone's working hours come round
        clock.set(TUESDAY + timedelta(hours=hours))
        await services.pump()
    with services.db.unit() as s:
        rows = s.exec(select(Delivery).where(Delivery.kind == "announcement")).all()
    assert rows and all(r.status == "sent" for r in rows), [(r.status, r.last_error) for r in rows]
    assert any(LONG_FIRST in s.text for s in messenger.sent)


async def test_rsvp_only_to_a_sent_announcement_addressed_to_you(services, clock, messenger):
    import_programme(services.db, now=clock.now())
    clock.set(TUESDAY)
    say(services, MAJA, "announce mentees monday 14:00 Master class on feedback")
    say(services, MAJA, "announce confirm")
    say(services, MAJA, "announce mentors monday 16:00 Supervision group")
    say(services, MAJA, "announce cancel")
    await services.pump()
    with services.db.unit() as s:
        sent, cancelled = s.exec(select(Announcement).order_by(Announcement.id)).all()
    assert (sent.status, cancelled.status) == ("sent", "cancelled")
    for email in ("jonas.berg@example.org", "mads.holm@example.org"):
        say(services, email, "help")
    before = snapshot(services.db)
    # A mentor was never sent the mentees' master class; nobody was sent the cancelled one.
    not_addressed = press(services, "mads.holm@example.org", "rsvp", f"{sent.id}:yes")
    withdrawn = press(services, "mads.holm@example.org", "rsvp", f"{cancelled.id}:yes")
    withdrawn_mentee = press(services, "jonas.berg@example.org", "rsvp", f"{cancelled.id}:no")
    assert "isn't open for answers" in withdrawn_mentee[0]
    for reply in (not_addressed, withdrawn):  # Mads reads Danish
        assert "kan ikke besvares" in reply[0], reply
    assert snapshot(services.db) == before
    assert "on the list" in press(services, "jonas.berg@example.org", "rsvp", f"{sent.id}:yes")[0]
    with services.db.unit() as s:
        assert [(r.announcement_id, r.attending) for r in s.exec(select(Rsvp))] == [(sent.id, True)]
