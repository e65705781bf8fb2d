"""Announcements in the web console: compose, preview, send now or later, cancel, follow.

    GET  /console/p/<slug>/announce                 the form, and every announcement's status
    POST /console/p/<slug>/announce                 a draft and its preview (mentor and mentee,
                                                    in each language)
    POST /console/p/<slug>/announce/<id>/send       send it (now, or at its sending time)
    POST /console/p/<slug>/announce/<id>/cancel     stop it, while it has not gone out

The rules are the chat command's (conversations/verbs/announce.py): the same audiences, text
checks, drafts, delivery through the outbox, reminders before the event, RSVP buttons. The web
form gives the event time as a field instead of words, in the manager's own time zone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.webconsole.auth import HEADERS
from bot.webconsole.routes import Asked, Console
from conversations import announcement_text
from conversations.grammar import clean, small_number
from conversations.texts import LANGUAGES, strip_markers
from conversations.turn import Refusal, Turn
from conversations.verbs import announce as announcing
from storage import announcements
from storage import console_access as access
from storage.people import roles_of
from storage.report import reason_category
from storage.tables import Programme

AUDIENCES = ("everyone", "mentors", "mentees")


def add_announce_routes(app: web.Application, console: Console) -> None:
    page = Announcing(console)
    guard = console.signed_in
    base = "/console/p/{slug}/announce"
    app.router.add_get(base, guard(page.form), name="console_announce")
    app.router.add_post(base, guard(page.compose, form=True))
    app.router.add_post(base + "/{id}/send", guard(page.send, form=True))
    app.router.add_post(base + "/{id}/cancel", guard(page.cancel, form=True))


@dataclass(frozen=True)
class Preview:
    lang: str
    role: str
    name: str
    text: str


@dataclass(frozen=True)
class Status:
    """An announcement as its status line shows it: delivered, waiting, unreachable and why."""

    announcement: object
    counts: announcements.DeliverySummary
    unreachable: list[tuple[str, str]]
    waiting: int


class Announcing:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.texts = console.services.texts

    async def form(self, request: web.Request, asked: Asked) -> web.Response:
        programme = await self.console.programme_or_404(request, asked)
        return await self._page(asked, programme, {}, done=request.query.get("done", ""))

    async def compose(self, request: web.Request, asked: Asked) -> web.Response:
        programme = await self.console.programme_or_404(request, asked)
        data = {k: clean(str(v)) for k, v in (await request.post()).items()
                if isinstance(v, str)}
        if asked.visitor.operator:
            return await self._page(asked, programme, data, status=403, refusal="operator")
        result = await self.console.in_db(self._draft, asked, programme.id, data)
        if isinstance(result, str):
            return await self._page(asked, programme, data, status=422, refusal=result)
        return await self._page(asked, programme, data, draft=result[0], previews=result[1])

    async def send(self, request: web.Request, asked: Asked) -> web.StreamResponse:
        return await self._decide(request, asked, "sent")

    async def cancel(self, request: web.Request, asked: Asked) -> web.StreamResponse:
        return await self._decide(request, asked, "cancelled")

    # -- in the database ----------------------------------------------------------------------

    def _draft(self, session, asked: Asked, programme_id: int, data: dict):
        """(draft, previews), or the refusal's sentence in the manager's language."""
        turn = self._turn(session, asked)
        role = next((r for r in turn.roles if r.name == "manager"
                     and r.programme.id == programme_id), None)
        if role is None:
            return strip_markers(turn.text("announce/managers_only"))
        try:
            with session.begin_nested():
                saved = announcing.draft(turn, role, self._command(data, turn), read_when=False,
                                         event_at=_local_time(data.get("event_at"), turn),
                                         send_at=self._send_at(data, turn))
                return saved, self._previews(session, turn, role.programme, saved)
        except Refusal as refusal:
            if refusal.template == "announce/later_usage":
                return "time"
            return strip_markers(turn.text(refusal.template, **refusal.values))
        except ValueError:
            return "time"

    def _command(self, data: dict, turn: Turn) -> str:
        audience = data.get("audience", "")
        if audience.startswith("pair:"):
            audience = f"pair {audience[5:]}"
        elif audience == "quiet":
            audience = f"quiet {data.get('quiet_weeks', '')}"
        elif audience not in AUDIENCES:
            raise Refusal("announce/audience_unknown", said=audience[:30])
        return f"{audience} {data.get('text', '')}"

    def _send_at(self, data: dict, turn: Turn) -> datetime | None:
        if data.get("when") != "later":
            return None
        at = _local_time(data.get("send_at"), turn)
        if at is None or at <= turn.now:
            raise Refusal("announce/later_usage")
        return at

    def _previews(self, session, turn: Turn, programme: Programme, saved) -> list[Preview]:
        """The message as a mentor and as a mentee of the audience would read it, in each
        language: the same template and rendering as delivery (conversations/compose.py)."""
        members = announcements.audience_members(session, programme.id, saved.audience,
                                                 turn.now)
        roles = access.programme_roles(session, programme.id)
        partners = announcements.partner_names(session, {pair for _, pair in members})
        previews = []
        for role in ("mentor", "mentee"):
            sample = next(((p, pair) for p, pair in members if roles.get(p.id) == role), None)
            if sample is None:
                continue
            person, pair_id = sample
            partner = ", ".join(name.split()[0] for pid, name in partners.get(pair_id, [])
                                if pid != person.id)
            text = announcement_text.render(saved.template, first_name=person.name.split()[0],
                                            programme=programme.name, partner=partner)
            when = saved.event_at.astimezone(ZoneInfo(person.timezone)) \
                if saved.event_at else None
            for lang in LANGUAGES:
                body = self.texts.render(lang, "timeline/announcement", text=text, when=when,
                                         reminder=False, now=turn.now)
                previews.append(Preview(lang, role, person.name, strip_markers(body)))
        return previews

    def _turn(self, session, asked: Asked) -> Turn:
        person = asked.visitor.person
        return Turn(session, person, roles_of(session, person.id), self.console.clock.now(),
                    self.texts)

    async def _decide(self, request: web.Request, asked: Asked, outcome: str):
        programme = await self.console.programme_or_404(request, asked)
        number = small_number(request.match_info["id"])
        done = await self.console.in_db(self._settle, asked, programme.id, number, outcome)
        if done is None:
            return await self._page(asked, programme, {}, status=409, refusal="too_late")
        url = request.app.router["console_announce"].url_for(slug=programme.slug)
        raise web.HTTPSeeOther(url.with_query(done=done), headers=HEADERS)

    def _settle(self, session, asked: Asked, programme_id: int, number: int | None,
                outcome: str) -> str | None:
        saved = announcements.get(session, number) if number is not None else None
        if saved is None or saved.programme_id != programme_id:
            return None
        now = self.console.clock.now()
        if outcome == "cancelled":
            return "cancelled" if access.cancel_waiting(session, saved, now) else None
        if saved.status != "draft" or asked.visitor.operator \
                or saved.author_id != asked.visitor.person.id:
            return None
        turn = self._turn(session, asked)
        role = next(r for r in turn.roles if r.name == "manager"
                    and r.programme.id == programme_id)
        announcing.confirm(turn, role, saved)
        return "later" if saved.send_at > now else "sent"

    async def _page(self, asked: Asked, programme: Programme, data: dict, *, status: int = 200,
                    **values) -> web.Response:
        listing = await self.console.in_db(self._listing, programme.id)
        zone = ZoneInfo(asked.visitor.person.timezone if asked.visitor.person
                        else programme.timezone)
        return self.console.page(asked, asked.lang, "announce.html.j2", status=status,
                                 programme=programme, data=data, zone=zone,
                                 fields=announcement_text.FIELDS, **listing, **values)

    def _listing(self, session, programme_id: int) -> dict:
        pairs = sorted(access.follow_ups(session, programme_id))
        rows = []
        for saved in access.announcements_of(session, programme_id):
            summary = announcements.summary(session, saved)
            unreachable = [(name, reason_category(reason)) for name, reason in summary.failed]
            waiting = summary.pending - sum(r == "not_installed" for _, r in summary.failed)
            rows.append(Status(saved, summary, unreachable, max(0, waiting)))
        return {"pairs": pairs, "sent": rows, "now": self.console.clock.now()}


def _local_time(value: str | None, turn: Turn) -> datetime | None:
    """A form's `2026-09-14T14:00` in the manager's time zone; None when left empty."""
    if not value:
        return None
    moment = datetime.fromisoformat(value[:16])  # ValueError: the caller's refusal
    if moment.tzinfo is not None or abs(moment.year - turn.now.year) > 5:
        raise ValueError(value)
    return moment.replace(tzinfo=turn.tz)
