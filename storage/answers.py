"""Answers to dialog questions and where each person is in a dialog (private to the person)."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, delete, select

from storage.tables import Answer, Delivery, DialogState


def save_answer(session: Session, *, person_id: int, pair_id: int, form: str, question: str,
                now: datetime, rating: int | None = None, text: str = "") -> Answer:
    answer = session.exec(select(Answer).where(
        Answer.person_id == person_id, Answer.pair_id == pair_id, Answer.form == form,
        Answer.question == question)).first()
    if answer is None:
        answer = Answer(person_id=person_id, pair_id=pair_id, form=form, question=question,
                        created_at=now)
        session.add(answer)
    answer.rating, answer.text, answer.created_at = rating, text, now
    session.flush()
    return answer


def answers_for(session: Session, person_id: int, pair_id: int, form: str) -> dict[str, Answer]:
    query = select(Answer).where(Answer.person_id == person_id, Answer.pair_id == pair_id,
                                 Answer.form == form)
    return {a.question: a for a in session.exec(query)}


def answers_of_person(session: Session, person_id: int) -> list[Answer]:
    return list(session.exec(select(Answer).where(Answer.person_id == person_id)))


def asked_questions(session: Session, person_id: int, form_prefix: str) -> set[str]:
    query = select(Answer.question).where(Answer.person_id == person_id,
                                          Answer.form.startswith(form_prefix))
    return set(session.exec(query))


def dialog_of(session: Session, person_id: int) -> DialogState | None:
    return session.get(DialogState, person_id)


def set_dialog(session: Session, *, person_id: int, pair_id: int, form: str, question: str,
               now: datetime) -> None:
    state = session.get(DialogState, person_id)
    if state is None:
        state = DialogState(person_id=person_id, pair_id=pair_id, form=form, question=question,
                            updated_at=now)
        session.add(state)
    state.pair_id, state.form, state.question, state.updated_at = pair_id, form, question, now
    session.flush()


def end_dialog(session: Session, person_id: int) -> None:
    session.execute(delete(DialogState).where(DialogState.person_id == person_id))


def prompts_sent(session: Session, person_id: int, pair_id: int,
                 kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """(kind, payload JSON) of the prompts of these kinds sent to this person about this pair:
    which questions they were asked."""
    query = select(Delivery.kind, Delivery.payload_json).where(
        Delivery.person_id == person_id, Delivery.pair_id == pair_id, Delivery.status == "sent",
        Delivery.kind.in_(kinds))
    return list(session.exec(query))
