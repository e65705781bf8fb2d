"""A person's own data: everything they wrote, as an export, or erased from every table."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, delete, select

from storage.console_access import end_sessions_of
from storage.files import forget_files
from storage.people import roles_of
from storage.tables import (
    Agenda,
    Answer,
    Delivery,
    DialogState,
    Identity,
    Meeting,
    Person,
    Rsvp,
)


def export_person(session: Session, person: Person) -> dict:
    """All that is this person's: profile, roles, what they logged, wrote and answered."""
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    pid = person.id
    return {
        "person": {"email": person.email, "name": person.name, "timezone": person.timezone,
                   "language": person.language, "snoozed_until": iso(person.snoozed_until),
                   "optional_prompts": not person.optional_opt_out},
        "roles": [{"programme": r.programme.name, "pair": r.membership.pair_key,
                   "role": r.name} for r in roles_of(session, pid)],
        "identities": [{"platform": i.platform, "user_id": i.user_id}
                       for i in session.exec(select(Identity).where(Identity.person_id == pid))],
        "meetings_logged": [{"held_at": iso(m.held_at), "minutes": m.minutes, "note": m.note}
                            for m in session.exec(select(Meeting).where(Meeting.logged_by == pid))],
        "agendas": [{"written_at": iso(a.created_at), "text": a.text}
                    for a in session.exec(select(Agenda).where(Agenda.author_id == pid))],
        "answers": [{"form": a.form, "question": a.question, "rating": a.rating, "text": a.text,
                     "at": iso(a.created_at)}
                    for a in session.exec(select(Answer).where(Answer.person_id == pid))],
        "messages_received": [{"kind": d.kind, "sent_at": iso(d.sent_at), "status": d.status}
                              for d in session.exec(select(Delivery)
                                                    .where(Delivery.person_id == pid))],
    }


def export_json(session: Session, person: Person) -> bytes:
    return json.dumps(export_person(session, person), indent=2, ensure_ascii=False).encode()


def forget_person(session: Session, person: Person) -> dict[str, int]:
    """Erase what this person wrote and what was sent to them; keep the bare facts the
    programme needs (that a meeting happened, that a prompt was sent, so it is not re-sent)."""
    pid = person.id
    agenda_ids = list(session.exec(select(Agenda.id).where(Agenda.author_id == pid)))
    counts = {
        "answers": session.execute(delete(Answer).where(Answer.person_id == pid)).rowcount,
        "notes": session.execute(update(Meeting).where(Meeting.logged_by == pid, Meeting.note != "")
                                 .values(note="")).rowcount,
        "messages": session.execute(update(Delivery).where(Delivery.person_id == pid)
                                    .values(text="", payload_json="{}")).rowcount,
    }
    theirs = set(agenda_ids)
    pairs = set(session.exec(select(Agenda.pair_id).where(Agenda.author_id == pid)))
    for row in session.exec(select(Delivery).where(Delivery.kind == "agenda",
                                                   Delivery.pair_id.in_(pairs))):
        # The forwarded copies in the mentor's inbox (a group's agendas may travel together:
        # the whole message goes, the others' agendas stay in the agenda table).
        payload = json.loads(row.payload_json or "{}")
        if theirs & set(payload.get("agenda_ids", [payload.get("agenda_id")])):
            row.text, row.payload_json = "", "{}"
            session.add(row)
    for row in session.exec(select(Delivery).where(
            Delivery.kind.in_(("meeting_cancelled", "meeting_regrets")), Delivery.person_id != pid)):
        if json.loads(row.payload_json or "{}").get("by") == pid:  # their note to the partner
            row.text, row.payload_json = "", "{}"
            session.add(row)
    counts["agendas"] = session.execute(delete(Agenda).where(Agenda.author_id == pid)).rowcount
    session.execute(delete(DialogState).where(DialogState.person_id == pid))
    session.execute(delete(Rsvp).where(Rsvp.person_id == pid))
    forget_files(session, pid)  # files still waiting for consent or behind a link
    end_sessions_of(session, pid)  # a manager's console sessions and unused sign-in links
    session.execute(delete(Identity).where(Identity.person_id == pid))
    person.snoozed_until, person.optional_opt_out = None, False
    session.add(person)
    session.flush()
    return counts

