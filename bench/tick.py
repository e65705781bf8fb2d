"""Benchmark: one scheduler tick over 10,000 and 100,000 active pairs, same number due.

The tick should cost what is due, not what exists: 10x more pairs should cost well under 2x.
    python bench/tick.py [--due 1000] [--sizes 10000 100000] [--database-url URL]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, insert, text, update  # noqa: E402

from conversations.clock import FakeClock  # noqa: E402
from conversations.tick import Ticker  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Delivery, Membership, Pair, Person, Programme  # noqa: E402

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
FAR = NOW + timedelta(days=365)


def populate(db: Database, pairs: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(insert(Programme).values(
            id=1, slug="bench", name="Bench", starts=date(2026, 9, 1), ends=date(2027, 6, 30),
            cadence_weeks=4, language="en", timezone="Europe/Copenhagen", settings_json="{}"))
        chunk = 5000
        for first in range(0, pairs, chunk):
            ids = range(first, min(first + chunk, pairs))
            conn.execute(insert(Person), [
                dict(id=2 * i + r + 1, email=f"p{2 * i + r}@example.org", name=f"P {i}",
                     timezone="Europe/Copenhagen", language="en", optional_opt_out=False)
                for i in ids for r in (0, 1)])
            conn.execute(insert(Pair), [
                dict(id=i + 1, programme_id=1, key=f"pair-{i}", active=True, next_check_at=FAR)
                for i in ids])
            conn.execute(insert(Membership), [
                dict(programme_id=1, person_id=2 * i + r + 1, pair_id=i + 1, pair_key=f"pair-{i}",
                     role=("mentor", "mentee")[r], active=True)
                for i in ids for r in (0, 1)])


def make_due(db: Database, due: int, pairs: int) -> None:
    step = max(pairs // due, 1)
    due_ids = list(range(1, pairs + 1, step))[:due]
    with db.engine.begin() as conn:
        conn.execute(delete(Delivery))
        conn.execute(update(Pair).where(Pair.id.in_(due_ids))
                     .values(next_check_at=NOW - timedelta(minutes=1)))


def bench_size(url: str, pairs: int, due: int, rounds: int) -> tuple[float, int]:
    db = Database(url)
    upgrade(db.engine)
    populate(db, pairs)
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    ticker = Ticker(db, FakeClock(NOW))
    times, proposed = [], 0
    for _ in range(rounds):
        make_due(db, due, pairs)
        started = time.perf_counter()
        result = ticker.tick()
        times.append(time.perf_counter() - started)
        proposed = result.proposed
        assert result.pairs == due, result
    db.dispose()
    return statistics.median(times), proposed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="a PostgreSQL URL (its tables are replaced)")
    args = parser.parse_args()
    print(f"tick benchmark on {platform.node()} ({platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}), {args.due} pairs due, median of {args.rounds}")
    results = {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
            if args.database_url:
                reset(url)
            median, proposed = bench_size(url, size, args.due, args.rounds)
        results[size] = median
        print(f"  {size:>7,} pairs: median tick {median * 1000:8.1f} ms "
              f"({proposed} prompts proposed)")
    sizes = sorted(results)
    if len(sizes) >= 2:
        ratio = results[sizes[-1]] / results[sizes[0]]
        verdict = "meets" if ratio < 2 else "MISSES"
        print(f"  ratio {sizes[-1]:,} / {sizes[0]:,} pairs: {ratio:.2f}x ({verdict} the < 2x goal)")
    big = results.get(100_000)
    if big is not None:
        verdict = "meets" if big < 1 else f"MISSES by {big - 1:.2f} s"
        print(f"  100,000 pairs with {args.due} due: {big:.3f} s ({verdict} the < 1 s goal)")


def reset(url: str) -> None:
    from sqlmodel import SQLModel

    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    SQLModel.metadata.drop_all(db.engine)
    db.dispose()


if __name__ == "__main__":
    main()
