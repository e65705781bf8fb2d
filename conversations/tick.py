"""The tick: look at the pairs whose time has come and propose what is due into the outbox.

APScheduler (in `serve`) or a test's fake clock calls `tick()`; it is safe to call from several
replicas at once, because pairs are leased and proposals are keyed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from conversations.clock import Clock
from conversations.programme import SettingsInvalid, progress
from conversations.timeline import Step, lapsed, plan
from storage import meetings, timeline_facts
from storage.db import Database
from storage.managers import programmes_for_followup, pairs_not_followed_up
from storage.outbox import Proposal, propose
from conversations.catalog import KINDS

FOLLOWUP_AT = (0.3, 0.6)
# A pair whose planning failed is looked at again after this, not in every tick.
FAILED_RECHECK = timedelta(hours=1)
log = logging.getLogger(__name__)


@dataclass
class TickResult:
    pairs: int = 0
    proposed: int = 0
    failed: int = 0  # pairs (or programmes, for follow-ups) that could not be planned


class Ticker:
    def __init__(self, db: Database, clock: Clock, batch_size: int = 1000) -> None:
        self.db, self.clock, self.batch_size = db, clock, batch_size

    def tick(self) -> TickResult:
        result = TickResult()
        now = self.clock.now()
        while True:
            with self.db.unit() as session:
                pair_ids = timeline_facts.claim_pairs_due(session, now, self.batch_size)
            if not pair_ids:
                break
            with self.db.unit() as session:
                proposals, checks, missed = [], {}, []
                for facts in timeline_facts.load(session, pair_ids):
                    try:
                        planned = plan(facts, now)
                        if lapsed(facts, now):
                            missed.append(facts.appointment.id)
                        proposals += [_proposal(step, facts.programme.id,
                                                None if step.kind == "droop_flag"
                                                else facts.pair_id)
                                      for step in planned.due]
                    except Exception as error:  # one pair's trouble never stops the others
                        _log_failure("planning pair %s", facts.pair_id, error)
                        result.failed += 1
                        checks[facts.pair_id] = now + FAILED_RECHECK
                        continue
                    checks[facts.pair_id] = planned.next_check
                result.proposed += propose(session, proposals)
                meetings.mark_missed(session, missed, now)
                timeline_facts.set_next_checks(session, checks)
            result.pairs += len(pair_ids)
            if len(pair_ids) < self.batch_size:
                break
        result.proposed += self._manager_followups(now, result)
        if result.failed:
            log.warning("tick: %d pair(s) or programme(s) could not be planned", result.failed)
        return result

    def _manager_followups(self, now, result: TickResult) -> int:
        """At about 30 % and 60 % of a programme, remind its managers of pairs not followed up."""
        proposals = []
        with self.db.unit() as session:
            for programme, managers in programmes_for_followup(session, now):
                try:
                    share = progress(programme, now)
                except Exception as error:
                    _log_failure("planning follow-ups of programme %s", programme.id, error)
                    result.failed += 1
                    continue
                for number, at in enumerate(FOLLOWUP_AT, 1):
                    if share < at:
                        continue
                    pending = pairs_not_followed_up(session, programme.id)
                    if not pending:
                        continue
                    for manager in managers:
                        step = Step(f"mgr_followup:{programme.id}:{number}:{manager}", manager,
                                    "manager_followup", now, {"pairs": pending[:50]})
                        proposals.append(_proposal(step, programme.id, None))
            return propose(session, proposals)


def _log_failure(what: str, ident: int, error: Exception) -> None:
    """By id and error type only: an exception's text may quote what people wrote."""
    reason = str(error) if isinstance(error, SettingsInvalid) else type(error).__name__
    log.error(what + " failed: %s", ident, reason)


def _proposal(step: Step, programme_id: int, pair_id: int | None) -> Proposal:
    return Proposal(key=step.key, person_id=step.person_id, programme_id=programme_id,
                    pair_id=pair_id, kind=step.kind, due_at=step.due_at,
                    stale_after=step.stale_after, priority=KINDS[step.kind].priority,
                    optional=step.optional, payload=step.payload)


__all__ = ["Ticker", "TickResult", "timedelta"]
