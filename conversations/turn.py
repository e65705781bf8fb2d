"""One inbound event being handled: who is speaking, in which pair, and how to answer them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from conversations.messages import Button, Form, Message
from conversations.texts import Texts
from storage.people import Role, pair_members
from storage.tables import Person


class Refusal(Exception):
    """A friendly 'not like that': the unit of work is rolled back and the reply is sent."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(template)
        self.template = template
        self.values = values


@dataclass
class Turn:
    session: object  # storage session, handed to storage functions only
    person: Person
    roles: list[Role]
    now: datetime
    texts: Texts
    organizer: str = ""  # the bot's calendar address (ORGANIZER of its invites)
    public_url: str = ""  # where people reach `serve` (the web console's links)
    partner_hint: str = ""
    replies: list[Message] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.person.language if self.person.language in ("en", "da") else "en"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.person.timezone)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.tz)

    def text(self, template: str, /, **values: object) -> str:
        values.setdefault("now", self.local_now)  # relative words and years, for this reader
        return self.texts.render(self.lang, template, **values)

    def say(self, template: str, /, *, buttons: tuple[Button, ...] = (), form: Form | None = None,
            facts: tuple[tuple[str, str], ...] = (), **values: object) -> Message:
        message = Message(self.text(template, **values), facts=facts, buttons=buttons, form=form)
        self.replies.append(message)
        return message

    def pair_role(self) -> Role:
        """The mentor/mentee role this command is about; asks when it cannot tell."""
        pair_roles = [r for r in self.roles if r.pair is not None]
        if not pair_roles:
            raise Refusal("errors/no_pair")
        if self.partner_hint:
            matching = [r for r in pair_roles if self._has_partner(r, self.partner_hint)]
            if len(matching) == 1:
                return matching[0]
            if len(pair_roles) > 1:
                raise Refusal("errors/which_pair", choices=self.pair_choices(pair_roles),
                              hint=self.partner_hint)
        if len(pair_roles) > 1:
            raise Refusal("errors/which_pair", choices=self.pair_choices(pair_roles), hint="")
        return pair_roles[0]

    def partners(self, role: Role) -> list[tuple[Person, str]]:
        return [(p, r) for p, r in pair_members(self.session, role.pair.id) if p.id != self.person.id]

    def _has_partner(self, role: Role, hint: str) -> bool:
        for partner, _ in self.partners(role):
            first = partner.name.split()[0].lower() if partner.name else ""
            if hint in (partner.email, partner.email.split("@")[0], first, partner.name.lower()):
                return True
        return hint == role.pair.key.lower()

    def pair_choices(self, roles: list[Role]) -> list[str]:
        choices = []
        for role in roles:
            names = [p.name.split()[0] for p, _ in self.partners(role)]
            choices.append(f"{', '.join(names)} ({role.programme.name})")
        return choices
