"""Issue 11, finding 12: evaluation results cannot be de-anonymised by comparing two downloads.

If the report recomputed its evaluation figures on every download, a manager could download it,
wait for one person's `forget` (or one new answer) and download again: the difference would be
that person's ratings and open answers. The figures are published once per evaluation window,
when the evaluation closes (two weeks after the formal end), as a frozen snapshot; before that
the report says when they come, in English and Danish; and no figure counts fewer than 3 people.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from bot.report.csv import render_csv
from bot.report.html import render_html
from conversations.health import programme_report
from storage.tables import Answer, Membership, Person, Programme
from tests.helpers import import_programme, say

MAJA = "maja.kruse@example.org"
MENTORS = ("mads.holm", "grace.okafor", "priya.raman", "lars.nielsen")
MENTEES = ("sofie.lund", "jonas.berg", "tom.becker", "anna.weiss", "omar.haddad")
DURING = datetime(2027, 6, 25, 8, 0, tzinfo=timezone.utc)  # evaluation open: ends 30 June
AFTER_CLOSE = datetime(2027, 7, 15, 8, 0, tzinfo=timezone.utc)  # closed on 14 July, 23:59


def _answer(services, who: str, question: str, rating: int | None = None, text: str = "",
            at: datetime = DURING) -> None:
    with services.db.unit() as s:
        person = s.exec(select(Person).where(Person.email == f"{who}@example.org")).one()
        member = s.exec(select(Membership).where(Membership.person_id == person.id,
                                                 Membership.pair_id.is_not(None))).first()
        s.add(Answer(person_id=person.id, pair_id=member.pair_id, form="evaluation",
                     question=question, rating=rating, text=text, created_at=at))


def _everyone_answers(services) -> None:
    for n, who in enumerate(MENTORS + MENTEES):
        _answer(services, who, "trust", 1 + n % 5)
        _answer(services, who, "most_valuable", text=f"ANSWER-OF-{who}")
    for who in MENTEES[:2]:  # only two mentees answer this one: a group of two
        _answer(services, who, "recommend", 5)


def _downloads(services, now: datetime) -> dict[str, str]:
    with services.db.unit() as s:
        programme = s.exec(select(Programme)).one()
        health = programme_report(s, programme, now)
    services.clock.set(now)
    return {"html en": render_html(health, "en"), "html da": render_html(health, "da"),
            "csv": render_csv(health), "chat": "\n".join(say(services, MAJA, "report")),
            "chat da": "\n".join(say(services, "mads.holm@example.org", "help"))}


def _evaluation_part(download: dict[str, str]) -> dict[str, str]:
    """What a comparison of two downloads would look at: every evaluation figure."""
    html = download["html en"]
    part = html[html.index('id="evaluation"'):html.index("<footer>")]
    cards = re.search(r'<div class="card">.*?Evaluation answers.*?</div>', html, re.S).group(0)
    csv = [line for line in download["csv"].splitlines()
           if line.split(",")[0] in ("evaluation", "evaluation_respondents", "goals",
                                     "open_answers")]
    chat = [line for line in download["chat"].splitlines() if line.startswith("Evaluation")]
    return {"html": part, "card": cards, "csv": "\n".join(csv), "chat": "\n".join(chat)}


def test_nothing_is_published_while_the_evaluation_is_open(services, clock):
    import_programme(services.db, now=clock.now())
    _everyone_answers(services)
    seen = _downloads(services, DURING)
    for where, body in seen.items():
        assert "ANSWER-OF-" not in body, where
    assert "published once, on 14 July 2027, when the evaluation closes" in seen["html en"]
    assert "offentliggøres én gang, 14. juli 2027, når evalueringen lukker" in seen["html da"]
    assert "evaluation,,,published_on,2027-07-14" in seen["csv"]
    assert "evaluation,trust" not in seen["csv"] and "evaluation_respondents" not in seen["csv"]
    assert "Evaluation: the results are published once, on" in seen["chat"]


def _forget_jonas(services) -> None:
    say(services, "jonas.berg@example.org", "forget")
    say(services, "jonas.berg@example.org", "forget confirm")
    with services.db.unit() as s:  # his answers really are gone from the database
        assert not s.exec(select(Answer).where(Answer.text == "ANSWER-OF-jonas.berg")).all()


def _late_answer(services) -> None:
    _answer(services, "tom.becker", "recommend", 1, at=services.clock.now())
    _answer(services, "tom.becker", "improve", text="LATE-ANSWER", at=services.clock.now())


@pytest.mark.parametrize("change", [_forget_jonas, _late_answer])
def test_two_downloads_around_one_change_show_the_same_figures(services, clock, change):
    import_programme(services.db, now=clock.now())
    _everyone_answers(services)
    first = _downloads(services, AFTER_CLOSE)
    assert "ANSWER-OF-jonas.berg" in first["html en"]  # published: the figures are there

    services.clock.set(AFTER_CLOSE + timedelta(days=1))
    change(services)
    second = _downloads(services, AFTER_CLOSE + timedelta(days=2))

    assert _evaluation_part(second) == _evaluation_part(first)
    assert "LATE-ANSWER" not in second["html en"]
    assert "Published once, when the evaluation closed on 14 July 2027" in first["html en"]
    assert "Offentliggjort én gang, da evalueringen lukkede 14. juli 2027" in first["html da"]


def test_no_figure_counts_fewer_than_three_people(services, clock):
    import_programme(services.db, now=clock.now())
    _everyone_answers(services)
    seen = _downloads(services, AFTER_CLOSE)
    page = seen["html en"]
    recommend = page[page.index("I would recommend the programme"):]
    recommend = recommend[:recommend.index("</figure>")]
    assert "Mentees (fewer than 3)" in recommend and "(2)" not in recommend
    assert "evaluation,recommend,mentee,respondents" not in seen["csv"]
    assert "evaluation,recommend,mentee,hidden,too_few_respondents" in seen["csv"]
    assert "evaluation,trust,mentee,respondents,5" in seen["csv"]  # five is a figure to give


def test_one_publication_even_when_two_replicas_publish_at_once(database, clock):
    """Replica B reads "not published yet", A publishes and commits, then B tries: B gets A's."""
    from conversations.programme import evaluation_closes
    from storage import evaluation_results
    from storage.tables import EvaluationResult

    import_programme(database, now=clock.now())
    with database.unit() as s:
        programme = s.exec(select(Programme)).one()
    closes = evaluation_closes(programme)
    assert closes < AFTER_CLOSE
    now = closes + timedelta(minutes=1)

    def replica_a_first(_until) -> str:
        with database.unit() as other:
            evaluation_results.published(other, programme.id, now, closes, lambda _: '"A"')
        return '"B"'

    with database.unit() as s:
        assert evaluation_results.published(s, programme.id, now, closes, replica_a_first) \
            == '"A"'
    with database.unit() as s:
        assert [r.figures_json for r in s.exec(select(EvaluationResult))] == ['"A"']
        assert evaluation_results.published(s, programme.id, now, closes, lambda _: '"C"') \
            == '"A"'
        assert evaluation_results.published(s, programme.id, closes - timedelta(seconds=1),
                                            closes, lambda _: '"C"') is None
