"""Hostile and broken input, fuzzed with hypothesis through the real engine and importer.

Invariant for every input: a friendly reply comes back (non-empty, no stack trace, not the
"something went wrong on my side" template), no exception escapes, and the database is exactly
as before unless the input was valid (the reply is not a refusal: `Message.refused`).
The light variant runs in `make test`; the heavy one (`make faults`) tries FAULTS_EXAMPLES
inputs per property.
"""
from __future__ import annotations

import io
import shutil
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.cli.importer import import_file
from bot.console.inbound import ref_for
from conversations.durations import parse_duration, split_duration
from conversations.grammar import ALIASES, VERBS
from conversations.messages import ActionInvoked, TextReceived
from conversations.texts import Texts
from conversations.when import When, parse_when, split_when
from storage.tables import Announcement, Appointment
from tests.conftest import START
from tests.faults.conftest import BUDGETS, examples
from tests.fakes import plain
from tests.helpers import SAMPLE, import_programme, say, snapshot

JONAS, GRACE, SOFIE = "jonas.berg@example.org", "grace.okafor@example.org", "sofie.lund@example.org"
MAJA, LARS, ANNA = "maja.kruse@example.org", "lars.nielsen@example.org", "anna.weiss@example.org"
STRANGER = "stranger@example.org"
SPEAKERS = (JONAS, GRACE, SOFIE, MAJA, LARS, ANNA, STRANGER)
INTERNAL = "something went wrong on my side"
TRY_AGAIN = "try again in a moment"

# Text people (and attackers) type: control and formatting characters, right-to-left marks,
# emoji, lone surrogates (a JSON payload can carry them), SQL, template syntax, Slack mention
# syntax, HTML and script, markdown, dates and durations of every shape, and sheer length.
FRAGMENTS = [
    "", " ", "\n", "\t", "\r\n", "\x00", "\x07", "\x1b[31m", "\x7f", "\u0085", "\u2028",
    "\u202e", "\u200f", "\u200e", "\u200b", "\ufeff", "\u2066", "\ud800", "\udfff", "\U000e0041",
    "🙂", "👩🏽‍💻", "🇩🇰", "ﷺ", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗", "𝕷𝖔𝖌", "ｌｏｇ", "ǅ", "İ", "ß", "æøå ÆØÅ",
    "'; DROP TABLE person; --", "\" OR 1=1 --", "%s%s%n", "${jndi:ldap://x}", "\\", "\\x00",
    "{{ 7*7 }}", "{{ config }}", "{{ first_name }}", "{% for i in range(99999999) %}x{% endfor %}",
    "{{ ''.__class__.__mro__ }}", "{# c #}", "{{", "}}", "{%", "%}", "{{ partner|e }}",
    "<!channel>", "<!here>", "<!everyone>", "<@U01MAJA>", "<@U05JONAS|jonas>", "<#C0GENERAL>",
    "<https://evil.example|click>", "@channel", "@here",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&lt;&amp;&gt;", "&#0;",
    "*bold* _it_ ~s~ `code` ```block```", "[x](javascript:alert(1))", "# heading", "> quote",
    "yesterday", "i går", "i forgårs", "next friday 10:00", "næste fredag kl 10", "sidste tirsdag",
    "2026-02-30", "31/13", "29/2", "25:61", "9999-12-31", "0001-01-01", "in 999 days", "10 am",
    "for 3 dage siden", "3. marts", "kl 14", "noon", "midnight", "tomorrow at 9", "1/1/1",
    "45m", "1h30", "0m", "9999999h", "-5m", "1,5t", "99999999999999999999", "1.5.5", "½",
    "with anna", "with @lars", "med sofie", "with", "with jonas.berg@example.org", "confirm",
    "cancel", "status", "everyone", "mentees", "mentors", "pair nordlys-01", "pair nope",
    "quiet 3", "quiet 999", "later friday 9:00", "later", "off", "2 weeks", "forever",
    "x" * 5000, "a " * 2100, "\n" * 300, "🙂" * 1500,
]
VERB_WORDS = [*VERBS, *ALIASES, "/mentor", "mentor", "/mentor log", "LOG", "Log.", "lgo",
              "repport", "hjælp", "?", "", "forget confirm"]
WORDS = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30))
COMMANDS = st.one_of(
    st.text(max_size=300),
    st.builds(lambda verb, parts: " ".join([verb, *parts]), st.sampled_from(VERB_WORDS),
              st.lists(WORDS, max_size=8)),
    st.lists(WORDS, min_size=1, max_size=10).map(" ".join),
    st.lists(WORDS, min_size=1, max_size=10).map("".join),
)


def fuzz_settings(heavy: bool):
    return settings(max_examples=examples(heavy), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example,
                                           HealthCheck.filter_too_much])


class Tally:
    def __init__(self) -> None:
        self.tried = self.refused = 0


def state(db, speaker: str) -> dict:
    """Every row of every table, but the speaker's own identity: every event creates or
    refreshes how to reach its sender (by design; after `forget` it is created anew)."""
    rows = snapshot(db)
    rows["identity"] = [r for r in rows["identity"] if f"'console', '{speaker}'" not in r]
    return rows


def friendly(reply, before: dict, db, what: str, tally: Tally, speaker: str) -> None:
    """The invariant: a friendly answer, and an unchanged database after a refusal."""
    tally.tried += 1
    assert reply.messages, f"no reply to {what}"
    for message in reply.messages:
        text = plain(message.text)
        assert text.strip(), f"an empty reply to {what}"
        assert "Traceback" not in text and INTERNAL not in text, f"{what} → {text[:300]}"
        assert TRY_AGAIN not in text, f"{what} → {text[:300]}"
    if any(message.refused for message in reply.messages):
        tally.refused += 1
        assert state(db, speaker) == before, f"a refused {what} changed the database"


@pytest.fixture
def world(services, clock):
    """The sample programme three weeks in: booked meetings, a logged meeting with a note,
    a dialog open, a draft and a sent announcement, and everyone known to the bot."""
    import_programme(services.db, now=clock.now())
    clock.advance(days=20, hours=4)
    for email in SPEAKERS:
        say(services, email, "help")
    say(services, JONAS, "next friday 10:00")
    say(services, ANNA, "log yesterday 14:00 1h we talked about saying no")
    say(services, LARS, "next tuesday 9:00")  # in a group the mentor books
    say(services, SOFIE, "reflect")
    say(services, MAJA, "announce everyone monday 14:00 Master class on feedback")
    say(services, MAJA, "announce confirm")
    say(services, MAJA, "announce mentors Peer group for mentors, {{ first_name }}")
    with services.db.unit() as session:
        appointments = [a.id for a in session.exec(select(Appointment))]
        announcements = [a.id for a in session.exec(select(Announcement))]
    assert appointments and len(announcements) == 2
    return services, [str(i) for i in appointments + announcements]


# Every verb followed by each of these, before the random part: the inputs most likely to break.
HOSTILE_ARGS = ["", "\x00", "\ud800", "\u202e", "🙂" * 1500, "x" * 5000, "{{ 7*7 }}",
                "{% for i in range(99999999) %}x{% endfor %}", "<!channel>", "<@U01MAJA>",
                "<script>alert(1)</script>", "'; DROP TABLE person; --", "99999999999999999999",
                "with anna", "yesterday 14:00 45m with lars", "confirm", "2026-02-30 10:00",
                "0001-01-01 00:00 45m", "9999-12-31 23:59 45m", "in 999 days 10:00",
                "everyone {{ ''.__class__ }}", "pair nordlys-01 hi", "quiet 999 hi", "quiet ² hi",
                "mentees quiet 1٢ hi", "later x"]


@pytest.mark.parametrize("heavy", BUDGETS)
def test_every_command_gets_a_friendly_reply(world, heavy, figures, timed):
    services, _ = world
    tally = Tally()

    def check(speaker: str, line: str) -> None:
        before = state(services.db, speaker)
        reply = services.engine.handle(TextReceived(ref_for(speaker), line, services.clock.now()))
        friendly(reply, before, services.db, f"{speaker} typing {line[:80]!r}", tally, speaker)

    @fuzz_settings(heavy)
    @given(speaker=st.sampled_from(SPEAKERS), line=COMMANDS)
    def typed(speaker: str, line: str) -> None:
        check(speaker, line)

    with timed("fuzz: chat commands"):
        for n, (verb, args) in enumerate((v, a) for v in VERBS for a in HOSTILE_ARGS):
            check(SPEAKERS[n % len(SPEAKERS)], f"{verb} {args}")
        typed()
    figures.add("fuzz: chat commands", inputs=tally.tried,
                note="each reply friendly; every refusal left every table as it was")
    assert tally.tried >= min(examples(heavy), 10) and 0 < tally.refused < tally.tried


# -- button presses and form submits --------------------------------------------------------

REAL_ACTIONS = ["log_submit", "next_submit", "answer", "did_meet", "snooze", "rsvp",
                "announce_send", "announce_cancel", "open_log", "open_next", "evaluate",
                "reflect"]
ODD_NUMBERS = ["²", "١٢", "０", "0x1f", "1e3", " 1", "1 ", "-1", "+1", "00000000001", "9" * 30,
               "9" * 5000, "2147483648", "1_000", "", "NaN"]


def ids(real: list[str]):
    return st.one_of(st.sampled_from(real), st.sampled_from(ODD_NUMBERS),
                     st.integers(-5, 10 ** 12).map(str), st.text(max_size=12))


def dates_like():
    return st.one_of(
        st.dates(date(2026, 8, 1), date(2027, 9, 1)).map(date.isoformat),
        st.dates().map(date.isoformat),
        st.sampled_from(["", "2026-02-30", "0001-01-01", "9999-12-31", "2026-9-1", "tomorrow",
                         "2026-09-15T10:00", "２０２６-０９-１５", "20260915", "2026-W38-1"]),
        st.text(max_size=12))


def times_like():
    return st.one_of(
        st.times().map(lambda t: t.isoformat(timespec="minutes")),
        st.sampled_from(["", "24:00", "12:60", "7", "10:00:00.123456", "10:00+02:00", "T10",
                         "10:00Z", "23:59:60", "٠٩:٠٠"]),
        st.text(max_size=8))


def form_values():
    number = st.one_of(st.integers(-10, 10_000).map(str), st.sampled_from(ODD_NUMBERS),
                       st.text(max_size=6))
    fixed = st.fixed_dictionaries({"date": dates_like(), "time": times_like()},
                                  optional={"minutes": number, "note": WORDS})
    anything = st.dictionaries(st.one_of(st.sampled_from(["date", "time", "minutes", "note",
                                                          "action", "value"]),
                                         st.text(max_size=8)),
                               st.one_of(WORDS, dates_like(), times_like()), max_size=6)
    return st.one_of(fixed, anything)


def hostile_presses(real: list[str]):
    """Every real action with the values most likely to break it (before the random part)."""
    numbers = [*ODD_NUMBERS, *real[:2]]
    values = [*numbers, *(f"yes:{n}" for n in numbers), *(f"moved:{n}" for n in numbers),
              *(f"{n}:yes" for n in numbers), "bogus|x|3", "reflection:zzz|rating|3",
              "reflection:m1:surprised|zzz|3", "evaluation|trust|²", "pulse:1|pulse_trust|9" * 3,
              "baseline|goals|" + "\x00", "evaluation|most_valuable|\ud800", "|||", "\x00"]
    forms = [{}, {"date": "2026-09-15", "time": "10:00", "minutes": "45", "note": "a\x00b"},
             {"date": "2026-09-16", "time": "10:00", "minutes": "45", "note": "\ud800"},
             {"date": "2026-09-17", "time": "10:00", "minutes": "9" * 5000},
             {"date": "2026-09-17", "time": "10:00", "minutes": "²"},
             {"date": "0001-01-01", "time": "00:00", "minutes": "45"},
             {"date": "9999-12-31", "time": "23:59", "minutes": "45"},
             {"date": "2026-09-18\x00", "time": "10:00\ud800"}]
    for action in REAL_ACTIONS:
        for value in values:
            yield action, value, {}
        for form in forms:
            yield action, "", form


def action_strategy(real: list[str]):
    """An action id with a value (and form values) shaped for it, or garbage."""
    def shaped(action: str):
        forms = st.sampled_from(["evaluation", "pulse:1", "pulse:99", "baseline",
                                 "reflection:m1:surprised", "reflection:m1:new_angle",
                                 "reflection:zzz", "reflection:", "reflection:m1:../../x",
                                 "bogus", "", "evaluation:x"])
        keys = st.sampled_from(["rating", "trust", "goals", "goal_1", "goal_9", "surprised",
                                "actions", "most_valuable", "pulse_trust", "", "zzz"])
        answers = st.one_of(st.sampled_from(["1", "3", "5", "0", "6", "4/5", "x", ""]), WORDS)
        value = {
            "did_meet": st.builds(lambda a, i: f"{a}:{i}",
                                  st.sampled_from(["yes", "moved", "not_yet", "", "x"]), ids(real)),
            "rsvp": st.builds(lambda i, a: f"{i}:{a}", ids(real),
                              st.sampled_from(["yes", "no", "maybe", ""])),
            "answer": st.builds(lambda f, k, n: f"{f}|{k}|{n}", forms, keys, answers),
        }.get(action, ids(real))
        return st.tuples(st.just(action), st.one_of(value, WORDS), form_values())
    return st.one_of(st.sampled_from(REAL_ACTIONS).flatmap(shaped),
                     st.tuples(st.text(max_size=20), WORDS, form_values()))


@pytest.mark.parametrize("heavy", BUDGETS)
def test_every_button_and_form_gets_a_friendly_reply(world, heavy, figures, timed):
    services, real_ids = world
    tally = Tally()

    def check(speaker: str, action: str, value: str, values: dict) -> None:
        before = state(services.db, speaker)
        event = ActionInvoked(ref_for(speaker), action, value, services.clock.now(), values)
        reply = services.engine.handle(event)
        friendly(reply, before, services.db,
                 f"{speaker} pressing {action!r} {value[:40]!r} {str(values)[:80]}", tally,
                 speaker)

    @fuzz_settings(heavy)
    @given(speaker=st.sampled_from(SPEAKERS), press=action_strategy(real_ids))
    def pressed(speaker: str, press) -> None:
        check(speaker, *press)

    with timed("fuzz: buttons and forms"):
        for n, press in enumerate(hostile_presses(real_ids)):
            check(SPEAKERS[n % 4], *press)  # the four people on the roster, in turn
        pressed()
    figures.add("fuzz: buttons and forms", inputs=tally.tried)
    assert tally.tried >= min(examples(heavy), 10) and tally.refused > 0


# -- dates and durations, on their own ------------------------------------------------------

ZONES = sorted(available_timezones())
DATE_WORDS = st.lists(st.sampled_from(
    ["next", "last", "this", "on", "at", "kl", "kl.", "i", "på", "den", "næste", "sidste",
     "forrige", "friday", "fredag", "fredags", "man", "sat", "søn", "tomorrow", "i går",
     "i morgen", "overmorgen", "3", "3.", "31.", "14:00", "14.00", "9", "1:30", "2pm", "12am",
     "noon", "march", "marts", "feb", "2026", "1900", "2200", "ago", "siden", "for", "om", "in",
     "days", "dage", "weeks", "uger", "years", "år", "45m", "1h30", "3/3", "31/2", "3.3.",
     "29-02-2027", "2026-03-02", "🙂", ",", ".", "\x00", "99999999", "999", "-1", "½"]),
    max_size=9).map(" ".join)


@pytest.mark.parametrize("heavy", BUDGETS)
def test_dates_and_durations_never_raise(heavy, figures, timed):
    tally = Tally()

    @fuzz_settings(heavy)
    @given(text=st.one_of(DATE_WORDS, st.text(max_size=60), st.sampled_from(FRAGMENTS)),
           now=st.datetimes(datetime(1950, 1, 1), datetime(2150, 1, 1),
                            timezones=st.just(timezone.utc)),
           zone=st.sampled_from(ZONES), lang=st.sampled_from(["en", "da"]),
           prefer=st.sampled_from(["past", "future"]),
           default=st.times())
    def parsed(text, now, zone, lang, prefer, default) -> None:
        tally.tried += 1
        tz = ZoneInfo(zone)
        options = dict(now=now, tz=tz, lang=lang, prefer=prefer, default_time=default)
        when = parse_when(text, **options)
        assert when is None or _sane(when)
        split = split_when(text, **options)
        if split is not None:
            when, rest = split
            assert _sane(when) and text.rstrip().endswith(rest) if rest else _sane(when)
        minutes = parse_duration(text)
        assert minutes is None or minutes >= 0
        duration = split_duration(text)
        if duration is not None:
            assert duration[0] >= 0 and (not duration[1] or text.rstrip().endswith(duration[1]))

    with timed("fuzz: dates and durations"):
        parsed()
    figures.add("fuzz: dates and durations", inputs=tally.tried)
    assert tally.tried >= min(examples(heavy), 10)


def _sane(when: When) -> bool:
    return when.at.tzinfo is not None and 1900 <= when.at.year <= 2200 \
        and isinstance(when.has_time, bool)


# -- the roster import -------------------------------------------------------------------------

HEADER = "email,name,role,pair,timezone,language"
CELLS = st.one_of(st.sampled_from(
    ["a@example.org", "A@Example.ORG", "b@example.org", "not-an-email", "a@b", "@x.org",
     "x\x00y@example.org", "ø@example.dk", "a@example.org\u200b", "Ann", "Ann, B", '"Ann"',
     "Ann\nB", "Ann\x01", "\ufeffAnn", "mentor", "mentee", "manager", "Mentor", "boss", "",
     "p1", "p2", "p1 ", "p" * 81, "p\x00", "Europe/Copenhagen", "UTC", "Mars/Olympus",
     "../../etc/passwd", "en", "da", "fr", "EN", "=cmd|' /C calc'!A0", "'; DROP TABLE pair; --",
     "🙂", "\u202e", "x" * 300]), st.text(max_size=15))
ROWS = st.one_of(
    st.lists(CELLS, min_size=6, max_size=6),
    st.builds(lambda i, role, pair, zone, lang: [f"p{i}@example.org", f"Person {i}", role, pair,
                                                 zone, lang],
              st.integers(0, 6), st.sampled_from(["mentor", "mentee", "manager", "boss"]),
              st.sampled_from(["p1", "p2", "", "p3"]),
              st.sampled_from(["Europe/Copenhagen", "Asia/Tokyo", "Nowhere/City"]),
              st.sampled_from(["en", "da", "xx"])),
    st.lists(CELLS, max_size=9))


def _csv(header: str, rows: list[list[str]], newline: str, bom: bool, quote: bool) -> str:
    def cell(value: str) -> str:
        if quote or any(c in value for c in ',"\n\r'):
            return '"' + value.replace('"', '""') + '"'
        return value
    text = newline.join([header, *(",".join(cell(c) for c in row) for row in rows)]) + newline
    return ("\ufeff" if bom else "") + text


CSV_TEXT = st.builds(_csv, st.one_of(st.just(HEADER), st.just(HEADER.upper()),
                                     st.just(HEADER + ",extra"), st.just("email;name;role"),
                                     st.text(max_size=30)),
                     st.lists(ROWS, max_size=10), st.sampled_from(["\n", "\r\n", "\r"]),
                     st.booleans(), st.booleans())


def _corrupt(text: str, junk: bytes, where: int) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    where = where % (len(raw) + 1)
    return raw[:where] + junk + raw[where:]


CSV_BYTES = st.one_of(
    st.binary(max_size=400),
    CSV_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(_corrupt, CSV_TEXT, st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x00",
                                                   b"\xef\xbb\xbf", b"\x80\x80", b"\xf8\x88"]),
              st.integers(0, 10_000)),
)
# Fixed hostile files hypothesis would take long to stumble upon.
HOSTILE_FILES = [
    (HEADER + "\n" + "a@example.org," + "x" * 140_000 + ",mentor,p1,UTC,en\n").encode(),
    (HEADER + "\n" + '"' + "unterminated\n" * 3).encode(),
    (HEADER + "\n" + "\x00" * 50).encode(),
    b"\xff\xfe" + HEADER.encode("utf-16-le"),
    (HEADER + "\n" + "\n".join(f"m{i}@example.org,M {i},mentor,g,UTC,en\n"
                               f"e{i}@example.org,E {i},mentee,g,UTC,en"
                               for i in range(8))).encode(),
    (HEADER + "\nx\x00@example.org,X,mentor,p1,UTC,en\n"
     "y@example.org,Y,mentee,p1,UTC,en\n").encode(),
    (HEADER + "\nx@example.org,X,mentor,p\x001,UTC,en\n"
     "y@example.org,Y,mentee,p\x001,UTC,en\n").encode(),
]


@pytest.mark.parametrize("heavy", BUDGETS)
def test_every_roster_file_is_imported_whole_or_not_at_all(database, tmp_path, heavy, figures,
                                                           timed):
    shutil.copy(SAMPLE, tmp_path / "programme.toml")
    roster = tmp_path / "roster.csv"
    texts = Texts()
    tally = Tally()
    imported = []

    def check(content: bytes) -> None:
        tally.tried += 1
        roster.write_bytes(content)
        before = snapshot(database)
        out = io.StringIO()
        code = import_file(database, tmp_path / "programme.toml", START, texts, out)
        report = out.getvalue()
        assert code in (0, 1) and report.strip() and "Traceback" not in report
        if code == 1:
            tally.refused += 1
            assert "Nothing was imported" in report
            assert snapshot(database) == before, "a refused roster changed the database"
            return
        imported.append(1)
        after = snapshot(database)
        again = io.StringIO()
        assert import_file(database, tmp_path / "programme.toml", START, texts, again) == 0
        assert snapshot(database) == after, "importing the same file twice changed something"

    @fuzz_settings(heavy)
    @given(content=CSV_BYTES)
    def files(content: bytes) -> None:
        check(content)

    with timed("fuzz: roster files"):
        for content in HOSTILE_FILES:
            check(content)
        files()
    figures.add("fuzz: roster files", inputs=tally.tried)
    assert tally.refused > 0 and imported
