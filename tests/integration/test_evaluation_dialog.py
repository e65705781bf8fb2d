"""The evaluation: one question at a time, clear re-asks, resumable, stored per person."""
from sqlmodel import select

from storage.people import person_by_email
from storage.tables import Answer
from tests.helpers import import_programme, press, say, snapshot

JONAS = "jonas.berg@example.org"


def _answers(db, email):
    with db.unit() as s:
        person = person_by_email(s, email)
        return {a.question: (a.rating, a.text) for a in
                s.exec(select(Answer).where(Answer.person_id == person.id,
                                            Answer.form == "evaluation"))}


def test_invalid_answers_are_re_asked_and_change_nothing(services, clock):
    import_programme(services.db, now=clock.now())
    first = say(services, JONAS, "evaluate now")[0]
    assert "The mentoring met my expectations." in first and "Question 1 of" in first
    for bad in ("0", "6", "five", "   "):
        before = snapshot(services.db)
        reply = say(services, JONAS, bad)[0]
        assert "I need a number from 1 to 5" in reply
        assert "The mentoring met my expectations." in reply  # the question again
        assert snapshot(services.db) == before
    assert "We built a relationship of trust." in say(services, JONAS, "4")[0]
    assert _answers(services.db, JONAS) == {"expectations": (4, "")}


def test_resuming_after_a_break_continues_at_the_next_unanswered_question(services, clock):
    import_programme(services.db, now=clock.now())
    say(services, JONAS, "evaluate now")
    for rating in ("5", "4", "3"):
        say(services, JONAS, rating)
    clock.advance(days=3)
    say(services, JONAS, "status")  # something else in between
    resumed = say(services, JONAS, "evaluate")[0]
    assert "I learned something I can use." in resumed and "Question 4 of" in resumed
    assert set(_answers(services.db, JONAS)) == {"expectations", "trust", "prepared"}


def test_buttons_answer_once_and_the_whole_form_is_stored(services, clock):
    import_programme(services.db, now=clock.now())
    say(services, JONAS, "evaluate now")
    assert "trust" in press(services, JONAS, "answer", "evaluation|expectations|5")[0]
    assert "already answered" in press(services, JONAS, "answer", "evaluation|expectations|2")[0]
    for _ in range(7):
        say(services, JONAS, "4")
    say(services, JONAS, "Learning to say no")
    say(services, JONAS, "skip")
    done = say(services, JONAS, "I will keep meeting my peers")[0]
    assert "That's all, thank you!" in done
    stored = _answers(services.db, JONAS)
    assert stored["expectations"] == (5, "")
    assert stored["most_valuable"] == (None, "Learning to say no")
    assert stored["improve"] == (None, "")
    assert len(stored) == 11
    assert "already finished" in say(services, JONAS, "evaluate")[0]
    # Answers are Jonas's alone: his mentor's evaluation is empty.
    assert _answers(services.db, "grace.okafor@example.org") == {}


def test_the_evaluation_opens_in_the_final_phase_and_can_start_early(services, clock):
    import_programme(services.db, now=clock.now())
    early = say(services, JONAS, "evaluate")[0]
    assert "The evaluation opens Wednesday 16 June 2027, 09:00" in early  # next year: shown and "`evaluate now`" in early
    assert _answers(services.db, JONAS) == {}
    danish = say(services, "sofie.lund@example.org", "evaluer")[0]
    assert "Evalueringen åbner onsdag 16. juni 2027 kl. 09.00" in danish
    # The button offered with it starts at once.
    assert "Question 1 of" in press(services, JONAS, "evaluate", "now")[0]


def test_mentors_and_mentees_are_asked_what_fits_them_and_thanked_once(services, clock):
    import_programme(services.db, now=clock.now())
    replies = [say(services, "grace.okafor@example.org", "evaluate now")[0]]
    while "Question" in replies[-1]:
        replies.append(say(services, "grace.okafor@example.org", "4")[0]
                       if "1 (low) to 5" in replies[-1] else
                       say(services, "grace.okafor@example.org", "skip")[0])
    text = "\n".join(replies)
    assert "line manager" not in text  # the line manager's support is the mentee's to judge
    assert text.count("thank you") + text.count("Thank you") == 2  # the intro and the end
    assert "That's all, thank you!" in replies[-1]
    mentee = say(services, JONAS, "evaluate now")[0]
    assert "Question 1 of 11" in mentee and "Question 1 of 9" in replies[0]
