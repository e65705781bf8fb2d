"""The conversation engine: one inbound event in, replies out, for every platform alike.

It finds who is speaking, parses the command grammar once, runs the verb inside one unit of
work, and turns any refusal or failure into a friendly reply; nothing is half-written.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from conversations import grammar
from conversations.clock import Clock
from conversations.messages import ActionInvoked, ConversationRef, InboundEvent, Message, TextReceived
from conversations.texts import LANGUAGES, Texts, locale_language
from conversations.turn import Refusal, Turn
from conversations.verbs import REGISTRY, ACTIONS
from conversations.dialogs import answer_in_dialog
from conversations.typed_buttons import press_typed
from storage.db import Database, Unavailable
from storage.people import (Speaker, person_by_email, person_by_identity, remember_identity,
                            roles_of, speaker)

log = logging.getLogger(__name__)
LANGUAGES_KEPT = 10_000  # speakers whose language an error reply remembers


@dataclass(frozen=True)
class Reply:
    """What the adapter sends back to the speaker (usually ephemeral / in the same chat)."""

    messages: list[Message]
    person_id: int | None = None
    failure: str = ""  # why the turn did not run (the messages then only say "try again")


class Engine:
    def __init__(self, db: Database, clock: Clock, texts: Texts, organizer: str = "",
                 public_url: str = "http://127.0.0.1:3978") -> None:
        self.db = db
        self.clock = clock
        self.texts = texts
        self._languages: dict[tuple[str, str], str] = {}
        self.organizer = organizer  # the bot's calendar address, for its invites
        self.public_url = public_url  # where people reach `serve`, for console links

    def handle(self, event: InboundEvent,
               settle: Callable[[object, Reply], None] | None = None) -> Reply:
        """`settle(session, reply)` runs inside the turn's unit of work, so what it writes (the
        inbox keeps the reply) commits together with the turn, or not at all."""
        try:
            return self._handle(event, settle)
        except Unavailable:
            log.warning("database unavailable while handling a %s event", event.ref.platform)
            return Reply([Message(self.texts.render(self._lang_of(event), "errors/try_again"))],
                         failure="database unavailable")
        except Exception as error:  # the reply must never be a stack trace
            log.exception("unexpected error while handling a %s event", event.ref.platform)
            return Reply([Message(self.texts.render(self._lang_of(event), "errors/internal"))],
                         failure=f"unexpected error ({type(error).__name__})")

    def _lang_of(self, event: InboundEvent) -> str:
        return self.language_for(event.ref.platform, event.ref.user_id, event.ref.locale)

    def language_for(self, platform: str, user_id: str, locale: str = "") -> str:
        """A speaker's language for an error reply, remembered from their last turn here (the
        database may be the thing that failed, so it is not asked), else their platform's
        (`locale`), else English."""
        return self.remembered_language(platform, user_id) or locale_language(locale) or "en"

    def _unknown_user(self, ref: ConversationRef) -> str:
        """Someone on no roster: in their platform's language when it says, else in every
        language the bot speaks (English first)."""
        lang = locale_language(ref.locale)
        if lang:
            return self.texts.render(lang, "errors/unknown_user")
        return "\n\n".join(self.texts.render(code, "errors/unknown_user") for code in LANGUAGES)

    def remember_language(self, platform: str, user_id: str, language: str) -> None:
        """Learnt from a turn (here, or in a turn process: bot/inbox/turns.py)."""
        if len(self._languages) >= LANGUAGES_KEPT:
            self._languages.pop(next(iter(self._languages)))
        self._languages[(platform, user_id)] = language

    def remembered_language(self, platform: str, user_id: str) -> str:
        """The speaker's language from their last turn here; "" if none."""
        return self._languages.get((platform, user_id), "")

    def is_known(self, platform: str, user_id: str) -> bool:
        """Whether this platform identity is already matched to a person (no lookup needed).

        With the database away, "not known": the adapter looks the email up and `handle`
        answers "try again in a moment", instead of the adapter failing (a 500, or no reply)."""
        try:
            with self.db.unit() as session:
                return person_by_identity(session, platform, user_id) is not None
        except Unavailable:
            log.warning("database unavailable while matching a %s user", platform)
            return False

    def _handle(self, event: InboundEvent, settle=None) -> Reply:
        now = self.clock.now()
        try:
            return self._turn(event, settle, now)
        except _Refused as refused:
            # The turn's writes are rolled back; what a refusal keeps is written again (the
            # identity, the reply): no savepoint on every turn.
            with self.db.unit() as session:
                self._identify(session, event.ref, now)
                return _kept(session, settle, refused.reply)

    def _turn(self, event: InboundEvent, settle, now) -> Reply:
        with self.db.unit() as session:
            known = self._identify(session, event.ref, now)
            if known is None:
                return _kept(session, settle, Reply([Message(self._unknown_user(event.ref))]))
            person = known.person
            self.remember_language(event.ref.platform, event.ref.user_id, person.language)
            turn = Turn(session, person, known.roles, now, self.texts,
                        organizer=self.organizer, public_url=self.public_url)
            if not turn.roles:
                turn.say("errors/no_programme", person_name=person.name.split()[0])
                return _kept(session, settle, Reply(turn.replies, person.id))
            try:
                self._dispatch(turn, event)
            except Refusal as refusal:
                raise _Refused(Reply([Message(turn.text(refusal.template, **refusal.values),
                                              refused=True)], person.id)) from None
            return _kept(session, settle, Reply(turn.replies, person.id))

    def _identify(self, session, ref: ConversationRef, now) -> Speaker | None:
        """Who wrote, with their roles: by their platform id (one statement), else by the
        email the platform gave; how to reach them is remembered either way."""
        known = speaker(session, ref.platform, ref.user_id)
        if known is None and ref.email:
            person = person_by_email(session, ref.email)
            if person is not None:
                known = Speaker(person, None, roles_of(session, person.id))
        if known is not None:
            remember_identity(session, known.person, platform=ref.platform,
                              user_id=ref.user_id, now=now, tenant_id=ref.tenant_id,
                              conversation_id=ref.conversation_id, service_url=ref.service_url,
                              identity=known.identity)
        return known

    def _dispatch(self, turn: Turn, event: InboundEvent) -> None:
        if isinstance(event, ActionInvoked):
            action = ACTIONS.get(event.action_id)
            if action is None:
                raise Refusal("errors/stale_button")
            # Form fields are typed text too: no NUL (PostgreSQL refuses it), no lone surrogate.
            action(turn, replace(event, value=grammar.clean(event.value),
                                 values={k: grammar.clean(v) for k, v in event.values.items()}))
            return
        assert isinstance(event, TextReceived)
        if len(event.text) > grammar.MAX_TEXT + 200:
            raise Refusal("errors/too_long", limit=grammar.MAX_TEXT)
        command = grammar.parse(event.text)
        if not command.verb:
            if press_typed(turn, command, event):
                return
            if answer_in_dialog(turn, command):
                return
            if not command.said:
                REGISTRY["help"](turn, command)
                return
            raise Refusal("errors/unknown_verb", said=command.said[:40],
                          suggestion=grammar.nearest(command.said) or "")
        if command.partner:
            command = self._settle_partner(turn, command)
        handler: Callable = REGISTRY[command.verb]
        handler(turn, command)

    @staticmethod
    def _settle_partner(turn: Turn, command: grammar.Command) -> grammar.Command:
        """`with anna` picks a pair only if Anna is a partner; otherwise it was just text."""
        for role in turn.roles:
            if role.pair is not None and turn._has_partner(role, command.partner):
                turn.partner_hint = command.partner
                return command
        return grammar.Command(command.verb, command.full_args, command.said, "", command.full_args)


class _Refused(Exception):
    """A verb's refusal, carried out of the turn's unit of work (which it rolls back)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("refused")
        self.reply = reply


def _kept(session, settle, reply: Reply) -> Reply:
    """The turn's reply, handed to `settle` inside the unit of work (see `Engine.handle`)."""
    if settle is not None:
        settle(session, reply)
    return reply
