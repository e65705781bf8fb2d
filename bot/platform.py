"""The platform contract: what a chat platform's adapter provides to `serve` (bot layer).

An adapter verifies an inbound request and stores it in the inbox before the platform gets its
200 (the routes it adds in `attach`), answers a stored request when the inbox worker hands it
over (`process`: render and send), and says whether it is configured, with its banner line.
`app.py` lists the platforms; bot/web.py knows them only through this contract, so a third
platform is one folder under bot/ and one line in `app.py`.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Env = dict[str, str]


@dataclass(frozen=True)
class Platform:
    """One adapter's functions, as `serve` calls them (each adapter's `app.py` makes one)."""

    name: str  # "slack", "teams": the inbox rows and identities it owns
    configured: Callable[[Env], bool]  # whether `env` asks for this platform to be served
    not_configured_line: Callable[[Env], str]  # the banner line when off: what turns it on
    reaches_people: Callable[[Env], bool]  # can deliver prompts (else the demo console inbox)
    # (app, services, router, env, inbox) -> the banner line: adds the inbound routes,
    # registers the messenger with `router` and its processor with the inbox worker
    # (`inbox.processors[name]`). A ValueError is a configuration `serve` refuses.
    attach: Callable[[web.Application, object, object, Env, object], str]


class Identities:
    """Who a platform user is, looked up once: a user this process has answered as a person
    costs no look-up at all; anyone else is matched by id in the database, then by email
    through the platform's own look-up (users.info, the Teams roster). Shared by the adapters.
    """

    KEPT = 100_000

    def __init__(self, platform: str, is_known: Callable[[str, str], bool],
                 in_thread: Callable[..., Awaitable]) -> None:
        self.platform = platform
        self._is_known = is_known
        self._in_thread = in_thread
        self._people: set[str] = set()

    async def known(self, user_id: str, matched: bool | None = None) -> bool:
        """`matched`: what the database said a moment ago (the inbox claim reads it), if it did."""
        if user_id in self._people:
            return True
        if matched is not None:
            return matched
        return bool(await self._in_thread(self._is_known, self.platform, user_id))

    async def email_if_needed(self, user_id: str, look_up: Callable[[], Awaitable[str]],
                              matched: bool | None = None) -> str:
        """"" for someone already matched; else their email from the platform."""
        if await self.known(user_id, matched):
            return ""
        return await look_up()

    def answered(self, user_id: str, person_id: int | None, failed: bool = False) -> None:
        """After a turn: remember a person; forget someone the engine did not know (a
        `forget`, a removal from the roster), so the next turn looks them up again."""
        if person_id is not None:
            if len(self._people) >= self.KEPT:
                self._people.clear()
            self._people.add(user_id)
        elif not failed:
            self._people.discard(user_id)

    def forget(self, user_id: str) -> None:
        """Their profile changed (an email, perhaps): look them up afresh."""
        self._people.discard(user_id)


async def run_blocking(function: Callable, *args):
    """The default for `Identities.in_thread` outside a worker (tests, tools)."""
    return await asyncio.to_thread(function, *args)
