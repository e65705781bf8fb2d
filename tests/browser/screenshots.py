"""`make console-screenshots`: every console page at laptop and phone width, as PNGs.

    python -m tests.browser.screenshots [FOLDER]     (default: out/)

The sample programme, a month in (a few meetings logged and booked, one pair quiet, an
announcement sent), in a fresh SQLite database under FOLDER; the manager signs in with the link
`console` gives in the console adapter, and headless Chromium photographs each page:
out/console-<page>-laptop.png and out/console-<page>-phone.png.
"""
from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from conversations.clock import FakeClock
from storage.db import Database
from storage.migrate import upgrade
from tests.browser.live import LAPTOP, PHONE, LiveWorkspace, chromium, screenshot
from tests.console_fixtures import MANAGER, SLUG, console_link, two_programmes
from tests.helpers import say

START = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)


def _month_of_programme(live: LiveWorkspace, clock: FakeClock) -> None:
    services = live.services
    clock.advance(days=8, hours=3)  # Wednesday 9 September, 11:00 in Copenhagen
    say(services, "sofie.lund@example.org", "log yesterday 14:00 45m first meeting")
    say(services, "jonas.berg@example.org", "log monday 10:00 1h getting to know each other")
    booked = say(services, "jonas.berg@example.org", "next 2026-10-05 16:00")  # 09:00 Chicago
    assert any("Booked" in line for line in booked), booked
    clock.advance(days=20)  # Tuesday 29 September: Jonas's next meeting is ahead
    say(services, MANAGER, "announce everyone 2026-10-20 14:00 Master class on feedback, "
                           "room 3. See you, {{ first_name }}!")
    say(services, MANAGER, "announce confirm")
    live.pump()


def take(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'console.db'}")
        upgrade(db.engine)
        clock = FakeClock(START)
        two_programmes(db, Path(scratch), clock.now())
        live = LiveWorkspace(db, clock)
        browser = chromium()
        try:
            _month_of_programme(live, clock)
            browser.get(console_link(live.services, MANAGER))
            browser.find_element("css selector", "form button").click()
            pages = {"programmes": "/console", "pairs": f"/console/p/{SLUG}",
                     "import": f"/console/p/{SLUG}/import",
                     "announce": f"/console/p/{SLUG}/announce",
                     "report": f"/console/p/{SLUG}/report",
                     "pairs-da": f"/console/p/{SLUG}?lang=da"}
            written = []
            for name, path in pages.items():
                browser.get(live.url + path)
                for label, (width, height) in (("laptop", LAPTOP), ("phone", PHONE)):
                    target = folder / f"console-{name}-{label}.png"
                    screenshot(browser, target, width, height)
                    written.append(target)
            browser.get(live.url + "/console?lang=en")
            return written
        finally:
            browser.quit()
            live.close()
            db.dispose()


if __name__ == "__main__":
    for path in take(Path(sys.argv[1] if len(sys.argv) > 1 else "out")):
        print(f"Wrote {path}")
