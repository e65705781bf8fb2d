"""Programme health as the manager sees it: storage's aggregates under the programme's rules.

The one place that decides which rules apply (phase, agreed meetings, minimum group size, droop
factor, which evaluation questions exist), so the chat verb, the command line and the web page
all show the same figures.
"""
from __future__ import annotations

from datetime import datetime

from conversations.dialogs.forms import EVALUATION_LIKERT, EVALUATION_OPEN
from conversations.programme import Settings, meetings_agreed_by, meetings_agreed_total, phase
from storage import report
from storage.tables import Programme


def programme_report(session, programme: Programme, now: datetime) -> report.Report:
    settings = Settings.of(programme)
    rules = report.Rules(phase=phase(programme, now), agreed=meetings_agreed_by(programme, now),
                         agreed_total=meetings_agreed_total(programme),
                         min_group=settings.min_group, droop_factor=settings.droop_factor,
                         likert=EVALUATION_LIKERT, open_questions=EVALUATION_OPEN)
    return report.build(session, programme, now, rules)


def summary_values(health: report.Report) -> dict:
    """The short version (chat `report`, `app.py report` without files), as template values."""
    month = health.this_month
    return dict(programme=health.programme.name, slug=health.programme.slug,
                phase=health.phase, ends=health.programme.ends, pairs=len(health.pairs),
                counts=health.counts, held=health.held, agreed=health.agreed,
                month_held=month.held if month else 0,
                month_promised=round(month.promised) if month else 0,
                cadence=health.programme.cadence_weeks,
                unreachable=len(health.unreachable),
                mentors_answered=health.respondents.get("mentor", 0),
                mentees_answered=health.respondents.get("mentee", 0))
