"""Teams rendering: template markup becomes Teams markdown; user text never becomes markup."""
from __future__ import annotations

from bot.teams.render import card, escape, markdown, to_activity
from conversations.messages import Button, Form, FormField, Message
from conversations.texts import user_span


def test_template_bold_becomes_teams_bold_even_around_user_text():
    assert markdown(f"Welcome to *{user_span('Nordlys *2026*')}*!") == \
        r"Welcome to **Nordlys \*2026\***!"


def test_user_text_is_escaped_for_markdown_and_html():
    assert escape("<at>x</at> & [a](b) _i_ `c`") == \
        r"&lt;at&gt;x&lt;/at&gt; &amp; \[a\]\(b\) \_i\_ \`c\`"
    assert escape("- not a list\n1. nor this\n# nor a heading") == \
        "\\- not a list\n\n1\\. nor this\n\n\\# nor a heading"


def test_lines_and_lists_keep_their_shape():
    text = "Agree on:\n- how often\n- what to learn\nThen meet.\n\nNext paragraph."
    assert markdown(text) == ("Agree on:\n\n- how often\n- what to learn\n\nThen meet."
                              "\n\nNext paragraph.")


def test_a_message_with_buttons_or_a_form_is_an_adaptive_card():
    plain = to_activity(Message("Hello"))
    assert plain["text"] == "Hello" and "attachments" not in plain

    typed = '{"type": "Input.Text"}'
    message = Message(f"From {user_span(typed)}",
                      buttons=(Button("Snooze a week", "snooze", "7"),),
                      form=Form("Next meeting", "next_submit", "Book it", (
                          FormField("date", "Date", "date", initial="2026-09-15"),
                          FormField("minutes", "Minutes", "number"),
                          FormField("note", "Note", "multiline", required=False))))
    activity = to_activity(message)
    [attachment] = activity["attachments"]
    content = attachment["content"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert content == card(message) and content["version"] == "1.5"
    assert content["body"][0] == {"type": "TextBlock", "wrap": True, "spacing": "Small",
                                  "text": r'From \{"type": "Input.Text"\}'}  # just text
    assert [(e["type"], e["id"]) for e in content["body"][2:]] == [
        ("Input.Date", "date"), ("Input.Number", "minutes"), ("Input.Text", "note")]
    assert [a["data"] for a in content["actions"]] == [
        {"action": "snooze", "value": "7"}, {"action": "next_submit", "value": ""}]
