"""Benchmark: resident memory of one `serve` process, idle and after a tick over 100,000 pairs.

Target: under 250 MB resident with 100,000 pairs. The process runs on a SQLite file with a
shared rehearsal clock (CLOCK_FILE), so the tick can be made to look at every pair.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, select, update  # noqa: E402

from _common import free_port  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Pair  # noqa: E402
from tick import NOW, populate  # noqa: E402

PAIRS = 100_000


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'memory.db'}"
        db = Database(url)
        upgrade(db.engine)
        populate(db, PAIRS)
        clock_file = Path(folder) / "clock"
        clock_file.write_text((NOW - timedelta(days=2)).isoformat())  # before the start: the
        # tick looks at every pair and finds nothing due yet, so only the tick is measured
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "CLOCK_FILE": str(clock_file),
               "TICK_SECONDS": "1", "CONSOLE_INBOX": "0", "LOG_LEVEL": "WARNING", "PORT": str(port)}
        env.pop("SLACK_BOT_TOKEN", None)
        server = subprocess.Popen([sys.executable, "app.py", "serve"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_until_ready(port)
            time.sleep(3)
            idle, _ = rss_mb(server.pid)
            with db.engine.begin() as conn:
                conn.execute(update(Pair).values(next_check_at=NOW - timedelta(days=3)))
            started = time.perf_counter()
            while True:
                with db.engine.connect() as conn:
                    left = conn.execute(select(func.count()).select_from(Pair).where(
                        Pair.next_check_at <= NOW - timedelta(days=2))).scalar()
                if left == 0:
                    break
                time.sleep(0.5)
            took = time.perf_counter() - started
            after, peak = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
        db.dispose()
    verdict = "meets" if peak < 250 else f"MISSES by {peak - 250:.0f} MB"
    print(f"memory benchmark: one serve process, {PAIRS:,} pairs on SQLite")
    print(f"  idle: {idle:.0f} MB resident")
    print(f"  after the tick over all {PAIRS:,} pairs ({took:.1f} s): {after:.0f} MB resident, "
          f"peak {peak:.0f} MB ({verdict} the < 250 MB goal)")


def _wait_until_ready(port: int) -> None:
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("serve did not start")


if __name__ == "__main__":
    main()
