"""`status`: where the pair stands, at a glance."""
from __future__ import annotations

from conversations.grammar import Command
from conversations.messages import Button
from conversations.programme import end_moment, meetings_agreed_by, meetings_agreed_total, phase
from conversations.turn import Turn
from storage import meetings
from storage.people import Role


def status(turn: Turn, command: Command) -> None:
    if not any(r.pair for r in turn.roles):
        for role in turn.roles:
            turn.say("status/manager", programme=role.programme.name,
                     phase=phase(role.programme, turn.now), ends=role.programme.ends)
        return
    role = turn.pair_role()
    say_status(turn, role)


def say_status(turn: Turn, role: Role) -> None:
    pair_id = role.pair.id
    last = meetings.last_meeting(turn.session, pair_id)
    booked = meetings.next_appointment(turn.session, pair_id)
    # A booked meeting whose time has passed is not "next": it waits for did-you-meet.
    waiting = booked if booked is not None and booked.at <= turn.now else None
    if waiting is not None:
        booked = None
    buttons = () if waiting is None else tuple(
        Button(turn.text(f"buttons/{label}"), "did_meet", f"{answer}:{waiting.id}")
        for label, answer in (("met_yes", "yes"), ("met_moved", "moved"),
                              ("met_not_yet", "not_yet")))
    turn.say(
        "status/pair",
        programme=role.programme.name,
        partners=[p.name for p, _ in turn.partners(role)],
        held=meetings.meeting_count(turn.session, pair_id),
        agreed=meetings_agreed_by(role.programme, turn.now, role.pair.started_at),
        total=meetings_agreed_total(role.programme, role.pair.started_at),
        cadence=role.programme.cadence_weeks,
        last=last.held_at.astimezone(turn.tz) if last else None,
        booked=booked.at.astimezone(turn.tz) if booked else None,
        waiting=waiting.at.astimezone(turn.tz) if waiting else None,
        phase=phase(role.programme, turn.now),
        ends=role.programme.ends,
        ended=turn.now > end_moment(role.programme),
        buttons=buttons,
    )
