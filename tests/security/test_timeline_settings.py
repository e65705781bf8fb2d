"""One programme's bad `[timeline]` cannot stop the others: a bad value is refused at import,
with its line, and nothing is stored; and a value that is broken anyway (written straight into
the database) sets aside only that programme's pairs and prompts, logged by id, counted, while
every other programme's prompts still go out."""
import io
import json
import logging
import shutil
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from bot.cli.importer import import_file
from conversations.programme import Settings, SettingsInvalid
from conversations.texts import Texts
from storage.tables import Delivery, Pair, Programme
from tests.helpers import SAMPLE, import_programme, snapshot

BEFORE_WORK = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)  # 08:00 in Copenhagen
WORK = datetime(2026, 9, 1, 7, 0, tzinfo=UTC)  # 09:00 in Copenhagen
JONAS = "jonas.berg@example.org"  # in the sample programme
# The sample's participants whose working day has begun at 09:00 Copenhagen time.
AT_WORK = {"mads.holm@example.org", "sofie.lund@example.org", JONAS, "tom.becker@example.org",
           "lars.nielsen@example.org", "anna.weiss@example.org", "omar.haddad@example.org"}
OTHER = ("ida.moeller@example.org", "karl.sand@example.org")  # in programme "Other"
BROKEN = json.dumps({"timeline": {"working_hours": "09:00-25:00"}})


def _programme_file(folder, timeline: str, name: str = "Nordlys Mentoring 2026/27"):
    shutil.copy(SAMPLE.parent / "roster.csv", folder / "roster.csv")
    head = SAMPLE.read_text().split("[timeline]")[0].replace(
        'name = "Nordlys Mentoring 2026/27"', f'name = "{name}"')
    path = folder / "programme.toml"
    path.write_text(head + timeline)
    return path


def _other_programme(folder):
    (folder / "other.csv").write_text(
        "email,name,role,pair,timezone,language\n"
        "boss.other@example.org,Bo Other,manager,,Europe/Copenhagen,en\n"
        f"{OTHER[0]},Ida Møller,mentor,other-01,Europe/Copenhagen,en\n"
        f"{OTHER[1]},Karl Sand,mentee,other-01,Europe/Copenhagen,en\n")
    path = folder / "other.toml"
    path.write_text('name = "Other"\nstarts = 2026-09-01\nends = 2027-06-30\n'
                    'language = "en"\ntimezone = "Europe/Copenhagen"\nroster = "other.csv"\n')
    return path


@pytest.mark.parametrize("timeline,line,words", [
    ('[timeline]\nworking_hours = "09:00-25:00"\n', 12,
     ('`working_hours` must be two times of day like "09:00-17:00", the start before the end, '
      'not "09:00-25:00"')),
    ('[timeline]\nweekly_cap = 3\nworking_hours = "17:00-09:00"\n', 13, "`working_hours`"),
    ("[timeline]\nworking_days = [0, 1, 8]\n", 12,
     "`working_days` must list days of the week as numbers, Monday = 1 to Sunday = 7"),
    ('[timeline]\nweekly_cap = "3"\n', 12,
     '`weekly_cap` must be a whole number from 1 to 20, not "3"'),
    ("[timeline]\npulse_every_days = -30\n", 12, "`pulse_every_days` must be a whole number"),
    ("[timeline]\ndroop_factor = 1\n", 12, "`droop_factor` must be a number above 1"),
    ("[timeline]\nmin_group = true\n", 12, "`min_group` must be a whole number"),
    ("[timeline]\nworkinghours = \"09:00-17:00\"\n", 12,
     "`[timeline]` has no setting called `workinghours`"),
    ("timeline = 3\n", 11, "`timeline` must be a table"),
])
def test_a_bad_timeline_setting_is_refused_at_import_with_its_line(
        sqlite_database, tmp_path, timeline, line, words):
    before = snapshot(sqlite_database)
    out = io.StringIO()
    code = import_file(sqlite_database, _programme_file(tmp_path, timeline), BEFORE_WORK,
                       Texts(), out)
    assert code == 1
    assert f"line {line}: {words}" in out.getvalue(), out.getvalue()
    assert snapshot(sqlite_database) == before  # nothing imported


def test_a_bad_setting_in_an_update_leaves_the_stored_programme_as_it_was(
        sqlite_database, tmp_path):
    import_programme(sqlite_database, _programme_file(tmp_path, "[timeline]\nweekly_cap = 2\n"),
                     now=BEFORE_WORK)
    before = snapshot(sqlite_database)
    out = io.StringIO()
    bad = _programme_file(tmp_path, '[timeline]\nweekly_cap = 2\nworking_hours = "9-17"\n')
    assert import_file(sqlite_database, bad, BEFORE_WORK, Texts(), out, lang="da") == 1
    assert 'linje 13: `working_hours` skal være to klokkeslæt' in out.getvalue(), out.getvalue()
    assert snapshot(sqlite_database) == before


def test_the_example_and_good_settings_import(sqlite_database, tmp_path):
    good = ('[timeline]\nworking_hours = "08:30-16:00"\nworking_days = [1, 2, 3, 4]\n'
            "weekly_cap = 5\npulse_every_days = 0\ndroop_factor = 2\nmin_group = 5\n")
    import_programme(sqlite_database, _programme_file(tmp_path, good), now=BEFORE_WORK)
    import_programme(sqlite_database, SAMPLE, now=BEFORE_WORK)


def test_settings_stored_before_the_check_fail_only_where_the_engine_cannot_use_them():
    def stored(timeline: dict) -> Programme:
        return Programme(id=7, slug="p", name="P", starts=date(2026, 9, 1), ends=date(2027, 6, 30),
                         settings_json=json.dumps({"timeline": timeline}))

    assert Settings.of(stored({"colour": "red", "weekly_cap": 2})).weekly_cap == 2
    assert Settings.of(stored({"min_group": 2})).min_group == 3
    for name, value in (("working_hours", "09:00-25:00"), ("weekly_cap", "3"),
                        ("working_days", []), ("droop_factor", 0.5)):
        with pytest.raises(SettingsInvalid, match=rf"programme 7: \[timeline\] {name} refused"):
            Settings.of(stored({name: value}))


def _break(db, slug_name: str = "Other") -> list[int]:
    """Write a broken `[timeline]` straight into the database; the programme's pair ids."""
    with db.unit() as s:
        programme = s.exec(select(Programme).where(Programme.name == slug_name)).one()
        programme.settings_json = BROKEN
        return [p.id for p in s.exec(select(Pair).where(Pair.programme_id == programme.id))]


async def test_a_broken_programme_does_not_stop_the_tick_for_the_others(
        services, clock, messenger, tmp_path, caplog):
    import_programme(services.db, now=clock.now())
    import_programme(services.db, _other_programme(tmp_path), now=clock.now())
    broken = _break(services.db)
    clock.set(WORK)

    with caplog.at_level(logging.INFO):
        ticked = services.ticker.tick()
        sent = await services.dispatcher.run_once()

    assert ticked.failed == len(broken) == 1
    assert ticked.pairs == 5  # the sample's four pairs and the broken one were all looked at
    assert "Welcome" in " ".join(messenger.texts_for(JONAS))
    assert {s.email for s in messenger.sent} == AT_WORK and sent.failed == 0
    assert not [s for s in messenger.sent if s.email in OTHER]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [(f"planning pair {broken[0]} failed: programme 2: [timeline] "
                       "working_hours refused")], errors
    with services.db.unit() as s:  # looked at again in an hour, not in every tick
        pair = s.get(Pair, broken[0])
        assert pair.next_check_at.astimezone(UTC) == datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


async def test_a_broken_programme_does_not_stop_the_outbox_for_the_others(
        services, clock, messenger, tmp_path, caplog):
    import_programme(services.db, now=clock.now())
    import_programme(services.db, _other_programme(tmp_path), now=clock.now())
    clock.set(WORK)
    assert services.ticker.tick().proposed == 11  # kick-offs for both programmes
    _break(services.db)  # and then its settings break

    with caplog.at_level(logging.INFO):
        result = await services.dispatcher.run_once()

    assert "Welcome" in " ".join(messenger.texts_for(JONAS))
    assert not [s for s in messenger.sent if s.email in OTHER]
    assert {s.email for s in messenger.sent} == AT_WORK and result.failed == 2
    with services.db.unit() as s:
        other = s.exec(select(Programme).where(Programme.name == "Other")).one()
        rows = s.exec(select(Delivery).where(Delivery.programme_id == other.id)).all()
    aside = [r for r in rows if r.last_error.startswith("internal:")]
    assert len(aside) == 2 and all(r.status == "pending" and r.next_try_at for r in aside)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert sorted(errors) == sorted(
        f"delivery {r.id} (kickoff, pair {r.pair_id}) set aside: programme {other.id}: "
        "[timeline] working_hours refused" for r in aside), errors
