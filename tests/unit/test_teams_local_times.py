"""The 'quick check' before a booking across time zones lists each person's local time; in Teams
that list must stay a list (not glued to the sentence and escaped as typed text), while a name
in it stays escaped."""
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.teams.render import markdown
from conversations.texts import Texts

CPH, CHI = ZoneInfo("Europe/Copenhagen"), ZoneInfo("America/Chicago")


@pytest.mark.parametrize("lang", ["en", "da"])
def test_the_local_times_are_a_list_in_teams(lang):
    when = datetime(2026, 12, 18, 10, 0, tzinfo=CPH)
    times = [SimpleNamespace(is_self=True, name="Jonas", at=when, place="Copenhagen", working=True),
             SimpleNamespace(is_self=False, name="Grace *Okafor*", at=when.astimezone(CHI),
                             place="Chicago", working=False)]
    text = Texts().render(lang, "meetings/confirm_time", when=when, times=times, booked=False,
                          outside=True, others=[1], typed="next x", after_end=False, ends=when,
                          now=datetime(2026, 12, 15, 10, tzinfo=CPH))
    md = markdown(text)
    lines = md.split("\n")
    items = [line for line in lines if line.startswith("- ")]
    assert len(items) == 2, md
    assert "(Copenhagen)" in items[0] and "(Chicago)" in items[1] and "03" in items[1]
    assert "\\*Okafor\\*" in items[1]  # the name is still text, never markup
