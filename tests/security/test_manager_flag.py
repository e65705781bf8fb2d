"""A manager's droop flag says that a pair may need a hand and which kind of signal fired,
never the ratings or pulse answers behind it (in a pair of two, those are one person's
answers). The pair's own nudge does not show one member's numbers to the other either."""
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from conversations.outbox import MERGE_SEPARATOR
from storage.people import person_by_email
from storage.tables import Answer, Delivery, Pair, Person
from tests.helpers import import_programme

MAJA = "maja.kruse@example.org"  # the sample's manager
JONAS, GRACE = "jonas.berg@example.org", "grace.okafor@example.org"  # pair nordlys-02
ANNA, LARS = "anna.weiss@example.org", "lars.nielsen@example.org"  # group nordlys-04
TUESDAY = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)  # 10:00 in Copenhagen
SIGNAL = {"en": ("ratings they give their meetings have been falling",
                 "answers to the short check-ins have dropped"),
          "da": ("vurderinger af møderne er faldet", "svar på de korte tjek er faldet")}


def _answers(session, pair_key: str, rows: list[tuple[str, str, str, int]], at: datetime):
    pair = session.exec(select(Pair).where(Pair.key == pair_key)).one()
    for n, (email, form, question, rating) in enumerate(rows):
        session.add(Answer(person_id=person_by_email(session, email).id, pair_id=pair.id,
                           form=form, question=question, rating=rating,
                           created_at=at + timedelta(minutes=n)))
    pair.next_check_at = at  # look at the pair in the next tick


def _flags(texts: list[str]) -> list[str]:
    parts = [p for t in texts for p in t.split(MERGE_SEPARATOR)]
    return [p for p in parts if "nordlys-0" in p]


@pytest.mark.parametrize("lang", ["en", "da"])
async def test_the_flag_names_the_signal_and_never_the_numbers(services, clock, messenger,
                                                               lang):
    import_programme(services.db, now=clock.now())
    await services.pump()
    clock.set(TUESDAY)
    with services.db.unit() as s:
        person_by_email(s, MAJA).language = lang
        # nordlys-02's meeting ratings fall 5 → 4 → 2 (mentee, mentor, mentee)
        _answers(s, "nordlys-02", [(JONAS, "reflection:r1:surprised", "rating", 5),
                                   (GRACE, "reflection:r2:new_angle", "rating", 4),
                                   (JONAS, "reflection:r3:strength", "rating", 2)],
                 clock.now() - timedelta(days=3))
        # nordlys-04's pulse falls from 5.0 to 1.5
        _answers(s, "nordlys-04", [(ANNA, "pulse:1", "pulse_trust", 5),
                                   (LARS, "pulse:1", "pulse_trust", 5),
                                   (ANNA, "pulse:2", "pulse_trust", 1),
                                   (LARS, "pulse:2", "pulse_trust", 2)],
                 clock.now() - timedelta(days=3))
    await services.pump()

    flags = _flags(messenger.texts_for(MAJA))
    ratings = [f for f in flags if "nordlys-02" in f]
    pulse = [f for f in flags if "nordlys-04" in f]
    assert len(ratings) == 1 and SIGNAL[lang][0] in ratings[0], flags
    assert len(pulse) == 1 and SIGNAL[lang][1] in pulse[0], flags
    for flag in flags:
        assert not re.search(r"\d", flag.replace("nordlys-02", "").replace("nordlys-04", "")), \
            flag
        assert "→" not in flag and "/ 5" not in flag

    # The pair's nudge says the same kind of thing: Jonas does not read Grace's rating.
    clock.advance(hours=7)  # 09:00 in Chicago, where Grace works
    await services.pump()
    for email in (JONAS, GRACE, ANNA, LARS):
        nudges = [p for t in messenger.texts_for(email) for p in t.split(MERGE_SEPARATOR)
                  if "lost a little energy" in p or "mistet lidt energi" in p]
        assert nudges, email
        assert not any(re.search(r"\d", n) for n in nudges), nudges

    # Nor are the numbers kept in the outbox, where a later report could show them.
    with services.db.unit() as s:
        maja = person_by_email(s, MAJA).id
        rows = s.exec(select(Delivery).where(Delivery.kind.in_(("droop", "droop_flag")))).all()
        assert {r.person_id for r in rows if r.kind == "droop_flag"} == {maja}
        for row in rows:
            assert "detail" not in row.payload_json and "→" not in row.text
        assert s.exec(select(Person).where(Person.id == maja)).one().language == lang
