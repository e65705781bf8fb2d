"""Calendar invites for booked meetings (RFC 5545 iCalendar, RFC 5546 iTIP methods).

One appointment is one calendar event: the same UID in every invite about it, a SEQUENCE raised
on every move, `METHOD:REQUEST` when it is booked or moved and `METHOD:CANCEL` when it is
cancelled, so calendars update or remove the event instead of adding another. The `icalendar`
package writes the text: escaping and folding at 75 octets are its job, not ours.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vText

from conversations.texts import strip_markers

PRODID = "-//mentor-companion//meetings//EN"
MAX_SUMMARY = 200


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str


def uid_for(appointment_uid: str, organizer: str) -> str:
    """Globally unique: the appointment's random uid at the bot's own domain."""
    domain = organizer.rpartition("@")[2] or "mentor-companion.invalid"
    return f"{appointment_uid}@{domain}"


def invite(*, uid: str, sequence: int, at: datetime, minutes: int, title: str, organizer: str,
           attendees: list[Attendee], stamp: datetime, cancelled: bool = False) -> bytes:
    """The invite as it should be attached; `stamp` is when it was made (DTSTAMP)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", uid_for(uid, organizer))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", at.astimezone(UTC))
    event.add("dtend", (at + timedelta(minutes=minutes)).astimezone(UTC))
    # Cut before escaping, so a cut never splits an escape sequence.
    event.add("summary", _plain(title)[:MAX_SUMMARY])
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("organizer", _address(organizer, "Mentoring companion"))
    for person in attendees:
        address = _address(person.email, person.name)
        address.params["ROLE"] = vText("REQ-PARTICIPANT")
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
        if not cancelled:
            address.params["RSVP"] = vText("TRUE")
        event.add("attendee", address, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(_plain(name)[:100])
    return address


def _plain(text: str) -> str:
    """No internal marker characters and no line breaks in a one-line property."""
    return " ".join(strip_markers(text).split())
