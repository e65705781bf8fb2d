"""A programme's evaluation figures, published once: computed when the evaluation has closed,
stored, and read back unchanged ever after (storage layer).

Why once: if the figures were recomputed for every download, a manager could download the
report, wait for one person's `forget` (or one new answer) and download it again; the
difference would be that one person's ratings and open answers. A single frozen snapshot
per evaluation window leaves nothing to compare.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.tables import EvaluationResult


def published(session: Session, programme_id: int, now: datetime, closes: datetime,
              compute: Callable[[datetime], str]) -> str | None:
    """The published figures (as JSON), publishing them first if the evaluation has just
    closed; None while it is still open. `compute(closes)` counts answers given by `closes`."""
    if now < closes:
        return None
    stored = session.get(EvaluationResult, programme_id)
    if stored is not None:
        return stored.figures_json
    figures = compute(closes)
    try:
        with session.begin_nested():  # another replica may publish at the same moment
            session.add(EvaluationResult(programme_id=programme_id, closes_at=closes,
                                         published_at=now, figures_json=figures))
    except IntegrityError:
        stored = session.get(EvaluationResult, programme_id)
        return stored.figures_json if stored is not None else figures
    return figures
