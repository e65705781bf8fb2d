"""The manager's announcement template: three fields, nothing else, never executed."""
import pytest

from conversations.announcement_text import TextRefused, check, render

VALUES = dict(first_name="Anna", programme="Nordlys", partner="Mads")


def test_the_three_fields_are_filled_in():
    text = render("Hi {{ first_name }}, {{ partner }} and you are in {{programme}}.", **VALUES)
    assert text == "Hi Anna, Mads and you are in Nordlys."


@pytest.mark.parametrize("template,code", [
    ("{{ ''.__class__ }}", "not_allowed"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "not_allowed"),
    ("{{ 'a' * 10**7 }}", "not_allowed"),
    ("{{ first_name * 1000000 }}", "not_allowed"),
    ("{{ salary }}", "unknown_field"),
    ("{% for x in range(10) %}x{% endfor %}", "not_allowed"),
    ("{% set x = [1] %}{{ x.append(2) }}", "not_allowed"),
    ("{{ first_name|upper }}", "not_allowed"),
    ("{{ cycler.__init__.__globals__ }}", "not_allowed"),
    ("{{ first_name", "syntax"),
    ("   ", "empty"),
    ("x" * 2001, "too_long"),
])
def test_anything_else_is_refused_with_a_reason(template, code):
    with pytest.raises(TextRefused) as refused:
        check(template)
    assert refused.value.code == code


def test_user_values_are_not_templates_themselves():
    text = render("Hi {{ first_name }}", first_name="{{ 7*7 }}", programme="", partner="")
    assert text == "Hi {{ 7*7 }}"
