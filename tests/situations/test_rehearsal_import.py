"""Rehearsals are faithful: `import --now` stamps pair starts with the rehearsal clock."""
from datetime import datetime, UTC

from sqlmodel import select

from app import main
from storage.db import Database
from storage.tables import Pair
from tests.helpers import SAMPLE


def _starts(url: str) -> set:
    db = Database(url)
    with db.unit() as session:
        starts = {p.started_at for p in session.exec(select(Pair))}
    db.dispose()
    return starts


def test_import_before_the_programme_starts_leaves_pairs_starting_at_kick_off(
        tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'rehearsal.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["import", str(SAMPLE), "--now", "2026-08-20T10:00+02:00"]) == 0
    assert "Imported the new programme" in capsys.readouterr().out
    assert _starts(url) == {None}  # the machine's clock (after 1 September) is not asked


def test_import_after_the_start_stamps_the_rehearsal_moment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'late.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["import", str(SAMPLE), "--now", "2027-01-11T09:00+01:00"]) == 0
    assert _starts(url) == {datetime(2027, 1, 11, 8, 0, tzinfo=UTC)}
