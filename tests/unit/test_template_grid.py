"""Every sentence true for its reader: every template, in both languages, over a grid of facts.

The grid is pair/group × never met/met × before/after the programme's end × mentor/mentee. Each
template is rendered in each cell with the facts of that cell (and sample values for the rest),
and must not say what is false there: "last meeting" to people who never met, "partner" or
"pair" to a group, "ends" after the end, "your mentee" to a mentee. Some sentences are false
everywhere ("5 of 1 agreed", "I'll remind the mentee", a duration without its unit).
"""
from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from jinja2 import meta

from conversations.texts import LANGUAGES, Texts, strip_markers

CPH = ZoneInfo("Europe/Copenhagen")
WHEN = datetime(2027, 3, 12, 14, 0, tzinfo=CPH)
SKIP = {"_macros.md.j2", "report/words.html.j2", "console/words.html.j2"}  # macros only, no sentence of their own
# Templates only ever sent to one role: the grid does not judge them in the other's cell.
ONLY = {
    "timeline/agenda_reminder": "mentee", "timeline/line_manager": "mentee",
    "timeline/post_checkin": "mentee", "agenda/sent": "mentee", "agenda/usage": "mentee",
    "timeline/agenda": "mentor", "dialogs/evaluation/line_manager_feedback": "mentee",
    "dialogs/evaluation/line_manager_support": "mentee", "dialogs/baseline/goals": "mentee",
    "dialogs/baseline/goal_rating": "mentee", "dialogs/evaluation/goal_rating": "mentee",
    "meetings/proposed": "mentee", "timeline/meeting_proposed": "mentor",
    "meetings/proposal_left": "mentor", "meetings/regrets_sent": "mentee",
    "timeline/meeting_regrets": "mentor", "timeline/proposal_lapsed": "mentee",
}
# Templates that are only sent while a programme runs (the timeline stops at the end) or that
# speak of the end as a date anyone can read: judged before the end only.
BEFORE_END = {"timeline/kickoff", "timeline/closing", "timeline/evaluation",
              "timeline/first_meeting_chase", "timeline/meeting_nudge", "timeline/pulse",
              "timeline/droop", "timeline/droop_flag", "timeline/line_manager",
              "timeline/agenda_reminder", "timeline/meeting_reminder",
              "dialogs/evaluation/not_open"}
# Templates sent only after a meeting was logged.
AFTER_MEETING = {"timeline/reflection", "meetings/logged", "meetings/already_logged",
                 "timeline/meeting_nudge", "timeline/post_checkin"}

FORBIDDEN = {
    # (fact, value) -> patterns, per language
    ("met", False): {"en": [r"last meeting", r"since the last one", r"easy topics",
                            r"take the last meeting", r"Thanks for logging"],
                     "da": [r"sidste møde", r"seneste møde", r"det seneste", r"lette emner",
                            r"brug det sidste møde", r"Tak, fordi du loggede"]},
    ("group", True): {"en": [r"\bpartner", r"\bpair\b", r"\bPair\b", r"mentoring pair",
                             r"your mentee\b", r"both ways"],
                      "da": [r"makker", r"mentorpar", r"\bParret\b", r"\bparret\b",
                             r"jeres par\b", r"din mentee\b", r"begge veje"]},
    ("ended", True): {"en": [r"\bends\b", r"coming to an end", r"is coming up"],
                      "da": [r"\bslutter\b", r"nærmer sig afslutningen"]},
    ("role", "mentor"): {"en": [r"your mentor\b", r"what you want to learn"],
                         "da": [r"din mentor\b"]},
    ("role", "mentee"): {"en": [r"your mentee\b", r"\bthe mentee\b"],
                         "da": [r"din mentee\b", r"\bmentee om\b"]},
}
ALWAYS = {"en": [r"\b5 of 1\b", r"of the 1\b", r"remind the mentee", r"I read 1200\.",
                 r"\bmakker\b"],
          "da": [r"\b5 af 1\b", r"minder mentee om", r"jeg læste 1200\.", r"makker",
                 r"brug for en hånd"]}


def sample(group: bool, met: bool, ended: bool, role: str) -> dict:
    """Values for every name any template uses; the cell's facts decide the telling ones."""
    partners = ["Lars", "Omar"] if group else ["Grace Okafor"]
    names = ["Lars Nielsen", "Anna Weiss", "Omar Haddad"] if group else ["Grace Okafor",
                                                                          "Jonas Berg"]
    return dict(
        # the facts every composed message gets
        group=group, met=met, ended=ended, role=role, partners=partners, first_name="Anna",
        programme="Nordlys", cadence=4, held=5 if met else 0, agreed=1, total=3,
        mentees=["Anna", "Omar"] if group else ["Jonas"],
        mentor=role == "mentor", mentee=role == "mentee", manager=False, several_pairs=False,
        group_mentee=group and role == "mentee", logged_by_me=False, logger="Omar" if group else "Grace",
        phase="ended" if ended else "middle", ends=date(2027, 6, 30), starts=date(2026, 9, 1),
        last=WHEN if met else None, booked=None, waiting=None,
        # the droop and flag payloads
        reason="no_meeting", weeks=6, detail="", set=1, repeat=0, nudges=1,
        pair_key="nordlys-04" if group else "nordlys-02", names=names, status="drooping",
        round=1, followup=False, reminder=False, days=3, has_agenda=False, has_time=True,
        # everything else
        when=WHEN, day=WHEN, opens=WHEN, until=WHEN, send_at=WHEN, minutes=1200, note="", by="Grace",
        author="Omar", agenda="1) feedback", text="Master class", label="4",
        said="lgo", suggestion="log", question="What surprised you about yourself lately?", verb="log", slug="nordlys", slugs=["nordlys", "other"],
        choices=["Lars, Omar (Nordlys)"], hint="", key="p1", code="syntax", fields=["x"],
        count=3, audience="mentees", preview="Hello", items=[], attending=True,
        marked="p1", pending=["p2"], pairs=["p2"], path="report.html", file="roster.csv",
        problems=[], warnings=[], known=["weekly_cap"], summary=SimpleNamespace(programme_created=True,
                                                          programme="Nordlys", changed=False),
        answers=1, agendas=1, notes=1, messages=1, size=10, name="Anna", person_name="Anna",
        length=5000, limit=4000, goal="saying no", kind="rating", number=1, optional=True,
        counts={"meeting": 1, "drooping": 1, "silent": 1}, month_held=1, month_promised=2,
        unreachable=0, mentors_answered=0, mentees_answered=0, troubled=[], large=[], per_mentor=5,
        evaluation_published=ended, evaluation_closes=date(2027, 7, 14), min_group=3,
        url="https://mentor.example.org/files/token", programmes=["Nordlys"],
        # booking, moving and cancelling a meeting
        now=WHEN, before=WHEN, arrivals=[("Grace Okafor", WHEN)], ask_agenda=False,
        times=[SimpleNamespace(is_self=True, name="Anna", at=WHEN, place="Copenhagen",
                               working=True),
               SimpleNamespace(is_self=False, name="Grace", at=WHEN, place="Chicago",
                               working=False)],
        outside=["Grace"], after_end=False, typed="next 2027-03-12 14:00", others=True,
        suits=WHEN, several=True,
    )


# Read by managers (or by people in no pair at all): the pair/group and role cells do not apply,
# except where the template is told whether it speaks of a group (`droop_flag`).
FOR_MANAGERS = ("announce/", "report/", "followup/", "cli/", "status/manager",
                "timeline/manager_followup", "timeline/announcement", "errors/no_pair",
                "errors/no_programme", "errors/managers_only", "console/link")
ROLE_PREFIXES = {"dialogs/reflection/mentor/": "mentor", "dialogs/reflection/mentee/": "mentee",
                 "dialogs/baseline/": "mentee", "agenda/mentee_only": "mentor"}


def _only(template: str) -> str | None:
    if template in ONLY:
        return ONLY[template]
    return next((r for p, r in ROLE_PREFIXES.items() if template.startswith(p)), None)


CELLS = list(itertools.product((False, True), (False, True), (False, True),
                               ("mentor", "mentee")))


def _templates() -> list[str]:
    env = Texts()._envs["en"]
    return sorted(n.removesuffix(".md.j2") for n in env.list_templates(extensions=["j2"])
                  if n not in SKIP)


def _applies(template: str, group: bool, met: bool, ended: bool, role: str) -> bool:
    if (_only(template) or role) != role:
        return False
    if ended and template in BEFORE_END:
        return False
    return met or template not in AFTER_MEETING


def test_the_sample_names_every_value_a_template_uses():
    texts = Texts()
    known = set(sample(False, False, False, "mentee"))
    for lang in LANGUAGES:
        env = texts._envs[lang]
        for name in _templates():
            source = env.loader.get_source(env, f"{name}.md.j2")[0]
            missing = meta.find_undeclared_variables(env.parse(source)) - known
            assert not missing, f"{lang}/{name} uses {missing}: add them to the grid's sample"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("group", "met", "ended", "role"), CELLS,
                         ids=[f"{'group' if g else 'pair'}-{'met' if m else 'never'}-"
                              f"{'after' if e else 'before'}-{r}" for g, m, e, r in CELLS])
def test_every_template_is_true_in_every_cell(lang, group, met, ended, role):
    texts = Texts()
    values = sample(group, met, ended, role)
    facts = {"met": met, "group": group, "ended": ended, "role": role}
    wrong = []
    for name in _templates():
        if not _applies(name, group, met, ended, role):
            continue
        text = strip_markers(texts.render(lang, name, **values))
        patterns = list(ALWAYS[lang])
        for (fact, value), per_lang in FORBIDDEN.items():
            if name.startswith(FOR_MANAGERS) and fact in ("group", "role"):
                continue
            if facts[fact] == value:
                patterns += per_lang[lang]
        for pattern in patterns:
            if re.search(pattern, text):
                wrong.append(f"{name}: /{pattern}/ in {text[:160]!r}")
    assert not wrong, "\n".join(wrong)


def test_every_verb_the_danish_help_shows_is_understood():
    from conversations.grammar import parse

    help_text = "\n".join(Texts().render("da", "help/main", name="Sofie", mentee=True, mentor=True,
                                         manager=True, several_pairs=True, group_mentee=group)
                           for group in (False, True))
    verbs = re.findall(r"^- `([^` ]+)", help_text, re.MULTILINE)
    assert len(verbs) >= 10
    for word in verbs:
        assert parse(word).verb, f"the Danish help shows `{word}`, which the grammar ignores"
    english_only = {"reflect", "snooze", "optout", "optin", "export", "announce", "followup"}
    assert not english_only & set(verbs), "the Danish help should show the Danish verbs"
