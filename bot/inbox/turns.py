"""Where the engine's turns run: in this process's threads, or in processes of their own.

An engine turn (who wrote, the verb, its unit of work) is most of a command's CPU. In threads
it shares one interpreter lock with everything else `serve` does: the acknowledgements, the
replies' HTTP, the tick; one `serve` then uses one core. `TurnProcesses` runs the turns in a
few processes started for it (`serve` on PostgreSQL), each with its own engine, database pool
and lock: the process that acknowledges keeps its core for acknowledging and answering, and
the turns use the others (at a lower priority: `NICER`).

A turn in a process is the same turn: the reply is saved with it in its own unit of work (the
inbox row's `reply_json`), and comes back as that JSON. A process that dies takes its turn's
transaction with it (nothing half-written); the row is tried again, by a new process.
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

from bot.inbox.replies import decode, encode
from conversations.engine import Engine, Reply
from conversations.messages import InboundEvent
from storage import inbox

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
# Turn processes yield the cores to the serving process and the database when both want them:
# acknowledgements come first (as in bench/chat_latency.py's two A/B runs each on PostgreSQL,
# 300/s burst ack p50/p99: 5.0/30.6 and 4.8/39.2 ms with it, 6.2/63.4 and 15.2/115.4 without).
NICER = 5
Turn = Callable[[InboundEvent, int], Awaitable[Reply]]  # (event, inbox row id) → the reply


class TurnStopped(Exception):
    """The process running a turn stopped; nothing of the turn was kept."""


def in_thread(engine: Engine, run: Callable):
    """Turns in this process: `run(function, *args)` puts the blocking turn on a thread."""

    async def turn(event: InboundEvent, row_id: int) -> Reply:
        return await run(engine.handle, event, _keeper(row_id))

    return turn


class TurnProcesses:
    """`processes` engines in processes of their own, each built by `make_engine()` (a
    picklable callable: the processes are spawned, not forked, so they hold none of this
    process's sockets). `engine` is this process's: it learns each speaker's language from
    the turns, for the answers it gives itself (the database away)."""

    def __init__(self, processes: int, make_engine: Callable[[], Engine], engine: Engine,
                 log_level: str = "INFO") -> None:
        self.size, self.make_engine, self.engine = processes, make_engine, engine
        self.log_level = log_level
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start,
                                   initargs=(self.make_engine, self.log_level))

    async def start(self, most: float = 60.0) -> None:
        """Start every process and build its engine now, not on the first command: until each
        has answered (a process still starting takes no work, so one answer is not all)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + most
        ready: set[int] = set()
        while len(ready) < self.size and loop.time() < deadline:
            ready.update(await asyncio.gather(*(loop.run_in_executor(self._pool, _ready)
                                                for _ in range(self.size))))

    async def __call__(self, event: InboundEvent, row_id: int) -> Reply:
        pool = self._pool
        try:
            text, failure, language = await asyncio.get_running_loop().run_in_executor(
                pool, _turn, event, row_id)
        except BrokenProcessPool:
            if pool is self._pool:  # the first to notice starts new processes
                log.error("an engine process stopped; starting new ones")
                self._pool = self._new_pool()
            raise TurnStopped("the engine process stopped") from None
        if language:
            self.engine.remember_language(event.ref.platform, event.ref.user_id, language)
        return replace(decode(text), failure=failure)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _keeper(row_id: int):
    def keep(session, reply: Reply) -> None:
        inbox.save_reply(session, row_id, encode(reply))

    return keep


# -- in the turn processes -------------------------------------------------------------------

_engine: Engine | None = None


def _start(make_engine: Callable[[], Engine], log_level: str) -> None:
    global _engine
    try:  # Linux: stop with `serve`, even when it is killed (SIGKILL)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (AttributeError, OSError):
        pass
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the line above
        os._exit(0)
    os.nice(NICER)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for `serve`; it stops these
    from bot.logs import configure

    configure(log_level)
    _engine = make_engine()


def _ready() -> int:
    time.sleep(0.05)  # long enough for the other processes to take the rest
    return os.getpid()


def _turn(event: InboundEvent, row_id: int) -> tuple[str, str, str]:
    """The turn, its reply kept with it: (reply JSON, failure, the speaker's language)."""
    reply = _engine.handle(event, _keeper(row_id))
    return encode(reply), reply.failure, _engine.remembered_language(event.ref.platform,
                                                                     event.ref.user_id)
