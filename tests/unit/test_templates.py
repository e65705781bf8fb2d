"""Every message exists in every language and renders; user text is marked for escaping."""

from conversations.texts import LANGUAGES, PROMPTS, Texts, spans


def _names(lang: str) -> set[str]:
    root = PROMPTS / lang
    return {str(p.relative_to(root)) for p in root.rglob("*.j2")}


def test_every_template_exists_in_every_language():
    english = _names("en")
    assert len(english) > 100
    for lang in LANGUAGES:
        assert _names(lang) == english, f"{lang} differs: {_names(lang) ^ english}"


def test_every_template_parses_in_every_language():
    texts = Texts()
    for lang in LANGUAGES:
        env = texts._envs[lang]
        for name in _names(lang):
            env.get_template(name)


def test_user_values_are_marked_as_user_text():
    texts = Texts()
    text = texts.render("en", "timeline/agenda", author="Anna", agenda="<!channel> *now*",
                        when=None)
    user_parts = [chunk for is_user, chunk in spans(text) if is_user]
    assert "<!channel> *now*" in user_parts and "Anna" in user_parts


def test_dates_render_in_the_readers_language():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    when = datetime(2026, 3, 3, 14, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
    texts = Texts()
    values = {"author": "A", "agenda": "x", "when": when}
    assert "Tuesday 3 March, 14:00" in texts.render("en", "timeline/agenda", **values)
    assert "tirsdag 3. marts kl. 14.00" in texts.render("da", "timeline/agenda", **values)
    # The year shows when it is not the reader's current one.
    later = datetime(2025, 12, 30, 9, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
    assert "Tuesday 3 March 2026, 14:00" in texts.render("en", "timeline/agenda", now=later,
                                                          **values)
    assert "tirsdag 3. marts 2026 kl. 14.00" in texts.render("da", "timeline/agenda", now=later,
                                                              **values)


def test_relative_words_are_true_on_the_day_they_are_read():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from conversations.texts import Texts

    envs = Texts()._envs

    def format_relative(moment, now, lang):  # the words live in prompts/<lang>/_macros.md.j2
        return envs[lang].from_string("{{ when | relative }}").render(when=moment, now=now)

    cph = ZoneInfo("Europe/Copenhagen")
    meeting = datetime(2026, 12, 14, 14, 0, tzinfo=cph)  # a Monday
    cases = [(datetime(2026, 12, 14, 9, 0, tzinfo=cph), "today at 14:00", "i dag kl. 14.00"),
             (datetime(2026, 12, 13, 9, 0, tzinfo=cph), "tomorrow, Monday, at 14:00",
              "i morgen, mandag, kl. 14.00"),
             (datetime(2026, 12, 11, 16, 0, tzinfo=cph), "on Monday at 14:00",
              "på mandag kl. 14.00"),
             (datetime(2026, 12, 1, 9, 0, tzinfo=cph), "on Monday 14 December at 14:00",
              "mandag 14. december kl. 14.00"),
             (datetime(2027, 1, 2, 9, 0, tzinfo=cph), "on Monday 14 December 2026 at 14:00",
              "mandag 14. december 2026 kl. 14.00")]
    for now, en, da in cases:
        assert (format_relative(meeting, now, "en"), format_relative(meeting, now, "da")) == (en, da)
    # In the reader's zone: 14:00 in Copenhagen is 07:00 the same Monday in Chicago.
    chicago = datetime(2026, 12, 13, 22, 30, tzinfo=ZoneInfo("America/Chicago"))
    assert format_relative(meeting, chicago, "en") == "tomorrow, Monday, at 07:00"
