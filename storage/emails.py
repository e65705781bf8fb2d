"""Email addresses as the roster and the platforms spell them: one normal form, look-alikes refused.

A person is found by email on every platform, so two spellings of one address must become one
string, and an address that merely looks like someone else's must not get in. The normal form
is NFKC, then case-folded once (full-width letters and ligatures become plain ones, `Ä` and `ä`
agree). Refused: invisible characters (zero-width spaces and joiners, direction marks, any
Unicode "format" character) and a local part or domain label that mixes writing systems, such
as a Cyrillic `а` inside a Latin address.
"""
from __future__ import annotations

import unicodedata

# Scripts that are written together in one word (Japanese mixes kana and kanji).
_SAME_SCRIPT = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}


def normal_email(text: str) -> str:
    return unicodedata.normalize("NFKC", text.strip()).casefold()


def email_problem(email: str) -> str | None:
    """None for an acceptable (normalised) address, else the problem's code."""
    if any(unicodedata.category(c) == "Cf" for c in email):
        return "email_hidden_characters"
    local, _, domain = email.rpartition("@")
    for part in (local, *domain.split(".")):
        if len({_script(c) for c in part if c.isalpha()}) > 1:
            return "email_mixed_script"
    return None


def shown(text: str) -> str:
    """The address as a problem line shows it: invisible characters written out as U+XXXX."""
    return "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in ("Cf", "Cc") else c
                   for c in text)


def _script(char: str) -> str:
    script = unicodedata.name(char, "UNKNOWN").split()[0]
    return _SAME_SCRIPT.get(script, script)
