"""`announce`: a manager tells an audience about a touchpoint, after a preview and a confirm.

    announce mentees monday 14:00 Master class on feedback, room 3. See you, {{ first_name }}!
    announce later friday 9:00 mentors …   (prepared now, sent from Friday 9:00)
    announce confirm | announce cancel | announce status
Audiences: everyone, mentors, mentees, pair <id>, quiet <weeks> (pairs not met for that long).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from conversations import announcement_text
from conversations.catalog import KINDS
from conversations.grammar import Command, small_number
from conversations.messages import ActionInvoked, Button
from conversations.programme import Settings
from conversations.turn import Refusal, Turn
from conversations.when import split_when
from conversations.working_hours import previous_working_day_at
from storage import announcements
from storage.outbox import Proposal, propose
from storage.people import Role
from storage.tables import Announcement

AUDIENCES = {"everyone": "everyone", "all": "everyone", "alle": "everyone", "mentors": "mentors",
             "mentorer": "mentors", "mentees": "mentees", "pair": "pair", "group": "pair",
             "par": "pair", "gruppe": "pair", "quiet": "quiet", "stille": "quiet"}
SEND, CANCEL, RSVP = "announce_send", "announce_cancel", "rsvp"


def announce(turn: Turn, command: Command) -> None:
    role = manager_role(turn)
    words = command.full_args.split()
    if not words:
        raise Refusal("announce/usage")
    head = words[0].lower()
    if head in ("confirm", "send", "bekræft", "send!"):
        confirm(turn, role, announcements.latest_draft(turn.session, turn.person.id))
    elif head in ("cancel", "annuller"):
        cancel(turn, announcements.latest_draft(turn.session, turn.person.id))
    elif head == "status":
        status(turn, role)
    elif head in ("later", "senere"):
        parsed = split_when(" ".join(words[1:]), now=turn.now, tz=turn.tz, lang=turn.lang,
                            prefer="future")
        if parsed is None or not parsed[0].has_time or parsed[0].at <= turn.now:
            raise Refusal("announce/later_usage")
        draft(turn, role, parsed[1], send_at=parsed[0].at)
    else:
        draft(turn, role, command.full_args)


def manager_role(turn: Turn) -> Role:
    roles = [r for r in turn.roles if r.name == "manager"]
    if not roles:
        raise Refusal("announce/managers_only")
    if len(roles) > 1:
        raise Refusal("announce/which_programme", slugs=[r.programme.slug for r in roles])
    return roles[0]


def parse_audience(turn: Turn, role: Role, text: str) -> tuple[str, str]:
    """'mentees monday 14:00 …' → ('mentees', 'monday 14:00 …')."""
    words = text.split()
    kind = AUDIENCES.get(words[0].lower()) if words else None
    if kind is None:
        raise Refusal("announce/audience_unknown", said=(words[0] if words else "")[:30])
    if kind in ("pair", "quiet"):
        if len(words) < 2:
            raise Refusal("announce/audience_unknown", said=words[0][:30])
        arg = words[1].lower().rstrip("w")
        if kind == "quiet" and not 1 <= (small_number(arg) or 0) <= 52:
            raise Refusal("announce/quiet_weeks")
        if kind == "pair" and not announcements.pair_exists(turn.session, role.programme.id, words[1]):
            raise Refusal("announce/pair_unknown", key=words[1][:40])
        return f"{kind}:{arg if kind == 'quiet' else words[1]}", " ".join(words[2:])
    return kind, " ".join(words[1:])


def draft(turn: Turn, role: Role, text: str, *, send_at: datetime | None = None,
          event_at: datetime | None = None, read_when: bool = True) -> Announcement:
    """A draft (`read_when`: the event time is read from the start of the text, as in chat;
    the web console gives it as `event_at` instead)."""
    audience, rest = parse_audience(turn, role, text)
    parsed = split_when(rest, now=turn.now, tz=turn.tz, lang=turn.lang, prefer="future") \
        if read_when else None
    if parsed is not None and parsed[0].has_time:
        event_at, rest = parsed[0].at, parsed[1]
    rest = rest.strip()
    if not rest:
        raise Refusal("announce/usage")
    try:
        announcement_text.check(rest)
    except announcement_text.TextRefused as refused:
        raise Refusal("announce/text_refused", code=refused.code, detail=refused.detail,
                      fields=announcement_text.FIELDS) from None
    members = announcements.audience_members(turn.session, role.programme.id, audience, turn.now)
    if not members:
        raise Refusal("announce/nobody")
    saved = announcements.create(turn.session, programme_id=role.programme.id,
                                 author_id=turn.person.id, audience=audience, template=rest,
                                 event_at=event_at, send_at=send_at or turn.now, rsvp=event_at is not None,
                                 recipients=len(members), created_at=turn.now)
    partners = announcements.partner_names(turn.session, {pair_id for _, pair_id in members})
    try:
        _render_longest(turn, role, rest, members, partners, event_at)
        sample, pair_id = members[0]
        preview = announcement_text.render(rest, first_name=_first(sample.name),
                                           programme=role.programme.name,
                                           partner=_partner(sample.id, partners.get(pair_id, [])))
    except announcement_text.TextRefused as refused:
        raise Refusal("announce/text_refused", code=refused.code, detail=refused.detail,
                      fields=announcement_text.FIELDS) from None
    turn.say("announce/preview", count=len(members), audience=audience, preview=preview,
             when=event_at.astimezone(turn.tz) if event_at else None,
             send_at=saved.send_at.astimezone(turn.tz) if send_at else None,
             buttons=(Button(turn.text("buttons/announce_send"), SEND, str(saved.id), "primary"),
                      Button(turn.text("buttons/announce_cancel"), CANCEL, str(saved.id))))
    return saved


def _first(name: str) -> str:
    return name.split()[0] if name.split() else name


def _partner(person_id: int, members: list[tuple[int, str]]) -> str:
    """What `{{ partner }}` becomes for this reader (as composing fills it in at send time)."""
    return ", ".join(_first(name) for other, name in members if other != person_id)


def _render_longest(turn: Turn, role: Role, template: str, members, partners, event_at) -> None:
    """Render the text as the audience's longest first name and longest partner list would
    get it, in every language of the audience: no reader's copy is longer, so a send that
    passed the preview cannot be refused for one recipient."""
    first_name = max((_first(p.name) for p, _ in members), key=len)
    partner = max((_partner(p.id, partners.get(pair_id, [])) for p, pair_id in members),
                  key=len)
    text = announcement_text.render(template, first_name=first_name,
                                    programme=role.programme.name, partner=partner)
    for lang in sorted({p.language if p.language in ("en", "da") else "en" for p, _ in members}):
        for reminder in (False, True):
            turn.texts.render(lang, "timeline/announcement", text=text, when=event_at,
                              reminder=reminder, first_name=first_name,
                              programme=role.programme.name, partners=[], role="mentee",
                              followup=False)


def confirm(turn: Turn, role: Role, saved) -> None:
    if saved is None or saved.status != "draft":
        raise Refusal("announce/no_draft")
    members = announcements.audience_members(turn.session, role.programme.id, saved.audience,
                                             turn.now)
    kind = KINDS["announcement"]
    stale = saved.event_at or saved.send_at + kind.stale_after
    proposals = [Proposal(f"announce:{saved.id}:{person.id}", person.id, role.programme.id,
                          pair_id, "announcement", saved.send_at, stale, kind.priority,
                          payload={"announcement_id": saved.id})
                 for person, pair_id in members]
    if saved.event_at:
        # The reminder goes on each reader's working day before the event, not 24 hours before
        # it (a Monday event is reminded on Friday); its words are chosen when it is read.
        settings = Settings.of(role.programme)
        for person, pair_id in members:
            due = previous_working_day_at(saved.event_at, person.timezone, settings)
            if due > saved.send_at + timedelta(hours=12):
                proposals.append(Proposal(
                    f"announce_reminder:{saved.id}:{person.id}", person.id, role.programme.id,
                    pair_id, "announcement", due, saved.event_at, kind.priority,
                    payload={"announcement_id": saved.id, "reminder": True,
                             "at": saved.event_at.isoformat()}))
    propose(turn.session, proposals)
    saved.status, saved.recipients = "sent", len(members)
    turn.session.add(saved)
    turn.say("announce/confirmed", count=len(members),
             send_at=saved.send_at.astimezone(turn.tz) if saved.send_at > turn.now else None)


def cancel(turn: Turn, saved) -> None:
    if saved is None or saved.status != "draft":
        raise Refusal("announce/no_draft")
    saved.status = "cancelled"
    turn.session.add(saved)
    turn.say("announce/cancelled")


def status(turn: Turn, role: Role) -> None:
    recent = announcements.recent(turn.session, role.programme.id)
    if not recent:
        raise Refusal("announce/none_yet")
    items = []
    for saved in recent:
        summary = announcements.summary(turn.session, saved)
        items.append(dict(text=saved.template[:60], recipients=summary.recipients,
                          sent=summary.sent, pending=summary.pending, failed=summary.failed,
                          attending=summary.attending, not_attending=summary.not_attending,
                          rsvp=saved.rsvp,
                          when=saved.event_at.astimezone(turn.tz) if saved.event_at else None))
    turn.say("announce/status", items=items)


def button(turn: Turn, event: ActionInvoked) -> None:
    role = manager_role(turn)
    number = small_number(event.value)
    saved = announcements.get(turn.session, number) if number is not None else None
    if saved is None or saved.author_id != turn.person.id or saved.status != "draft":
        raise Refusal("announce/no_draft")
    if event.action_id == SEND:
        confirm(turn, role, saved)
    else:
        cancel(turn, saved)


def rsvp(turn: Turn, event: ActionInvoked) -> None:
    match = re.fullmatch(r"(\d{1,9}):(yes|no)", event.value, re.ASCII)
    saved = announcements.get(turn.session, int(match.group(1))) if match else None
    if saved is None or not any(r.programme.id == saved.programme_id for r in turn.roles):
        raise Refusal("errors/stale_button")
    if saved.status != "sent" or not saved.rsvp \
            or not announcements.addressed_to(turn.session, saved.id, turn.person.id):
        raise Refusal("announce/rsvp_closed")
    attending = match.group(2) == "yes"
    announcements.answer_rsvp(turn.session, saved.id, turn.person.id, attending, turn.now)
    turn.say("announce/rsvp_thanks", attending=attending)
