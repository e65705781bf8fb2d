"""Importing a programme: created, re-imported unchanged, edited, and broken files refused."""
import io
import shutil
from pathlib import Path

from sqlmodel import select

from bot.cli.importer import import_file
from conversations.texts import Texts
from storage.tables import Membership, Pair, Person, Programme
from tests.conftest import START
from tests.helpers import SAMPLE, import_programme, snapshot


def _copy_sample(tmp_path: Path) -> Path:
    shutil.copy(SAMPLE, tmp_path / "programme.toml")
    shutil.copy(SAMPLE.parent / "roster.csv", tmp_path / "roster.csv")
    return tmp_path / "programme.toml"


def _run(db, path) -> tuple[int, str]:
    out = io.StringIO()
    return import_file(db, path, START, Texts(), out), out.getvalue()


def test_import_creates_then_reimport_changes_nothing(database):
    report = import_programme(database, now=START)
    assert "10 new" in report and "4 new" in report
    before = snapshot(database)
    again = import_programme(database, now=START)
    assert "nothing changed" in again
    assert snapshot(database) == before


def test_edited_file_updates_what_changed(database, tmp_path):
    path = _copy_sample(tmp_path)
    import_programme(database, path, now=START)
    roster = (tmp_path / "roster.csv").read_text()
    roster = roster.replace("Jonas Berg,mentee,nordlys-02,Europe/Copenhagen,en",
                            "Jonas Berg,mentee,nordlys-02,Asia/Tokyo,en")
    roster = roster.replace("omar.haddad@example.org,Omar Haddad,mentee,nordlys-04,Europe/Copenhagen,en\n", "")
    (tmp_path / "roster.csv").write_text(roster)
    code, report = _run(database, path)
    assert code == 0
    assert "1 updated" in report and "1 removed" in report
    with database.unit() as s:
        jonas = s.exec(select(Person).where(Person.email == "jonas.berg@example.org")).one()
        assert jonas.timezone == "Asia/Tokyo"
        omar = s.exec(select(Person).where(Person.email == "omar.haddad@example.org")).one()
        member = s.exec(select(Membership).where(Membership.person_id == omar.id)).one()
        assert member.active is False


def test_broken_rows_are_reported_with_line_numbers_and_nothing_is_imported(database, tmp_path):
    path = _copy_sample(tmp_path)
    (tmp_path / "roster.csv").write_text(
        "email,name,role,pair,timezone,language\n"
        "ok@example.org,Ok Person,mentor,p1,Europe/Copenhagen,en\n"
        "not-an-email,Bad Email,mentee,p1,Europe/Copenhagen,en\n"
        "x@example.org,Bad Zone,mentee,p1,Mars/Olympus,en\n"
        "y@example.org,Bad Role,boss,p1,Europe/Copenhagen,en\n"
        "z@example.org,Bad Lang,mentee,p1,Europe/Copenhagen,fr\n"
        "ok@example.org,Ok Person,mentor,p1,Europe/Copenhagen,en\n")
    before = snapshot(database)
    code, report = _run(database, path)
    assert code == 1
    assert "Nothing was imported" in report
    for line, reason in ((3, "not an email"), (4, "not a time zone"), (5, "mentor, mentee or manager"),
                         (6, "en or da"), (7, "already in this pair")):
        assert f"line {line}:" in report and reason in report
    assert snapshot(database) == before


def test_file_that_is_not_utf8_is_refused(database, tmp_path):
    path = _copy_sample(tmp_path)
    (tmp_path / "roster.csv").write_bytes(
        b"email,name,role,pair,timezone,language\n"
        b"a@example.org,S\xf8ren,mentor,p1,Europe/Copenhagen,da\n")
    code, report = _run(database, path)
    assert code == 1 and "line 2" in report and "UTF-8" in report
    with database.unit() as s:
        assert s.exec(select(Programme)).all() == []


def test_large_group_is_a_warning_not_an_error(database, tmp_path):
    path = _copy_sample(tmp_path)
    rows = ["email,name,role,pair,timezone,language",
            "m@example.org,Mentor One,mentor,g1,Europe/Copenhagen,en"]
    rows += [f"e{i}@example.org,Mentee {i},mentee,g1,Europe/Copenhagen,en" for i in range(6)]
    (tmp_path / "roster.csv").write_text("\n".join(rows) + "\n")
    code, report = _run(database, path)
    assert code == 0 and "more than five mentees" in report
    with database.unit() as s:
        assert len(s.exec(select(Pair)).all()) == 1
