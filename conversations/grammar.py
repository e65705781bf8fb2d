"""The command grammar shared by every platform: `[/mentor] <verb> <arguments>`."""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

MAX_TEXT = 4000
VERBS = ("help", "log", "next", "move", "cancel", "agenda", "status", "reflect", "snooze", "pause", "resume",
         "optout", "optin", "evaluate", "export", "forget", "announce", "followup",
         "report", "console")
ALIASES = {
    "hjælp": "help", "hjaelp": "help", "?": "help", "logge": "log", "næste": "next",
    "naeste": "next", "dagsorden": "agenda", "reflekter": "reflect", "refleksion": "reflect",
    "udsæt": "snooze", "pause": "pause", "evaluer": "evaluate", "evaluering": "evaluate",
    "eksporter": "export", "glem": "forget", "rapport": "report", "meddel": "announce",
    "fravælg": "optout", "fravaelg": "optout", "tilvælg": "optin", "tilvaelg": "optin",
    "opfølgning": "followup", "opfoelgning": "followup", "genoptag": "resume",
    "flyt": "move", "aflys": "cancel", "konsol": "console",
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


# Ordinary first words of an answer that are one or two letters from a verb ("not" / "next",
# "lot" / "log"): never taken for a mistyped command.
_WORDS_NOT_TYPOS = {"not", "lot", "dog", "leg", "lag", "text", "nest", "neat", "held", "hell",
                    "expert", "forgot", "statue", "cause", "pauses", "logo", "ja", "nej", "yes",
                    "no", "nu", "næst", "nej,", "help!", "loge", "loft", "lidt", "det", "jeg"}


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    neighbouring letters ("lgo" is one from "log")."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current.append(value)
        previous2, previous = previous, current
    return previous[-1]


def near_verb(word: str) -> str | None:
    """The verb `word` is a typo of (one letter off for short words, two for longer), or None."""
    word = word.lower().strip(".,:!")
    if len(word) < 3 or word in _WORDS_NOT_TYPOS or word in VERBS or word in ALIASES:
        return None
    best = None
    for option in (*VERBS, *ALIASES):
        allowed = 1 if min(len(option), len(word)) <= 4 else 2
        distance = edit_distance(word, option)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, ALIASES.get(option, option))
    return best[1] if best else None
