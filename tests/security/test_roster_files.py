"""Issue 11, finding 8: what a programme file may make `import` read, and which addresses and
names get onto the roster.

The `roster` setting must name a regular file inside the programme file's folder (a path on the
command line may lie anywhere); folders, devices, pipes and files over 20 MB are refused before
they are read. Addresses are normalised (NFKC, case-folded) and refused with invisible or
mixed-script look-alike characters; two spellings of one address are a duplicate, not a merge.
Direction controls are taken out of names. Every refusal stores nothing.
"""
from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli.importer import import_file
from conversations.texts import Texts
from storage.tables import Person
from tests.conftest import START
from tests.helpers import SAMPLE, snapshot

ROSTER = (SAMPLE.parent / "roster.csv").read_text()


def _programme(folder: Path, roster: str = "roster.csv", rows: str = ROSTER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    toml = SAMPLE.read_text().replace('roster = "roster.csv"', f"roster = {roster!r}")
    (folder / "programme.toml").write_text(toml)
    if rows is not None:
        (folder / "roster.csv").write_text(rows)
    return folder / "programme.toml"


def _import(db, path: Path, roster: Path | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = import_file(db, path, START, Texts(), out, **({"roster": roster} if roster else {}))
    return code, out.getvalue()


def _refused(db, path: Path, *expected: str, roster: Path | None = None) -> str:
    before = snapshot(db)
    code, said = _import(db, path, roster)
    assert code == 1, said
    assert said.startswith("Nothing was imported")
    for words in expected:
        assert words in said, said
    assert snapshot(db) == before
    return said


# --- which file is read ----------------------------------------------------------------------

def test_a_roster_outside_the_programme_folder_is_refused(sqlite_database, tmp_path):
    outside = tmp_path / "elsewhere" / "secret.csv"
    outside.parent.mkdir()
    outside.write_text(ROSTER)
    for name in ("../elsewhere/secret.csv", str(outside), "sub/../../elsewhere/secret.csv"):
        path = _programme(tmp_path / "prog", roster=name)
        _refused(sqlite_database, path, "outside the programme file's folder", "--roster")


def test_a_symlink_may_not_lead_out_of_the_folder(sqlite_database, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text(ROSTER)
    path = _programme(tmp_path / "prog", roster="link.csv", rows=None)
    (path.parent / "link.csv").symlink_to(outside)
    _refused(sqlite_database, path, "outside the programme file's folder")
    (path.parent / "link.csv").unlink()
    (path.parent / "link.csv").symlink_to("/dev/zero")
    _refused(sqlite_database, path, "outside the programme file's folder")
    (path.parent / "link.csv").unlink()
    (path.parent / "real.csv").write_text(ROSTER)
    (path.parent / "link.csv").symlink_to(path.parent / "real.csv")  # inside: fine
    assert _import(sqlite_database, path)[0] == 0


def test_a_roster_named_on_the_command_line_may_lie_anywhere(sqlite_database, tmp_path):
    outside = tmp_path / "exports" / "roster-2026.csv"
    outside.parent.mkdir()
    outside.write_text(ROSTER)
    path = _programme(tmp_path / "prog", roster="../exports/roster-2026.csv", rows=None)
    code, said = _import(sqlite_database, path, roster=outside)
    assert code == 0, said
    with sqlite_database.unit() as s:
        assert len(s.exec(select(Person)).all()) == 10


def test_folders_devices_and_pipes_are_not_read(sqlite_database, tmp_path):
    path = _programme(tmp_path / "prog", roster="folder", rows=None)
    (path.parent / "folder").mkdir()
    _refused(sqlite_database, path, "is not a regular file")
    _refused(sqlite_database, path, "is not a regular file", roster=Path("/dev/zero"))
    _refused(sqlite_database, tmp_path / "prog", "is not a regular file")  # the TOML a folder

    path = _programme(tmp_path / "piped", roster="pipe.csv", rows=None)
    pipe = path.parent / "pipe.csv"
    os.mkfifo(pipe)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(_import(sqlite_database, path)[1]),
                              daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # the old code blocks reading the pipe: let it go, then fail
        os.close(os.open(pipe, os.O_WRONLY))
        worker.join(timeout=10)
        pytest.fail("the import waited on a named pipe")
    assert "is not a regular file" in result[0]


def test_a_roster_over_20_mb_is_refused_unread(sqlite_database, tmp_path):
    path = _programme(tmp_path / "prog")
    with open(path.parent / "roster.csv", "ab") as roster:
        roster.truncate(21 * 1024 * 1024)  # sparse: no disk used, no memory either
    _refused(sqlite_database, path, "larger than 20 MB")


# --- what gets onto the roster ---------------------------------------------------------------

@pytest.mark.parametrize("email,words", [
    ("jonas.berg@exаmple.org", "mixes alphabets"),  # Cyrillic а in the domain
    ("jоnas.berg@example.org", "mixes alphabets"),  # Cyrillic о in the local part
    ("jonas.berg\u200b@example.org", "<U+200B>"),
    ("jonas\u2060.berg@example.org", "invisible character"),
    ("\u202ejonas.berg@example.org", "invisible character"),
])
def test_look_alike_addresses_are_refused(sqlite_database, tmp_path, email, words):
    rows = ROSTER.replace("jonas.berg@example.org", email)
    _refused(sqlite_database, _programme(tmp_path / "prog", rows=rows), "line 6:", words)


def test_two_spellings_of_one_address_are_a_duplicate_not_a_merge(sqlite_database, tmp_path):
    # Lars mentors a second pair, once written in full-width letters: the same address after
    # NFKC, so it would silently become the same person.
    rows = ROSTER + "ｌａｒｓ.nielsen@example.org,Lars Nielsen,mentor,nordlys-05,Europe/Copenhagen,en\n" \
                    "nina.dahl@example.org,Nina Dahl,mentee,nordlys-05,Europe/Copenhagen,en\n"
    said = _refused(sqlite_database, _programme(tmp_path / "prog", rows=rows),
                    "line 12:", "address on line 9 written another way")
    assert "ｌａｒｓ.nielsen@example.org" in said
    same = ROSTER + "Lars.Nielsen@Example.org,Lars Nielsen,mentor,nordlys-05,Europe/Copenhagen,en\n" \
                    "nina.dahl@example.org,Nina Dahl,mentee,nordlys-05,Europe/Copenhagen,en\n"
    code, said = _import(sqlite_database, _programme(tmp_path / "case", rows=same))
    assert code == 0, said  # capitals are only capitals: one person in two pairs


def test_addresses_are_stored_in_one_normal_form(sqlite_database, tmp_path):
    rows = ROSTER.replace("tom.becker@example.org", "TOM.BECKER@EXAMPLE.ORG") \
                 .replace("anna.weiss@example.org", "ａｎｎａ.weiss@example.org")
    assert _import(sqlite_database, _programme(tmp_path / "prog", rows=rows))[0] == 0
    with sqlite_database.unit() as s:
        emails = set(s.exec(select(Person.email)).all())
    assert {"tom.becker@example.org", "anna.weiss@example.org"} <= emails


def test_direction_controls_are_taken_out_of_names(sqlite_database, tmp_path):
    rows = ROSTER.replace("Tom Becker", "Tom \u202eBecker\u202c") \
                 .replace("Anna Weiss", "\u2067Anna\u2069 \u200fWeiss\u200e") \
                 .replace("Omar Haddad", "Omar \u202dHaddad")
    assert _import(sqlite_database, _programme(tmp_path / "prog", rows=rows))[0] == 0
    with sqlite_database.unit() as s:
        names = set(s.exec(select(Person.name)).all())
    assert {"Tom Becker", "Anna Weiss", "Omar Haddad"} <= names
    bidi = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F]}
    assert not any(set(name) & bidi for name in names)


def test_a_name_of_direction_controls_only_is_no_name(sqlite_database, tmp_path):
    rows = ROSTER.replace("Tom Becker", "\u202e\u202c")
    _refused(sqlite_database, _programme(tmp_path / "prog", rows=rows), "line 8:",
             "the name is missing")
