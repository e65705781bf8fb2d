"""Benchmark: date parsing for the command grammar — cold start and typical parse times.

Target: a typical date parse under 5 ms after start-up.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conversations.when import parse_when  # noqa: E402

PHRASES = {
    "en": ["yesterday 14:00", "last tuesday", "next friday at 10", "friday 10:00", "tomorrow 9:30",
           "2pm", "3 March", "2 days ago", "in 3 days", "2026-03-02 10:00"],
    "da": ["i går", "sidste fredag kl 10", "næste fredag", "fredag kl 10", "i morgen kl 10",
           "kl. 14.30", "i fredags", "3. marts 14:00", "for 2 dage siden", "om 3 dage"],
}
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
TZ = ZoneInfo("Europe/Copenhagen")

COLD = """
import time
started = time.perf_counter()
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
from conversations.when import parse_when
parse_when("3 March", now=datetime(2026, 3, 4, tzinfo=timezone.utc), tz=ZoneInfo("UTC"),
           lang="en", prefer="past")
print(time.perf_counter() - started)
"""


def cold_start() -> float:
    runs = [float(subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout) for _ in range(3)]
    return statistics.median(runs)


def main() -> None:
    print(f"dateparse benchmark (Python {sys.version.split()[0]})")
    print(f"  cold start (import + first dateparser-backed parse), median of 3: "
          f"{cold_start() * 1000:.0f} ms")
    for lang, phrases in PHRASES.items():
        for phrase in phrases:  # warm up
            parse_when(phrase, now=NOW, tz=TZ, lang=lang, prefer="future")
        timings = []
        for phrase in phrases:
            samples = []
            for _ in range(50):
                started = time.perf_counter()
                parse_when(phrase, now=NOW, tz=TZ, lang=lang, prefer="future")
                samples.append(time.perf_counter() - started)
            timings.append((statistics.median(samples), phrase))
        median = statistics.median(t for t, _ in timings)
        slowest, phrase = max(timings)
        verdict = "meets" if median < 0.005 else f"MISSES by {(median - 0.005) * 1000:.2f} ms"
        print(f"  {lang}: median parse {median * 1000:.3f} ms over {len(phrases)} phrases "
              f"({verdict} the < 5 ms goal); slowest {slowest * 1000:.2f} ms for {phrase!r}")


if __name__ == "__main__":
    main()
