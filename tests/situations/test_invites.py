"""One appointment is one calendar event in every invite about it: the same UID, a higher
SEQUENCE on every move, REQUEST then CANCEL, each stamped when it was made. Every invite in
this suite also passes `tests/situations/invites.py` (a real iCalendar parser, RFC 5545/5546)."""
from datetime import datetime, UTC

from conversations.ics import Attendee, invite
from tests.situations.invites import ORGANIZER, check_invite


def test_book_move_and_cancel_update_one_calendar_event(room):
    r = room("cph-chicago")
    r.warm_up("2026-12-08 16:00", "jonas")
    r.say("jonas", "next friday 16:00")
    r.run_until("2026-12-08 16:30", "jonas")
    r.clock.set(r.moment("2026-12-09 16:00", "jonas"))
    r.say("jonas", "move friday 16:30")
    r.run_until("2026-12-09 16:30", "jonas")
    r.clock.set(r.moment("2026-12-10 16:00", "jonas"))
    r.say("jonas", "cancel sorry, a clash")
    r.run_until("2026-12-10 16:30", "jonas")
    seen = [(email.split("@")[0], i.method, i.sequence, i.start.strftime("%d %H:%M"),
             i.stamp.strftime("%d %H:%M")) for email, i in r.invites]
    assert seen == [
        ("jonas", "REQUEST", 0, "11 15:00", "08 15:00"),
        ("grace", "REQUEST", 0, "11 15:00", "08 15:00"),
        ("jonas", "REQUEST", 1, "11 15:30", "09 15:00"),
        ("grace", "REQUEST", 1, "11 15:30", "09 15:00"),
        ("jonas", "CANCEL", 2, "11 15:30", "10 15:00"),
        ("grace", "CANCEL", 2, "11 15:30", "10 15:00"),
    ]
    assert len({i.uid for _, i in r.invites}) == 1
    assert all(set(i.attendees) == {"jonas@example.org", "grace@example.org"}
               for _, i in r.invites)


def test_long_names_and_odd_characters_fold_escape_and_stay_readable():
    name = "Ærøskøbing Ødegård, \"the Great\"; back\\slash " + "x" * 300
    raw = invite(uid="0123456789abcdef0123456789abcdef", sequence=3,
                 at=datetime(2027, 3, 29, 8, 0, tzinfo=UTC), minutes=60,
                 title="Mentoring meeting with \ue000" + name + "\ue001", organizer=ORGANIZER,
                 attendees=[Attendee(name, "a@example.org"), Attendee("B", "b@example.org")],
                 stamp=datetime(2027, 3, 25, 9, 0, tzinfo=UTC))
    checked = check_invite(("mentoring.ics", "text/calendar", raw))
    assert checked.summary.startswith("Mentoring meeting with Ærøskøbing Ødegård, \"the Great\"; "
                                      "back\\slash xxx")
    assert len(checked.summary) == 200 and checked.sequence == 3
    assert checked.uid == "0123456789abcdef0123456789abcdef@mentor-companion.invalid"
