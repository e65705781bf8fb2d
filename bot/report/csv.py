"""The programme report as CSV, for a spreadsheet: the same figures as the HTML page.

One table in long form, `section,item,group,measure,value`, so every section fits one header
and a pivot table can reshape it. Section and measure names are stable identifiers (not
translated), for formulas and scripts that read the file. Text that people wrote (names, open
answers) is guarded against spreadsheet formula injection.
"""
from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from storage.report import Report

HEADER = ("section", "item", "group", "measure", "value")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A leading quote keeps a spreadsheet from running `=HYPERLINK(…)` someone typed."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def rows(report: Report) -> list[tuple[str, str, str, str, str]]:
    p = report.programme
    out: list[tuple[str, str, str, str, str]] = []

    def add(section: str, item: str, group: str, measure: str, value) -> None:
        numeric = isinstance(value, (int, float)) or value is None
        text = _number(value) if numeric else _text(str(value))
        out.append((section, _text(item), group, measure, text))

    for measure, value in (("name", p.name), ("starts", p.starts.isoformat()),
                           ("ends", p.ends.isoformat()), ("cadence_weeks", p.cadence_weeks),
                           ("phase", report.phase), ("as_of", report.as_of.isoformat()),
                           ("min_group", report.min_group),
                           ("agreed_per_pair", report.agreed),
                           ("agreed_per_pair_total", report.agreed_total),
                           ("meetings_held", report.held)):
        add("programme", p.slug, "", measure, value)
    for status, count in report.counts.items():
        add("pair_status", status, "", "pairs", count)
    for pair in report.pairs:
        add("pairs", pair.key, "", "status", pair.status)
        add("pairs", pair.key, "", "held", pair.held)
        add("pairs", pair.key, "", "agreed", pair.agreed)
        add("pairs", pair.key, "", "last_met", pair.last_met.isoformat() if pair.last_met else "")
        add("pairs", pair.key, "", "flagged", "yes" if pair.flagged else "no")
        add("pairs", pair.key, "", "weeks_without_meeting", pair.weeks_quiet)
        add("pairs", pair.key, "", "nudges_unanswered", pair.nudges)
        add("pairs", pair.key, "", "mentors", pair.mentors)
        add("pairs", pair.key, "", "mentees", pair.mentees)
        add("pairs", pair.key, "", "larger_than_advised", "yes" if pair.too_large else "no")
    for month in report.months:
        add("months", month.month.strftime("%Y-%m"), "", "held", month.held)
        add("months", month.month.strftime("%Y-%m"), "", "promised", month.promised)
    for person in report.unreachable:
        add("unreachable", person.name, person.role, "reason", person.reason)
    for kind in report.deliveries:
        for measure in ("sent", "pending", "failed", "skipped"):
            add("deliveries", kind.kind, "", measure, getattr(kind, measure))
    if not report.evaluation_published:  # published once, when the evaluation closes
        closes = report.evaluation_closes
        add("evaluation", "", "", "published_on",
            closes.astimezone(ZoneInfo(report.programme.timezone)).date().isoformat()
            if closes else "")
        return out
    for role, count in report.respondents.items():
        _count(add, "evaluation_respondents", role, "", "people", count)
    for dist in report.evaluation:
        for role, group in (("mentor", dist.mentors), ("mentee", dist.mentees)):
            _count(add, "evaluation", dist.question, role, "respondents", group.respondents)
            if group.counts is None:
                add("evaluation", dist.question, role, "hidden", "too_few_respondents")
                continue
            for answer, count in enumerate(group.counts, 1):
                add("evaluation", dist.question, role, f"answered_{answer}", count)
            add("evaluation", dist.question, role, "average", group.average)
    goals = report.goals
    if goals.mentees is not None:
        add("goals", "mentee_goals", "", "mentees", goals.mentees)
        add("goals", "mentee_goals", "", "goals", goals.goals)
    if goals.shown:
        add("goals", "mentee_goals", "", "before", goals.before)
        add("goals", "mentee_goals", "", "after", goals.after)
        add("goals", "mentee_goals", "", "change", goals.change)
    else:
        add("goals", "mentee_goals", "", "hidden", "too_few_respondents")
    for group in report.open_answers:
        _count(add, "open_answers", group.question, "", "respondents", group.respondents)
        if group.answers is None:
            add("open_answers", group.question, "", "hidden", "too_few_respondents")
            continue
        for answer in group.answers:
            add("open_answers", group.question, "", "answer", answer)
    return out


def _count(add, section: str, item: str, group: str, measure: str, count: int | None) -> None:
    """A count of people; one below the minimum group is not a figure to give."""
    if count is not None:
        add(section, item, group, measure, count)


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows(report))
    return buffer.getvalue()
