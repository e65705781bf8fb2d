"""A minimal iCalendar invite (RFC 5545) for a booked meeting, so it lands in the calendar."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n").replace("\r", ""))


def invite(*, uid: str, at: datetime, minutes: int, title: str) -> bytes:
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//mentor-companion//EN", "METHOD:PUBLISH",
        "BEGIN:VEVENT", f"UID:{uid}@mentor-companion", f"DTSTAMP:{_stamp(at)}",
        f"DTSTART:{_stamp(at)}", f"DTEND:{_stamp(at + timedelta(minutes=minutes))}",
        f"SUMMARY:{_escape(title)[:200]}", "END:VEVENT", "END:VCALENDAR",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
