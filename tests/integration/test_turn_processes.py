"""Engine turns in processes of their own (what `serve` does on PostgreSQL): the same turn as in
a thread, its reply kept in the inbox row; a process that dies is replaced and the request
tried again; the processes end with the process that started them, even when it is killed."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import select

from app import turn_engine
from bot.inbox.replies import encode
from bot.inbox.turns import NICER, TurnProcesses
from bot.inbox.worker import Failed, Job
from conversations.messages import ConversationRef, TextReceived
from storage import inbox
from storage.tables import InboxItem
from tests.helpers import ROOT, import_programme

SOFIE = ConversationRef(platform="slack", user_id="U0SOFIE", email="sofie.lund@example.org")


def _answered(services, database, clock, tmp_path, between=None):
    """Sofie's `help`, stored in the inbox and answered through a turn process (`between`:
    what happens to the turn processes after they started, before the answer)."""
    import_programme(database, now=clock.now())
    key = "slack:command:1"
    inbox.store(database.engine, inbox.Inbound(key, "slack", "command", "slack:U0SOFIE", "{}",
                                               clock.now()))
    with database.unit() as session:
        row = session.exec(select(InboxItem).where(InboxItem.key == inbox.key_of(key))).one()
    moment = tmp_path / "clock"
    moment.write_text(clock.now().isoformat())  # the turn processes' clock: the test's
    environ = {"DATABASE_URL": database.url, "CLOCK_FILE": str(moment)}
    turns = TurnProcesses(1, partial(turn_engine, environ), services.engine)
    event = TextReceived(SOFIE, "help", clock.now())

    async def run():
        await turns.start()
        if between:
            await between(turns, lambda: Job(row, turns, last_try=False).answer(event))
        return await Job(row, turns, last_try=False).answer(event)

    try:
        reply = asyncio.run(run())
    finally:
        turns.close()
    with database.unit() as session:
        assert session.get(InboxItem, row.id).reply_json == encode(reply)  # kept with the turn
    return event, reply


def test_a_turn_in_a_process_of_its_own_is_the_same_turn_and_its_reply_is_kept(
        services, database, clock, tmp_path):
    event, reply = _answered(services, database, clock, tmp_path)
    # This process learnt her language from the turn in the other process: its own answers
    # (the database away) speak Danish to her too.
    assert services.engine.language_for("slack", "U0SOFIE") == "da"
    in_thread = services.engine.handle(event)
    assert [m.text for m in reply.messages] == [m.text for m in in_thread.messages]
    assert reply.person_id == in_thread.person_id and not reply.failure


def test_a_turn_process_that_dies_is_replaced_and_the_request_tried_again(
        services, database, clock, tmp_path):
    async def killed(turns, answer):
        for pid in list(turns._pool._processes):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(Failed, match="engine process stopped"):
            await answer()  # the inbox worker tries the request again: the answer below

    _, reply = _answered(services, database, clock, tmp_path, between=killed)
    assert reply.messages and not reply.failure


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal")
def test_turn_processes_end_with_the_process_that_started_them_even_when_it_is_killed(
        sqlite_database, tmp_path):
    script = textwrap.dedent(f"""
        import asyncio, sys, time
        from functools import partial
        from app import turn_engine
        from bot.inbox.turns import NICER, TurnProcesses
        turns = TurnProcesses(2, partial(turn_engine, {{"DATABASE_URL": {sqlite_database.url!r}}}),
                              turn_engine({{"DATABASE_URL": {sqlite_database.url!r}}}))
        asyncio.run(turns.start())
        print(*turns._pool._processes, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        children = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(children) == 2 and all(_alive(pid) for pid in children)
        # and they give way to it when both want a core
        assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in children} == {
            os.getpriority(os.PRIO_PROCESS, parent.pid) + NICER}
    finally:
        parent.kill()  # SIGKILL: no clean-up of its own
        parent.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


def _marked(mark: str) -> list[int]:
    """Live processes whose environment carries `mark`."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if mark.encode() in environ.read_bytes() and _alive(int(environ.parent.name)):
                found.append(int(environ.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal")
def test_a_serve_killed_while_its_turn_processes_start_leaves_none_behind(
        sqlite_database, tmp_path):
    """Killed before a turn process has asked to die with it (it is still importing), the
    process must notice on its own that its parent is gone."""
    mark = f"TURNS_TEST_{os.getpid()}_{time.monotonic_ns()}"
    script = textwrap.dedent(f"""
        import asyncio
        from functools import partial
        from app import turn_engine
        from bot.inbox.turns import TurnProcesses
        make = partial(turn_engine, {{"DATABASE_URL": {sqlite_database.url!r}}})
        asyncio.run(TurnProcesses(2, make, make()).start())
    """)
    parents = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                                env={**os.environ, mark: "1"}) for _ in range(8)]
    started = time.monotonic()
    for n, parent in enumerate(parents):  # killed at different moments of the start-up
        time.sleep(max(0.0, started + 1.0 + 0.25 * n - time.monotonic()))
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _marked(mark)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
