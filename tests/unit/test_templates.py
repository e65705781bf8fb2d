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
    assert "Tuesday 3 March, 14:00" in texts.render("en", "timeline/meeting_booked", by="A", when=when)
    assert "tirsdag 3. marts kl. 14.00" in texts.render("da", "timeline/meeting_booked", by="A", when=when)
