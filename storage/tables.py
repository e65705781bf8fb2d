"""SQLModel tables: the whole persistent state of the bot (storage layer).

Datetimes are aware; SQLModel stores them as UTC and returns them in UTC on every database.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class Programme(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=120)
    name: str = Field(max_length=200)
    starts: date
    ends: date
    cadence_weeks: int = 4
    language: str = Field(default="en", max_length=5)
    timezone: str = Field(default="UTC", max_length=64)
    settings_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class Person(SQLModel, table=True):
    """One human, across programmes; found by email, reached through identities."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=254)
    name: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    language: str = Field(default="en", max_length=5)
    snoozed_until: datetime | None = None
    optional_opt_out: bool = False


class Pair(SQLModel, table=True):
    """A pair or group: one or two mentors with one or more mentees."""

    __table_args__ = (UniqueConstraint("programme_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    key: str = Field(max_length=80)
    active: bool = True
    started_at: datetime | None = None
    followed_up_at: datetime | None = None
    # When the timeline should look at this pair again; the tick reads only pairs due now.
    next_check_at: datetime | None = Field(default=None, index=True)


class Membership(SQLModel, table=True):
    """A person's role in a programme; pair_id is empty for managers."""

    __table_args__ = (UniqueConstraint("programme_id", "person_id", "pair_key"),
                      Index("ix_membership_programme_role", "programme_id", "role"))
    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    pair_id: int | None = Field(default=None, foreign_key="pair.id", index=True)
    pair_key: str = Field(default="", max_length=80)
    role: str = Field(max_length=10)
    active: bool = True


class Identity(SQLModel, table=True):
    """How to reach a person on one platform: a conversation reference in plain columns."""

    __table_args__ = (UniqueConstraint("platform", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=200)
    tenant_id: str = Field(default="", max_length=200)
    conversation_id: str = Field(default="", max_length=400)
    service_url: str = Field(default="", max_length=400)
    updated_at: datetime


class Appointment(SQLModel, table=True):
    """A booked meeting, a calendar event: scheduled (moved keeps it scheduled, at a new time,
    with its sequence raised) until it is held, cancelled or missed. `uid` is its calendar
    identity, the same in every invite for it."""

    __table_args__ = (Index("ix_appointment_pair_status", "pair_id", "status"),
                      Index("ix_appointment_uid", "uid", unique=True))
    id: int | None = Field(default=None, primary_key=True)
    pair_id: int = Field(foreign_key="pair.id")
    at: datetime
    status: str = Field(default="scheduled", max_length=12)
    booked_by: int = Field(foreign_key="person.id")
    created_at: datetime
    uid: str = Field(default="", max_length=64)
    sequence: int = 0
    changed_at: datetime | None = None  # when it was last booked, moved or cancelled


class Meeting(SQLModel, table=True):
    """A meeting that took place, as logged by a participant. The note is private to the pair."""

    id: int | None = Field(default=None, primary_key=True)
    pair_id: int = Field(foreign_key="pair.id", index=True)
    logged_by: int = Field(foreign_key="person.id", index=True)
    held_at: datetime
    minutes: int
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime


class Agenda(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    pair_id: int = Field(foreign_key="pair.id", index=True)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    author_id: int = Field(foreign_key="person.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class Answer(SQLModel, table=True):
    """An answer to a question in a dialog: reflection, pulse, baseline, evaluation.

    `form` names the questionnaire and its occurrence (e.g. "evaluation", "pulse:3",
    "reflection:41"), so one person answers each question of each occurrence once.
    """

    __table_args__ = (UniqueConstraint("person_id", "pair_id", "form", "question"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    pair_id: int = Field(foreign_key="pair.id", index=True)
    form: str = Field(max_length=60)
    question: str = Field(max_length=60)
    rating: int | None = None
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime


class DialogState(SQLModel, table=True):
    """Which question a person is in the middle of answering, so free text finds its home."""

    person_id: int = Field(primary_key=True, foreign_key="person.id")
    pair_id: int = Field(foreign_key="pair.id")
    form: str = Field(max_length=60)
    question: str = Field(max_length=60)
    updated_at: datetime


class Delivery(SQLModel, table=True):
    """The outbox: one row per prompt per recipient, claimed before it is sent.

    `key` is unique, so the timeline can propose the same prompt any number of times and it
    is stored once; `status` is pending → claimed → sent | failed | skipped.
    `unsure_since` is set when an attempt may have reached the person without our knowing (its
    answer was lost, or the process died holding the claim): the next attempt looks first
    where the platform allows it. `ambiguous` counts such attempts. `attempt_at` is when the
    current claim's post was about to go out (recorded just before it, cleared by a claim): a
    claim left by a dead process without it never posted, and is not read back.
    """

    __table_args__ = (Index("ix_delivery_status_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    person_id: int = Field(foreign_key="person.id", index=True)
    pair_id: int | None = Field(default=None, foreign_key="pair.id", index=True)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    kind: str = Field(max_length=32)
    priority: int = 5
    optional: bool = False
    payload_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    due_at: datetime
    stale_after: datetime
    status: str = Field(default="pending", max_length=10)
    claimed_at: datetime | None = None
    claimed_by: str = Field(default="", max_length=80)
    attempts: int = 0
    next_try_at: datetime | None = None
    last_error: str = Field(default="", max_length=300)
    sent_at: datetime | None = None
    platform: str = Field(default="", max_length=16)
    platform_ref: str = Field(default="", max_length=200)
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    read_at: datetime | None = None
    unsure_since: datetime | None = None
    ambiguous: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    attempt_at: datetime | None = None


class Announcement(SQLModel, table=True):
    """A touchpoint announcement a manager wrote: a draft until confirmed, then delivered."""

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    author_id: int = Field(foreign_key="person.id")
    audience: str = Field(max_length=100)
    template: str = Field(sa_column=Column(Text, nullable=False))
    event_at: datetime | None = None
    send_at: datetime
    rsvp: bool = True
    status: str = Field(default="draft", max_length=10)  # draft, sent, cancelled
    recipients: int = 0
    created_at: datetime


class Rsvp(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("announcement_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    attending: bool
    at: datetime


class EvaluationResult(SQLModel, table=True):
    """A programme's evaluation figures, published once when its evaluation closes.

    Frozen on purpose: figures that changed with every new answer or `forget` would let two
    downloads of the report be compared to find one person's answers. Aggregates only (the
    report's JSON form of them), never a person id.
    """

    programme_id: int = Field(primary_key=True, foreign_key="programme.id")
    closes_at: datetime
    published_at: datetime
    figures_json: str = Field(sa_column=Column(Text, nullable=False))


class FileOffer(SQLModel, table=True):
    """A file on its way to a Teams user: offered on a consent card, or behind a download link.

    Kept in the database so a consent given after a restart, or on another replica, still
    finds it; gone once delivered, declined, forgotten or out of time. `id` is random (it is
    all the consent card carries); a link's token is stored only as its SHA-256.
    """

    id: str = Field(primary_key=True, max_length=40)
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str = Field(max_length=200)
    mime: str = Field(max_length=100)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime
    expires_at: datetime = Field(index=True)
    token_hash: str | None = Field(default=None, unique=True, max_length=64)


class ConsoleLink(SQLModel, table=True):
    """A one-time sign-in link to the manager's web console, sent in chat: only the SHA-256 of
    its token is kept; it opens one session, once, within ten minutes."""

    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime
    expires_at: datetime = Field(index=True)


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser of the web console: the SHA-256 of its cookie, whose it is (None: the
    operator, signed in with ADMIN_TOKEN) and when it was last used (it ends after 8 idle hours)."""

    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    created_at: datetime
    seen_at: datetime = Field(index=True)


class InboxItem(SQLModel, table=True):
    """A verified inbound request, stored before the platform gets its 200 (the inbox).

    `key` is a digest of the platform's own id for the request (some of those name the user),
    unique, so a retry or a second replica stores it once. `sender` orders one person's
    requests: a worker claims only a sender's oldest open row. `sender`, `body` and
    `reply_json` (who asked, what they typed, what the engine answered) are kept only until
    the row is done or parked; then they are emptied, and the digest alone stays, to dedupe.
    status: pending → claimed → done | parked (kept failing; `last_error` says why); or claimed
    from the start, by the worker that stored it. At most one claimed row per sender.
    """

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_status_id", "status", "id"),
                      Index("ix_inbox_sender_id", "sender", "id"),
                      Index("ix_inbox_claimed_sender", "sender", unique=True,
                            postgresql_where=text("status = 'claimed'"),
                            sqlite_where=text("status = 'claimed'")))
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    platform: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    sender: str = Field(max_length=200)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    received_at: datetime
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    claimed_at: datetime | None = None
    claimed_by: str = Field(default="", max_length=80)
    next_try_at: datetime | None = None
    reply_json: str = Field(default="", sa_column=Column(Text, nullable=False))
    last_error: str = Field(default="", max_length=300)
    done_at: datetime | None = None
