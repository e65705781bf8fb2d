"""The console in a real browser: `serve`'s app and the fake Slack in a thread of their own,
Debian's Chromium driven by Selenium from the test's thread.

Selenium blocks while the browser loads a page, so the servers cannot share the test's event
loop: `LiveWorkspace` runs `tests.fake_slack_api.workspace` (the bot's real aiohttp app, signed
Slack requests, the fake Web API) on a loop in a background thread, and `call` runs a coroutine
there. `chromium()` starts headless Chromium through /usr/bin/chromedriver, with every host but
127.0.0.1 unresolvable; it fails, never skips, when either is missing (`.ci/run` installs them).
"""
from __future__ import annotations

import asyncio
import base64
import threading
from pathlib import Path

from tests.fake_slack_api import ID, text_of, workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
LAPTOP = (1280, 800)
PHONE = (390, 844)


class LiveWorkspace:
    def __init__(self, database, clock, env: dict[str, str] | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._context = workspace(database, clock, env)
        self.space = self.call(self._context.__aenter__())
        self.services, self.fake = self.space.services, self.space.fake
        self.url = str(self.space.server.make_url("")).rstrip("/")
        self.services.engine.public_url = self.url  # PUBLIC_URL, as `serve` sets it

    def call(self, coroutine, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        try:
            self.call(self._context.__aexit__(None, None, None))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def slash(self, email: str, text: str) -> str:
        """`/mentor <text>` from this person in Slack; the text of the bot's answer."""
        async def run():
            key = await self.space.command(ID[email], text)
            await self.space.settle()
            return self.fake.responses(key)
        return "\n".join(text_of(answer) for answer in self.call(run()))

    def dm(self, email: str, text: str) -> None:
        async def run():
            assert await self.space.dm(ID[email], text) == 200
            await self.space.settle()
        self.call(run())

    def pump(self) -> None:
        """One beat of the scheduler: what is due goes out (to the fake Slack)."""
        async def run():
            await self.services.pump()
            await self.space.settle()
        self.call(run())


def chromium():
    """Headless Chromium through Selenium; an AssertionError that says what to install."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, (f"{', '.join(missing)} missing: the browser tests need Debian's "
                         "chromium and chromium-driver (apt-get install chromium "
                         "chromium-driver; .ci/run does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-extensions", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
                     "--lang=en-GB"):
        options.add_argument(argument)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=None)
    browser = webdriver.Chrome(options=options, service=service)
    browser.set_page_load_timeout(30)
    return browser


def screenshot(browser, path: Path, width: int, height: int) -> None:
    """The whole page at this viewport width (taller pages are captured in full)."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    full = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": max(height, full["height"]),
                 "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


