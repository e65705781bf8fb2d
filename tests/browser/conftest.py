"""Browser fixtures: one headless Chromium per test module, a live workspace per test."""
from __future__ import annotations

import pytest

from tests.browser.live import LiveWorkspace, chromium
from tests.console_fixtures import two_programmes


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture
def live(sqlite_database, clock, tmp_path, browser):
    two_programmes(sqlite_database, tmp_path, clock.now())
    running = LiveWorkspace(sqlite_database, clock)
    browser.delete_all_cookies()
    yield running
    running.close()
