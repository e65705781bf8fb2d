"""The manager's web console in a real headless Chromium (Debian's, through Selenium).

A manager asks the bot for a link with `/mentor console` in (fake) Slack, signs in with it,
imports a roster with one bad row and then a good one (preview, Apply), marks a follow-up,
composes and sends an announcement that arrives on the fake Slack, reads the report, switches
to Danish and signs out. A second manager sees only her own programme; a used or an expired
link is refused. No page runs a script: every step is a plain link or form.
"""
from __future__ import annotations

import re

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait

from storage.tables import Pair
from tests import console_fixtures as fx
from tests.fake_slack_api import ID, dm_of, text_of
from tests.helpers import ROOT

ROSTER = (ROOT / "examples" / "roster.csv").read_text(encoding="utf-8")
GOOD = ROSTER + "nina.berg@example.org,Nina Berg,mentee,nordlys-04,Europe/Oslo,da\n"
BAD = GOOD.replace("nordlys-02,Europe/Copenhagen,en", "nordlys-02,Mars/Olympus,en")


def _h1(browser) -> str:
    return browser.find_element(By.TAG_NAME, "h1").text


def _loaded(browser) -> None:
    WebDriverWait(browser, 20).until(
        lambda b: b.execute_script("return document.readyState") == "complete")


def _left(browser, page) -> None:
    """Wait until the browser has left `page` (its old <html> element) and loaded the next.
    Asked mid-navigation, chromedriver may answer 'Node … does not belong to the document'
    instead of 'stale element': that means not arrived yet, so ask again."""
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(staleness_of(page))
    _loaded(browser)


def _click(browser, text: str) -> None:
    """Follow a link or press a button by what it says, as a person would, and wait for the
    page it leads to."""
    _loaded(browser)
    for element in browser.find_elements(By.XPATH, f"//a[normalize-space()='{text}'] | "
                                                   f"//button[normalize-space()='{text}']"):
        if element.is_displayed():
            page = browser.find_element(By.TAG_NAME, "html")
            element.click()
            _left(browser, page)
            return
    raise AssertionError(f"no link or button {text!r} on {browser.current_url}")


def _upload(browser, folder, name: str, content: str) -> None:
    path = folder / name
    path.write_text(content, encoding="utf-8")
    browser.find_element(By.ID, "roster").send_keys(str(path))
    _click(browser, "Check and preview")


def test_a_manager_signs_in_from_slack_and_runs_her_programme(live, browser, clock, tmp_path):
    clock.advance(days=2, hours=1, minutes=30)  # Thursday 09:30 in Copenhagen
    live.dm(fx.MENTEE, "help")  # Jonas has talked to the bot in Slack, so Slack can reach him
    answer = live.slash(fx.MANAGER, "console")
    link = fx.LINK.search(answer).group(0)
    assert link.startswith(live.url) and "works once, within 10 minutes" in answer
    assert f"<{link}>" in answer  # a link in Slack, though its sections are verbatim

    browser.get(link)
    assert _h1(browser) == "Sign in to the programme console"
    _click(browser, "Sign in")
    assert _h1(browser) == "Your programmes"
    assert "Nordlys Mentoring 2026/27" in browser.page_source
    assert "Fjord" not in browser.page_source
    _click(browser, "Nordlys Mentoring 2026/27")
    assert _h1(browser) == "Nordlys Mentoring 2026/27"
    row = browser.find_element(By.ID, "pair-nordlys-02").text
    assert "Grace Okafor" in row and "Meeting" in row and "just started" in row

    _click(browser, "Import the roster")
    _upload(browser, tmp_path, "bad.csv", BAD)
    problems = browser.find_element(By.ID, "problems").text
    assert "Nothing was imported" in problems
    assert 'line 6: "Mars/Olympus" is not a time zone name' in problems
    _upload(browser, tmp_path, "roster.csv", GOOD)
    assert "nothing has changed yet" in browser.page_source
    assert "1 person joins" in browser.page_source and "Nina Berg" in browser.page_source
    _click(browser, "Apply these changes")
    assert "Applied." in browser.page_source

    _click(browser, "Back to the programme")
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "#pair-nordlys-02 button").click()
    _left(browser, page)
    assert "Pair nordlys-02 is marked as followed up." in browser.page_source
    assert "done," in browser.find_element(By.ID, "pair-nordlys-02").text
    with live.services.db.unit() as session:
        assert session.query(Pair).filter(Pair.key == "nordlys-02").one().followed_up_at

    _click(browser, "Announcements")
    Select(browser.find_element(By.ID, "audience")).select_by_value("everyone")
    browser.find_element(By.ID, "text").send_keys(
        "Master class on feedback, room 3. See you, {{ first_name }}!")
    _click(browser, "Preview")
    assert "10 people will get it" in browser.page_source
    previews = browser.find_elements(By.CSS_SELECTOR, ".preview")
    assert len(previews) == 4  # a mentor and a mentee, each in English and Danish
    _click(browser, "Send now")
    assert "Sent: it goes out now" in browser.page_source
    for _ in range(5):  # a beat delivers what it can; a loaded machine may need another
        live.pump()
        arrived = [text_of(p) for p in live.fake.posts_in(dm_of(ID[fx.MENTEE]))]
        if any("Master class on feedback, room 3. See you, Jonas!" in t for t in arrived):
            break
    else:
        raise AssertionError(f"the announcement did not reach Jonas on Slack: {arrived}")
    browser.refresh()
    status = browser.find_element(By.TAG_NAME, "table").text
    assert re.search(r"[1-9]\d* delivered, \d+ waiting, 1 unreachable", status)
    assert "Nina Berg: hasn't opened a chat with the bot yet" in status  # not in Slack

    browser.get(f"{live.url}/console/p/{fx.SLUG}")
    _click(browser, "Report")
    assert browser.title == "Programme health: Nordlys Mentoring 2026/27"
    assert "Meetings per month" in browser.page_source
    browser.back()

    _click(browser, "Dansk")
    assert _h1(browser) == "Nordlys Mentoring 2026/27"
    assert "Par og grupper" in browser.page_source
    _click(browser, "Log ud")
    assert _h1(browser) == "Du er logget ud"
    browser.get(f"{live.url}/console")
    assert _h1(browser) == "Log ind"


def test_a_second_manager_sees_only_hers_and_old_links_are_refused(live, browser, clock):
    link = fx.console_link(live.services, fx.OTHER_MANAGER, "konsol")  # the console adapter
    browser.get(link)
    _click(browser, "Sign in")
    assert _h1(browser) == "Dine forløb"  # Ida reads Danish, as the roster says
    assert "Fjord Mentoring 2026" in browser.page_source
    assert "Nordlys" not in browser.page_source
    browser.get(f"{live.url}/console/p/{fx.SLUG}")
    assert _h1(browser) == "Ikke fundet"
    browser.get(f"{live.url}/console/p/{fx.OTHER_SLUG}")
    assert "Kim Vang" in browser.page_source

    browser.delete_all_cookies()
    browser.get(link)  # used already
    assert _h1(browser) == "This link no longer works"
    late = fx.LINK.search(live.slash(fx.MANAGER, "console")).group(0)
    clock.advance(minutes=11)
    browser.get(late)
    assert _h1(browser) == "This link no longer works"
    browser.get(f"{live.url}/console")
    assert _h1(browser) == "Please sign in"
