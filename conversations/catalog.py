"""Every kind of message the bot sends on its own, with how much it matters.

Lower priority numbers matter more: when the weekly cap bites, they are kept. Optional kinds
can be switched off with `optout`; transactional ones answer a person's own action and go out
at once (no working hours, no cap, no snooze). Relayed ones pass on what a partner did (an
agenda, a booking, a move, a cancellation): no cap and no snooze, but they wait for the
recipient's working hours unless the meeting itself comes sooner.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Kind:
    name: str
    priority: int
    optional: bool = False
    transactional: bool = False
    relayed: bool = False
    capped: bool = True  # counts against the weekly cap (a question about one's own booked
    #                      meeting does not: it is the answer the pair asked for by booking)
    stale_after: timedelta = timedelta(days=7)


KINDS = {k.name: k for k in (
    Kind("kickoff", 1, stale_after=timedelta(days=30)),
    Kind("line_manager", 2, stale_after=timedelta(days=21)),
    Kind("first_meeting_chase", 3),
    Kind("meeting_nudge", 3),
    Kind("agenda_reminder", 2, capped=False, stale_after=timedelta(days=2)),
    Kind("meeting_reminder", 5, optional=True, capped=False, stale_after=timedelta(days=4)),
    Kind("did_you_meet", 2, capped=False, stale_after=timedelta(days=5)),
    Kind("pulse", 4, optional=True),
    Kind("reflection", 3, optional=True, stale_after=timedelta(days=5)),
    Kind("droop", 3, stale_after=timedelta(days=14)),
    # A manager's flags are the job, not nudges: never held back by the weekly cap (flags due
    # together merge into one message), or a silent pair would go unreported.
    Kind("droop_flag", 2, capped=False),
    Kind("manager_followup", 3, stale_after=timedelta(days=30)),
    Kind("evaluation", 1, stale_after=timedelta(days=45)),
    Kind("closing", 2, stale_after=timedelta(days=30)),
    Kind("post_checkin", 4, optional=True, stale_after=timedelta(days=30)),
    Kind("announcement", 2, capped=False, stale_after=timedelta(days=14)),
    Kind("agenda", 1, relayed=True, capped=False, stale_after=timedelta(days=365)),
    Kind("meeting_booked", 1, relayed=True, capped=False, stale_after=timedelta(days=60)),
    Kind("meeting_moved", 1, relayed=True, capped=False, stale_after=timedelta(days=60)),
    Kind("meeting_cancelled", 1, relayed=True, capped=False, stale_after=timedelta(days=60)),
    # A group mentee's proposed time, for the mentor(s) to book (they own a group's booking).
    Kind("meeting_proposed", 1, relayed=True, capped=False, stale_after=timedelta(days=14)),
    # A group mentee can't come: the mentor(s) hear it; the meeting goes on for the others.
    Kind("meeting_regrets", 1, relayed=True, capped=False, stale_after=timedelta(days=60)),
    # The mentee's proposal no mentor booked: they hear it lapsed, once.
    Kind("proposal_lapsed", 2, capped=False, stale_after=timedelta(days=2)),
)}

CAPPED = tuple(k.name for k in KINDS.values() if k.capped and not k.transactional)
