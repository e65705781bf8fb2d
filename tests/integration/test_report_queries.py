"""Programme health figures on a small hand-built programme, on SQLite and PostgreSQL: pair
statuses, meetings per month against the cadence, who cannot be reached and why, deliveries by
kind, and the minimum group size before any evaluation aggregate is shown."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import select

from conversations.dialogs.forms import EVALUATION_LIKERT, EVALUATION_OPEN
from conversations.health import programme_report
from conversations.programme import Settings
from storage import report
from storage.tables import Answer, Delivery, Meeting, Pair, Person, Programme
from tests.helpers import import_programme

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=timezone.utc)
PAIRS = 7
TOML = """name = "Hand-built programme"
starts = 2026-09-01
ends = 2027-06-30
cadence_weeks = 4
language = "en"
timezone = "Europe/Copenhagen"
roster = "roster.csv"

[timeline]
min_group = {min_group}
"""


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _write(folder: Path, min_group: int = 3, manager_name: str = "Mia Manager") -> Path:
    lines = ["email,name,role,pair,timezone,language",
             f"mia@example.org,{manager_name},manager,,Europe/Copenhagen,en"]
    for i in range(1, PAIRS + 1):
        lines.append(f"mentor{i}@example.org,Mentor {i},mentor,p{i},Europe/Copenhagen,en")
        lines.append(f"mentee{i}@example.org,Mentee {i},mentee,p{i},Europe/Copenhagen,en")
    (folder / "roster.csv").write_text("\n".join(lines) + "\n")
    path = folder / "programme.toml"
    path.write_text(TOML.format(min_group=min_group))
    return path


class Built:
    """The imported programme, with helpers that write rows as the bot would."""

    def __init__(self, db, folder: Path, **options) -> None:
        self.db = db
        import_programme(db, _write(folder, **options), now=_utc(2026, 8, 20))
        with db.unit() as session:
            self.programme = session.exec(select(Programme)).one()
            self.pair = {p.key: p.id for p in session.exec(select(Pair))}
            self.person = {p.email.split("@")[0]: p.id for p in session.exec(select(Person))}
        self._keys = 0

    def report(self, now: datetime = NOW) -> report.Report:
        with self.db.unit() as session:
            return programme_report(session, session.get(Programme, self.programme.id), now)

    def figures(self, until: datetime = NOW) -> report.EvaluationFigures:
        """The evaluation's aggregates as they would be published if it closed at `until`."""
        with self.db.unit() as session:
            programme = session.get(Programme, self.programme.id)
            rules = report.Rules(phase="closing", agreed=1, agreed_total=1,
                                 min_group=Settings.of(programme).min_group,
                                 likert=EVALUATION_LIKERT, open_questions=EVALUATION_OPEN)
            return report.evaluation_figures(session, programme.id, rules,
                                             max(3, rules.min_group), until)

    def meet(self, pair: str, when: datetime) -> None:
        with self.db.unit() as session:
            session.add(Meeting(pair_id=self.pair[pair], logged_by=self.person[f"mentee{pair[1:]}"],
                                held_at=when, minutes=60, note="private", created_at=when))

    def deliver(self, who: str, kind: str, status: str, when: datetime, *, error: str = "",
                attempts: int = 0, payload: dict | None = None, pair: str | None = None) -> None:
        self._keys += 1
        with self.db.unit() as session:
            session.add(Delivery(
                key=f"test:{self._keys}", person_id=self.person[who],
                pair_id=self.pair[pair] if pair else None, programme_id=self.programme.id,
                kind=kind, payload_json=json.dumps(payload or {}), due_at=when,
                stale_after=when.replace(year=when.year + 1), status=status,
                claimed_at=when if status != "pending" or attempts else None, attempts=attempts,
                last_error=error, sent_at=when if status == "sent" else None,
                text="what the message said"))

    def answer(self, who: str, form: str, question: str, rating: int | None = None,
               text: str = "") -> None:
        pair = f"p{who.removeprefix('mentor').removeprefix('mentee')}"
        with self.db.unit() as session:
            session.add(Answer(person_id=self.person[who], pair_id=self.pair[pair], form=form,
                               question=question, rating=rating, text=text, created_at=NOW))


@pytest.fixture
def built(database, tmp_path) -> Built:
    return Built(database, tmp_path)


def test_pairs_are_meeting_drooping_or_silent_by_the_documented_rules(built):
    with built.db.unit() as session:  # p7 joined the programme late, on 10 January
        session.get(Pair, built.pair["p7"]).started_at = _utc(2027, 1, 10, 8)
    built.meet("p1", _utc(2026, 12, 8, 10))
    built.meet("p1", _utc(2027, 1, 5, 10))  # 10 days ago
    built.deliver("mia", "droop_flag", "sent", _utc(2026, 11, 1, 9),  # too old to count
                  payload={"flag_pair": built.pair["p1"]})
    built.meet("p2", _utc(2026, 12, 1, 10))  # 6.4 weeks ago: more than 1.5 x 4 weeks
    built.meet("p3", _utc(2027, 1, 2, 10))  # met recently, but flagged after that
    built.deliver("mia", "droop_flag", "sent", _utc(2027, 1, 10, 9),
                  payload={"flag_pair": built.pair["p3"], "reason": "falling_ratings"})
    built.deliver("mia", "droop_flag", "sent", _utc(2026, 12, 20, 9),  # flagged, then met
                  payload={"flag_pair": built.pair["p4"]})
    built.meet("p4", _utc(2027, 1, 8, 10))
    built.meet("p5", _utc(2026, 10, 1, 10))  # 15 weeks ago: more than 3 x 4 weeks
    # p6 never met since September; p7 has not met yet but only began five days ago.
    built.meet("p1", _utc(2027, 2, 1, 10))  # after `now`: not counted yet

    health = built.report()

    got = {p.key: (p.status, p.held, p.last_met, p.flagged) for p in health.pairs}
    assert got == {
        "p1": ("meeting", 2, datetime(2027, 1, 5).date(), False),
        "p2": ("drooping", 1, datetime(2026, 12, 1).date(), False),
        "p3": ("drooping", 1, datetime(2027, 1, 2).date(), True),
        "p4": ("meeting", 1, datetime(2027, 1, 8).date(), False),
        "p5": ("silent", 1, datetime(2026, 10, 1).date(), False),
        "p6": ("silent", 0, None, False),
        "p7": ("meeting", 0, None, False),
    }
    assert health.counts == {"meeting": 3, "drooping": 2, "silent": 2}
    assert {p.agreed for p in health.pairs} == {5}  # 1 at the start + one per 4 weeks since
    assert health.held == 6 and health.phase == "middle"


def test_meetings_per_month_against_what_the_cadence_promises(built):
    built.meet("p1", _utc(2026, 9, 15, 10))
    built.meet("p2", _utc(2026, 9, 30, 23, 30))  # 1 October, 01:30 in Copenhagen
    built.meet("p3", _utc(2026, 10, 20, 10))
    built.meet("p1", _utc(2027, 1, 12, 10))
    built.meet("p2", _utc(2027, 2, 2, 10))  # after `now`

    months = built.report().months

    assert [m.month.isoformat()[:7] for m in months] == [
        "2026-09", "2026-10", "2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04",
        "2027-05", "2027-06"]
    assert [m.held for m in months] == [1, 2, 0, 0, 1, 0, 0, 0, 0, 0]
    # Seven pairs, one meeting each per 28 days, spread over the days of each month.
    assert months[0].promised == pytest.approx(7 * 30 / 28, abs=0.01)
    assert months[1].promised == pytest.approx(7 * 31 / 28, abs=0.01)
    assert months[5].promised == pytest.approx(7 * 28 / 28, abs=0.01)
    assert built.report().this_month.held == 1


def test_unreachable_people_are_named_with_a_reason_category_only(built):
    early, later = _utc(2026, 9, 2, 9), _utc(2026, 10, 1, 9)
    built.deliver("mentee1", "kickoff", "failed", early,
                  error="account_inactive: ZEBRA-SECRET-42", attempts=1)
    built.deliver("mentee2", "kickoff", "pending", early,
                  error="not_installed: has not opened a chat with the bot yet", attempts=2)
    built.deliver("mentee3", "kickoff", "sent", early)
    built.deliver("mentee3", "pulse", "failed", later, error="user_not_found", attempts=1)
    built.deliver("mentee4", "kickoff", "failed", early, error="channel_not_found", attempts=1)
    built.deliver("mentee4", "pulse", "sent", later)  # reached again since
    built.deliver("mentee5", "kickoff", "pending", early)  # never sent, long overdue
    built.deliver("mentee6", "kickoff", "sent", early)
    built.deliver("mentee6", "pulse", "skipped", later, error="snoozed")  # a choice, not a fault
    built.deliver("mentor7", "kickoff", "failed", early,
                  error="teams: no service URL for this conversation", attempts=1)
    built.deliver("mentor6", "kickoff", "pending", _utc(2027, 1, 14, 9))  # due only yesterday

    unreachable = built.report().unreachable

    assert [(u.name, u.role, u.reason) for u in unreachable] == [
        ("Mentee 1", "mentee", "account_inactive"),
        ("Mentee 2", "mentee", "not_installed"),
        ("Mentee 3", "mentee", "not_found"),
        ("Mentee 5", "mentee", "never_reached"),
        ("Mentor 7", "mentor", "other"),
    ]
    assert "ZEBRA" not in repr(unreachable)


def test_deliveries_are_counted_by_kind_and_outcome(built):
    when = _utc(2026, 10, 1, 9)
    for status in ("sent", "sent", "pending", "claimed", "failed", "skipped"):
        built.deliver("mentee1", "announcement", status, when,
                      attempts=1 if status == "failed" else 0)
    built.deliver("mentee2", "kickoff", "sent", when)

    kinds = {k.kind: k for k in built.report().deliveries}

    assert kinds["announcement"] == report.KindCount("announcement", sent=2, pending=2, failed=1,
                                                    skipped=1)
    assert kinds["kickoff"] == report.KindCount("kickoff", sent=1)


def test_a_rating_distribution_is_shown_only_from_three_respondents_per_role(built):
    for n, rating in ((1, 4), (2, 5), (3, 4)):
        built.answer(f"mentor{n}", "evaluation", "trust", rating)
    built.answer("mentee1", "evaluation", "trust", 4)
    built.answer("mentee2", "evaluation", "trust", 5)
    built.answer("mentee3", "pulse:1", "trust", 1)  # another form: not an evaluation answer

    trust = next(d for d in built.figures().evaluation if d.question == "trust")
    assert trust.mentors == report.Group(3, (0, 0, 0, 2, 1))
    assert trust.mentees == report.Group(None, None) and not trust.mentees.shown  # not even "2"

    built.answer("mentee3", "evaluation", "trust", 2)
    trust = next(d for d in built.figures().evaluation if d.question == "trust")
    assert trust.mentees == report.Group(3, (0, 1, 0, 1, 1))
    assert trust.mentees.average == pytest.approx(11 / 3)
    assert built.figures().respondents == {"mentor": 3, "mentee": 3}


def test_goal_change_and_open_answers_need_the_minimum_group(built):
    for who in ("mentee1", "mentee2"):
        built.answer(who, "baseline", "goal_1", 2)
        built.answer(who, "evaluation", "goal_1", 4)
        built.answer(who, "baseline", "goals", text="1) ZEBRA-SECRET-42")
    built.answer("mentor1", "evaluation", "goal_1", 1)  # mentors have no goals of their own
    built.answer("mentee1", "evaluation", "improve", text="Zeta idea")
    built.answer("mentor1", "evaluation", "improve", text="alpha idea")
    built.answer("mentee2", "evaluation", "improve", text="")  # skipped: not an answer
    health = built.figures()
    assert health.goals == report.GoalChange(mentees=None, goals=None) and not health.goals.shown
    improve = next(o for o in health.open_answers if o.question == "improve")
    assert improve == report.OpenAnswers("improve", None, None)

    built.answer("mentee3", "baseline", "goal_1", 1)
    built.answer("mentee3", "baseline", "goal_2", 3)  # never rated at the end: left out
    built.answer("mentee3", "evaluation", "goal_1", 3)
    built.answer("mentee3", "evaluation", "improve", text="Beta idea")
    health = built.figures()
    assert (health.goals.mentees, health.goals.goals) == (3, 3)
    assert health.goals.before == pytest.approx(5 / 3)
    assert health.goals.after == pytest.approx(11 / 3)
    assert health.goals.change == pytest.approx(2.0)
    improve = next(o for o in health.open_answers if o.question == "improve")
    assert improve.answers == ("alpha idea", "Beta idea", "Zeta idea")  # sorted, nameless
    assert "ZEBRA" not in repr(health)


def test_a_minimum_group_below_three_in_the_toml_is_raised_to_three(database, tmp_path):
    built = Built(database, tmp_path, min_group=2)
    assert json.loads(built.programme.settings_json)["timeline"]["min_group"] == 2
    assert Settings.of(built.programme).min_group == 3
    built.answer("mentee1", "evaluation", "trust", 4)
    built.answer("mentee2", "evaluation", "trust", 5)

    health = built.report(datetime(2027, 7, 20, tzinfo=timezone.utc))  # evaluation closed

    assert health.min_group == 3 and health.evaluation_published
    trust = next(d for d in health.evaluation if d.question == "trust")
    assert trust.mentees == report.Group(None, None)
    rules = report.Rules(phase="middle", agreed=1, agreed_total=1, min_group=1,
                         likert=("trust",), evaluation_closes=NOW)
    with built.db.unit() as session:
        direct = report.build(session, session.get(Programme, built.programme.id), NOW, rules, [])
    assert direct.min_group == 3 and direct.evaluation[0].mentees.counts is None
