"""The command grammar shared by every platform: `[/mentor] <verb> <arguments>`."""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

MAX_TEXT = 4000
VERBS = ("help", "log", "next", "agenda", "status", "reflect", "snooze", "pause", "resume",
         "optout", "optin", "evaluate", "export", "forget", "announce", "followup",
         "report")
ALIASES = {
    "hjælp": "help", "hjaelp": "help", "?": "help", "logge": "log", "næste": "next",
    "naeste": "next", "dagsorden": "agenda", "reflekter": "reflect", "refleksion": "reflect",
    "udsæt": "snooze", "pause": "pause", "evaluer": "evaluate", "evaluering": "evaluate",
    "eksporter": "export", "glem": "forget", "rapport": "report", "meddel": "announce",
    "fravælg": "optout", "fravaelg": "optout", "tilvælg": "optin", "tilvaelg": "optin",
    "opfølgning": "followup", "opfoelgning": "followup", "genoptag": "resume",
}
_WITH = re.compile(r"(?:^|\s)(?:with|med)\s+@?(?P<who>[\w.+-]+(?:@[\w.-]+)?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    verb: str  # a known verb, or "" when the text named none
    args: str
    said: str  # the word the user typed as the verb
    partner: str = ""  # from a trailing "with @anna"
    full_args: str = ""  # the arguments before "with …" was taken off


def clean(text: str) -> str:
    """Drop control and formatting characters (keep newlines), normalise, trim."""
    text = unicodedata.normalize("NFC", text)
    kept = [c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs")]
    return "".join(kept).replace("\t", " ").strip()


def parse(text: str) -> Command:
    text = clean(text)
    text = re.sub(r"^/?mentor\b", "", text, flags=re.IGNORECASE).strip()
    said, _, args = text.partition(" ")
    if "\n" in said:
        said, _, more = said.partition("\n")
        args = (more + " " + args).strip()
    word = said.lower().strip(".,:!")
    verb = word if word in VERBS else ALIASES.get(word, "")
    args = full_args = args.strip()
    partner = ""
    match = _WITH.search(args)
    if match and verb not in ("agenda", "announce"):
        partner = match.group("who").lower()
        args = args[: match.start()].strip()
    return Command(verb, args, said, partner, full_args)


def small_number(text: str) -> int | None:
    """A button's or form's number: ASCII digits only, at most nine (fits every INTEGER column).

    `str.isdigit()` is true for "²" and for 5,000 nines, and `int()` raises on both.
    """
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def nearest(word: str, cutoff: float = 0.5) -> str | None:
    options = difflib.get_close_matches(word.lower(), [*VERBS, *ALIASES], n=1, cutoff=cutoff)
    return ALIASES.get(options[0], options[0]) if options else None
