"""A button's value is whatever the platform sends back, so an answer is accepted only for a
question this person was actually asked (their open dialog, or a prompt that was sent to
them) and has not answered yet, with a value in range. Anything else gets a friendly reply
in the person's language, and nothing is stored."""
import pytest
from sqlmodel import select

from storage.people import person_by_email
from storage.tables import Answer, Delivery
from tests.helpers import import_programme, press, say, snapshot

JONAS, SOFIE = "jonas.berg@example.org", "sofie.lund@example.org"
NOT_ASKED = "That isn't a question I have open for you, so I haven't saved an answer."
IKKE_STILLET = "Det er ikke et spørgsmål, jeg venter på svar fra dig på, så jeg har ikke gemt"


def _answers(db, email: str) -> dict[tuple[str, str], int | None]:
    with db.unit() as s:
        person = person_by_email(s, email)
        rows = s.exec(select(Answer).where(Answer.person_id == person.id)).all()
        return {(a.form, a.question): a.rating for a in rows}


def _state(db) -> dict:
    """Every table but the chat identity, which each event refreshes."""
    return {name: rows for name, rows in snapshot(db).items() if name != "identity"}


def _refused(services, email: str, value: str, expected: str = NOT_ASKED) -> None:
    before = _state(services.db)
    [reply] = press(services, email, "answer", value)
    assert reply.startswith(expected), (value, reply)
    assert _state(services.db) == before, value  # nothing stored, nothing moved


@pytest.mark.parametrize("value", [
    "pulse:1|pulse_trust|5", "pulse:9999|pulse_useful|1",
    "reflection:m1:surprised|rating|1", "reflection:r1700000000:strength|rating|5",
    "evaluation|expectations|5", "evaluation|trust|1", "baseline|goal_1|5",
])
def test_an_answer_to_a_question_never_asked_is_refused(services, clock, value):
    import_programme(services.db, now=clock.now())
    _refused(services, JONAS, value)


def test_the_refusal_speaks_the_persons_language(services, clock):
    import_programme(services.db, now=clock.now())
    _refused(services, SOFIE, "evaluation|trust|1", IKKE_STILLET)
    assert "`evaluer`" in press(services, SOFIE, "answer", "evaluation|trust|1")[0]


def test_only_the_open_question_of_an_open_dialog_takes_a_button(services, clock):
    import_programme(services.db, now=clock.now())
    say(services, JONAS, "evaluate now")  # asks "expectations", the first of eleven
    _refused(services, JONAS, "evaluation|trust|5")  # not asked yet
    _refused(services, JONAS, "evaluation|most_valuable|hello")  # a text question, not a button
    _refused(services, JONAS, "evaluation|expectations|9", "I need a number from 1 to 5")
    _refused(services, JONAS, "evaluation|expectations|0", "I need a number from 1 to 5")
    assert "We built a relationship of trust." in press(services, JONAS, "answer",
                                                       "evaluation|expectations|4")[0]
    _refused(services, JONAS, "evaluation|expectations|1", "You've already answered that one")
    assert _answers(services.db, JONAS) == {("evaluation", "expectations"): 4}

    # The next question was asked in that reply: its button still counts after Jonas has
    # moved on to a reflection in between.
    reflection = say(services, JONAS, "reflect")[0]
    assert "Question 1 of" in reflection
    press(services, JONAS, "answer", "evaluation|trust|5")
    assert _answers(services.db, JONAS)[("evaluation", "trust")] == 5


def test_a_reflection_rating_counts_only_for_the_question_asked(services, clock):
    import_programme(services.db, now=clock.now())
    say(services, JONAS, "reflect")
    with services.db.unit() as s:
        [(form, question)] = [(a.form, a.question) for a in s.exec(select(Answer))]
    other = form.rsplit(":", 1)[0] + (":strength" if question != "strength" else ":courage")
    _refused(services, JONAS, f"{other}|rating|1")  # a reflection never asked
    _refused(services, JONAS, f"{form}|rating|1")  # asked, but its text question comes first
    say(services, JONAS, "That I can say no without apologising")
    press(services, JONAS, "answer", f"{form}|rating|2")
    assert _answers(services.db, JONAS)[(form, "rating")] == 2


async def test_a_pulse_counts_once_delivered_and_only_that_round(services, clock, messenger):
    import_programme(services.db, now=clock.now())
    _refused(services, JONAS, "pulse:1|pulse_trust|4")  # before the pulse went out
    clock.advance(days=28, hours=3)  # 11:00 in Copenhagen, two days before the first pulse
    for _ in range(14):  # day by day, until the first pulse has reached Jonas
        clock.advance(days=1)
        await services.pump()
        with services.db.unit() as s:
            jonas = person_by_email(s, JONAS).id
            sent = s.exec(select(Delivery).where(Delivery.kind == "pulse", Delivery.person_id
                                                 == jonas, Delivery.status == "sent")).all()
        if sent:
            break
    assert sent and "I can talk openly" in "".join(messenger.texts_for(JONAS))
    say(services, JONAS, "status")  # something else in between
    _refused(services, JONAS, "pulse:2|pulse_trust|4")  # the next round has not come
    _refused(services, JONAS, "pulse:1|pulse_useful|4")  # the pulse's second question
    press(services, JONAS, "answer", "pulse:1|pulse_trust|4")
    assert _answers(services.db, JONAS)[("pulse:1", "pulse_trust")] == 4
    press(services, JONAS, "answer", "pulse:1|pulse_useful|3")  # asked in that reply
    assert _answers(services.db, JONAS)[("pulse:1", "pulse_useful")] == 3
    clock.advance(days=1)
    _refused(services, JONAS, "pulse:1|pulse_trust|1", "You've already answered that one")


def test_a_manager_cannot_answer_for_a_pair(services, clock):
    import_programme(services.db, now=clock.now())
    _refused(services, "maja.kruse@example.org", "evaluation|expectations|5")
