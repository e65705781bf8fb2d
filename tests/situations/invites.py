"""Every calendar invite the bot makes, parsed with a real iCalendar parser and checked against
RFC 5545 (iCalendar) and RFC 5546 (iTIP): what calendars need to add, update and cancel it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import icalendar

from conversations.texts import USER_END, USER_START

ORGANIZER = "mentoring-bot@mentor-companion.invalid"  # app.DEFAULT_BOT_EMAIL


@dataclass(frozen=True)
class Invite:
    method: str
    uid: str
    sequence: int
    start: datetime
    stamp: datetime
    summary: str
    attendees: tuple[str, ...]
    status: str


def check_invite(attachment: tuple[str, str, bytes]) -> Invite:
    name, mime, content = attachment
    assert name.endswith(".ics") and mime == "text/calendar"
    raw = content.decode("utf-8")
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "")  # CRLF line ends
    for line in content.split(b"\r\n"):
        assert len(line) <= 75, line  # folded at 75 octets
    assert USER_START not in raw and USER_END not in raw  # no internal marker characters
    calendar = icalendar.Calendar.from_ical(content)
    assert str(calendar["VERSION"]) == "2.0" and calendar.get("PRODID")
    method = str(calendar["METHOD"])
    assert method in ("REQUEST", "CANCEL")
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    uid = str(event["UID"])
    local, _, domain = uid.partition("@")
    assert len(local) >= 32 and domain and not local.isdigit()  # globally unique, not a row id
    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{ORGANIZER}"
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert len(attendees) >= 2 and all(str(a).startswith("mailto:") for a in attendees)
    status = str(event["STATUS"])
    assert status == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
    summary = str(event["SUMMARY"])
    assert summary and not summary.endswith("\\")
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start.tzinfo is not None and end > start
    stamp = event.decoded("DTSTAMP")
    assert stamp.tzinfo is not None
    return Invite(method, uid, int(event["SEQUENCE"]), start, stamp, summary,
                  tuple(str(a).removeprefix("mailto:") for a in attendees), status)
