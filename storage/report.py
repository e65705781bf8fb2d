"""Programme health for its manager: aggregate queries over one programme (storage layer).

Confidentiality is enforced here, where the data is read, so no renderer can leak what it was
never given: the queries select counts, dates, statuses and ratings only, never a meeting note,
an agenda, a reflection answer or a baseline goal's wording; evaluation answers leave this
module as distributions and averages with no person attached, and only for groups of at least
`min_group` people (a count of fewer people is not given either). Open evaluation answers are
the one free text that leaves, as the issue asks: without names, roles or pairs, sorted
alphabetically (so their order says nothing about who wrote them), and only when at least
`min_group` people answered that question. Evaluation figures are published once, when the
evaluation closes, and frozen (`storage/evaluation_results.py`): before that the report has
none, after it the same ones whatever is answered or forgotten later.

The engine's rules (pair health, phase, agreed meetings, minimum group, droop factor, question
keys) are applied by the caller (`conversations/health.py`), because storage does not import the
engine: this module only reads the facts those rules are judged on.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from storage import evaluation_results
from storage.tables import Answer, Delivery, Meeting, Membership, Pair, Person, Programme

NEVER_REACHED_AFTER = timedelta(days=3)
ROLES = ("mentor", "mentee")
# Delivery errors (`last_error` up to the first ":"), sorted into what a manager can act on.
REASONS = {
    "not_installed": "not_installed",
    "account_inactive": "account_inactive", "user_disabled": "account_inactive",
    "user_not_found": "not_found", "users_not_found": "not_found", "user_not_visible": "not_found",
    "channel_not_found": "blocked", "not_in_channel": "blocked", "is_archived": "blocked",
    "cannot_dm_bot": "blocked", "restricted_action": "blocked", "is_bot": "blocked",
}


@dataclass(frozen=True)
class Rules:
    """What the engine decides and storage must not know how: given by the caller."""

    phase: str
    agreed: int  # meetings the cadence promises each pair by now
    agreed_total: int  # … by the formal end
    min_group: int = 3
    droop_factor: float = 1.5
    likert: tuple[str, ...] = ()
    open_questions: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    evaluation_closes: datetime | None = None  # None: the evaluation never closes, no figures
    mentees_per_mentor: int = 5  # the group size practice advises, for the report's note


@dataclass(frozen=True)
class PairRecord:
    """The facts a pair's health is judged on (by `conversations.health.classify`)."""

    pair_id: int
    key: str  # the roster's pair id
    names: tuple[str, ...]  # its members' names (mentors first), never what they wrote
    held: int
    last_met: datetime | None
    started_at: datetime | None
    last_flag: datetime | None  # when a droop flag about it last reached a manager
    nudged: tuple[tuple[int, datetime], ...] = ()  # (member, when) of each nudge to book
    mentors: int = 0
    mentees: int = 0


@dataclass(frozen=True)
class PairHealth:
    key: str  # the roster's pair id, not a name
    status: str  # "meeting", "drooping" or "silent", as `conversations.health` judged it
    held: int
    agreed: int
    last_met: date | None  # in the programme's time zone
    flagged: bool  # a droop flag went to the manager in the last six weeks
    names: tuple[str, ...] = ()
    weeks_quiet: int = 0
    nudges: int = 0  # the bot's nudges to meet that went unanswered (no meeting since)
    mentors: int = 0
    mentees: int = 0
    too_large: bool = False  # more mentees per mentor than mentoring practice advises


@dataclass(frozen=True)
class MonthCount:
    month: date  # the first day of the month
    held: int
    promised: float  # what the cadence promises for the pairs in this month


@dataclass(frozen=True)
class Unreachable:
    name: str
    role: str
    reason: str  # a category from REASONS, "other" or "never_reached"; never a message


@dataclass(frozen=True)
class KindCount:
    kind: str
    sent: int = 0
    pending: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class Group:
    """One role's answers to one rating question: shown only from `min_group` people up."""

    respondents: int | None  # None: some, but fewer than `min_group`
    counts: tuple[int, ...] | None  # how many answered 1, 2, 3, 4, 5; None: too few to show

    @property
    def shown(self) -> bool:
        return self.counts is not None

    @property
    def average(self) -> float | None:
        if not self.counts or not sum(self.counts):
            return None
        return sum(n * (i + 1) for i, n in enumerate(self.counts)) / sum(self.counts)


@dataclass(frozen=True)
class Distribution:
    question: str
    mentors: Group
    mentees: Group


@dataclass(frozen=True)
class GoalChange:
    """Mentees' self-rating on their own goals, at kick-off and at the end (1–5)."""

    mentees: int | None  # mentees with at least one goal rated at both moments (None: too few)
    goals: int | None
    before: float | None = None  # None: too few mentees to show
    after: float | None = None

    @property
    def shown(self) -> bool:
        return self.before is not None

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass(frozen=True)
class OpenAnswers:
    question: str
    respondents: int | None  # None: some, but fewer than `min_group`
    answers: tuple[str, ...] | None  # sorted; None: too few to show


@dataclass(frozen=True)
class ProgrammeInfo:
    slug: str
    name: str
    starts: date
    ends: date
    cadence_weeks: int
    language: str
    timezone: str


@dataclass(frozen=True)
class Report:
    programme: ProgrammeInfo
    as_of: datetime
    phase: str
    min_group: int
    droop_factor: float
    agreed: int
    agreed_total: int
    pairs: list[PairHealth]
    months: list[MonthCount]
    unreachable: list[Unreachable]
    deliveries: list[KindCount]
    evaluation: list[Distribution]
    goals: GoalChange
    open_answers: list[OpenAnswers]
    respondents: dict[str, int | None] = field(default_factory=dict)  # evaluation, per role
    statuses: tuple[str, ...] = ()  # the pair statuses, in the engine's order
    evaluation_closes: datetime | None = None
    evaluation_published: bool = False  # False: no evaluation figure above is filled in yet
    mentees_per_mentor: int = 5

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(p.status for p in self.pairs)
        return {status: counted.get(status, 0) for status in self.statuses}

    @property
    def this_month(self) -> MonthCount | None:
        local = self.as_of.astimezone(ZoneInfo(self.programme.timezone)).date().replace(day=1)
        return next((m for m in self.months if m.month == local), None)

    @property
    def held(self) -> int:
        return sum(p.held for p in self.pairs)


def programmes(session: Session) -> list[Programme]:
    return list(session.exec(select(Programme).order_by(Programme.starts, Programme.slug)))


def programme_by_slug(session: Session, slug: str) -> Programme | None:
    return session.exec(select(Programme).where(Programme.slug == slug)).first()


def build(session: Session, programme: Programme, now: datetime, rules: Rules,
          pairs: list[PairHealth]) -> Report:
    """The whole report; `pairs` are judged by the engine from `pair_records`."""
    min_group = max(3, rules.min_group)
    return Report(
        programme=ProgrammeInfo(programme.slug, programme.name, programme.starts, programme.ends,
                                programme.cadence_weeks, programme.language, programme.timezone),
        as_of=now, phase=rules.phase, min_group=min_group, droop_factor=rules.droop_factor,
        agreed=rules.agreed,
        agreed_total=rules.agreed_total,
        pairs=pairs,
        months=meetings_per_month(session, programme, now),
        unreachable=unreachable(session, programme.id, now),
        deliveries=deliveries_by_kind(session, programme.id),
        statuses=rules.statuses, mentees_per_mentor=rules.mentees_per_mentor,
        **published_evaluation(session, programme.id, now, rules, min_group),
    )


@dataclass(frozen=True)
class EvaluationFigures:
    evaluation: list[Distribution]
    goals: GoalChange
    open_answers: list[OpenAnswers]
    respondents: dict[str, int | None]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EvaluationFigures:
        raw = json.loads(text)

        def group(g: dict) -> Group:
            return Group(g["respondents"], tuple(g["counts"]) if g["counts"] else None)

        return cls(
            evaluation=[Distribution(d["question"], group(d["mentors"]), group(d["mentees"]))
                        for d in raw["evaluation"]],
            goals=GoalChange(**raw["goals"]),
            open_answers=[OpenAnswers(o["question"], o["respondents"],
                                      tuple(o["answers"]) if o["answers"] is not None else None)
                          for o in raw["open_answers"]],
            respondents=raw["respondents"])


def evaluation_figures(session: Session, programme_id: int, rules: Rules, min_group: int,
                       until: datetime) -> EvaluationFigures:
    """The evaluation's aggregates over the answers given by `until`."""
    return EvaluationFigures(
        evaluation=[rating_distribution(session, programme_id, q, min_group, until)
                    for q in rules.likert],
        goals=goal_change(session, programme_id, min_group, until),
        open_answers=[open_answers(session, programme_id, q, min_group, until)
                      for q in rules.open_questions],
        respondents=evaluation_respondents(session, programme_id, until, min_group))


def published_evaluation(session: Session, programme_id: int, now: datetime, rules: Rules,
                         min_group: int) -> dict:
    """The report's evaluation fields: empty until the evaluation closes, then the figures
    published at that moment, the same in every later report."""
    closes = rules.evaluation_closes
    text = None if closes is None else evaluation_results.published(
        session, programme_id, now, closes,
        lambda until: evaluation_figures(session, programme_id, rules, min_group,
                                         until).to_json())
    if text is None:
        return dict(evaluation=[], goals=GoalChange(None, None), open_answers=[],
                    respondents={}, evaluation_closes=closes, evaluation_published=False)
    figures = EvaluationFigures.from_json(text)
    return dict(evaluation=figures.evaluation, goals=figures.goals,
                open_answers=figures.open_answers, respondents=figures.respondents,
                evaluation_closes=closes, evaluation_published=True)


def _shown_count(people: int, min_group: int) -> int | None:
    """A count of people, or None for 1 to `min_group` - 1 of them: a figure, too."""
    return people if people == 0 or people >= max(3, min_group) else None


def pair_records(session: Session, programme: Programme, now: datetime) -> list[PairRecord]:
    """Each active pair's meetings, start and latest droop flag, as of `now`."""
    pairs = list(session.exec(select(Pair).where(Pair.programme_id == programme.id, Pair.active)
                              .order_by(Pair.key)))
    stats = {pair_id: (count, last) for pair_id, count, last in session.exec(
        select(Meeting.pair_id, func.count(), func.max(Meeting.held_at))
        .join(Pair, Pair.id == Meeting.pair_id)
        .where(Pair.programme_id == programme.id, Meeting.held_at <= now)
        .group_by(Meeting.pair_id))}
    names: dict[int, list[str]] = defaultdict(list)
    roles: dict[int, Counter] = defaultdict(Counter)
    for pair_id, name, role in session.exec(
            select(Membership.pair_id, Person.name, Membership.role)
            .join(Person, Person.id == Membership.person_id)
            .join(Pair, Pair.id == Membership.pair_id)
            .where(Pair.programme_id == programme.id, Membership.active)
            .order_by(Membership.pair_id, Membership.role.desc(), Person.name)):
        names[pair_id].append(name)
        roles[pair_id][role] += 1
    flags = _latest_flags(session, programme.id, now)
    nudged = nudges_sent(session, [p.id for p in pairs], now)
    result = []
    for pair in pairs:
        held, last = stats.get(pair.id, (0, None))
        result.append(PairRecord(pair.id, pair.key, tuple(names.get(pair.id, ())), held,
                                 _aware(last), _aware(pair.started_at), flags.get(pair.id),
                                 tuple(nudged.get(pair.id, ())), roles[pair.id]["mentor"],
                                 roles[pair.id]["mentee"]))
    return result


NUDGE_KINDS = ("first_meeting_chase", "meeting_nudge", "droop")


def nudges_sent(session: Session, pair_ids: list[int], now: datetime
                ) -> dict[int, list[tuple[int, datetime]]]:
    """Pair id → (member, when) of every nudge to meet the bot sent them by `now` (a droop
    prompt about the midpoint's topics is not a nudge to meet). Facts about the bot's own
    messages, never about what anyone answered."""
    if not pair_ids:
        return {}
    rows = session.exec(select(Delivery.pair_id, Delivery.person_id, Delivery.kind,
                               Delivery.payload_json, Delivery.sent_at).where(
        Delivery.pair_id.in_(pair_ids), Delivery.kind.in_(NUDGE_KINDS),
        Delivery.status == "sent", Delivery.sent_at <= now))
    found: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
    for pair_id, person_id, kind, payload, sent_at in rows:
        if kind == "droop" and _payload_value(payload, "reason") != "no_meeting":
            continue
        found[pair_id].append((person_id, _aware(sent_at)))
    return found


def _latest_flags(session: Session, programme_id: int, now: datetime) -> dict[int, datetime]:
    """Pair id → when its latest droop flag reached a manager (the flag names its pair)."""
    rows = session.exec(select(Delivery.payload_json, Delivery.sent_at).where(
        Delivery.programme_id == programme_id, Delivery.kind == "droop_flag",
        Delivery.status == "sent", Delivery.sent_at <= now))
    flags: dict[int, datetime] = {}
    for payload, sent_at in rows:
        pair_id = _payload_pair(payload)
        sent_at = _aware(sent_at)
        if pair_id is not None and (pair_id not in flags or flags[pair_id] < sent_at):
            flags[pair_id] = sent_at
    return flags


def _payload_pair(payload: str) -> int | None:
    value = _payload_value(payload, "flag_pair")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _payload_value(payload: str, name: str):
    try:
        return json.loads(payload or "{}").get(name)
    except (ValueError, AttributeError):
        return None


def local_date(moment: datetime | None, zone: str) -> date | None:
    return moment.astimezone(ZoneInfo(zone)).date() if moment else None


def meetings_per_month(session: Session, programme: Programme, now: datetime) -> list[MonthCount]:
    """Meetings held per calendar month (programme time zone), from the kick-off month to the
    closing month, against the cadence's promise: each active pair one meeting per C weeks,
    spread evenly over the programme's days (so a half month promises half as much)."""
    zone = ZoneInfo(programme.timezone)
    held: Counter = Counter()
    for moment in session.exec(select(Meeting.held_at).join(Pair, Pair.id == Meeting.pair_id)
                               .where(Pair.programme_id == programme.id, Meeting.held_at <= now)):
        held[_aware(moment).astimezone(zone).date().replace(day=1)] += 1
    pairs = session.exec(select(func.count()).select_from(Pair).where(
        Pair.programme_id == programme.id, Pair.active)).one()
    first, last = programme.starts.replace(day=1), programme.ends.replace(day=1)
    if held:
        first, last = min(first, min(held)), max(last, max(held))
    per_day = pairs / (7 * programme.cadence_weeks)
    months, month = [], first
    while month <= last:
        following = _next_month(month)
        days = (min(following, programme.ends + timedelta(days=1))
                - max(month, programme.starts)).days
        months.append(MonthCount(month, held.get(month, 0), round(max(days, 0) * per_day, 2)))
        month = following
    return months


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def unreachable(session: Session, programme_id: int, now: datetime) -> list[Unreachable]:
    """People of the programme the bot cannot reach, with why, as a category only.

    Unreachable: the latest failure of a delivery to them (failed for good, or waiting for a
    retry after a platform refused it) came after the last message that did reach them; or
    nothing has ever reached them although something was due more than three days ago.
    Deliveries skipped by choice (snooze, opt-out, weekly cap) do not count.
    """
    members = {}
    for person_id, name, role in session.exec(
            select(Person.id, Person.name, Membership.role)
            .join(Membership, Membership.person_id == Person.id)
            .where(Membership.programme_id == programme_id, Membership.active)
            .order_by(Person.name)):
        if person_id not in members or members[person_id][1] == "manager":
            members[person_id] = (name, role)
    last_sent: dict[int, datetime] = {}
    for person_id, sent_at in session.exec(
            select(Delivery.person_id, func.max(Delivery.sent_at))
            .where(Delivery.programme_id == programme_id, Delivery.status == "sent")
            .group_by(Delivery.person_id)):
        last_sent[person_id] = _aware(sent_at)
    failures: dict[int, tuple[datetime, str]] = {}
    for person_id, status, error, claimed_at, due_at in session.exec(
            select(Delivery.person_id, Delivery.status, Delivery.last_error,
                   Delivery.claimed_at, Delivery.due_at)
            .where(Delivery.programme_id == programme_id,
                   (Delivery.status == "failed")
                   | ((Delivery.status == "pending") & (Delivery.attempts > 0)
                      & (Delivery.last_error != "")))):
        at = _aware(claimed_at or due_at)
        if person_id not in failures or failures[person_id][0] < at:
            failures[person_id] = (at, reason_category(error or status))
    overdue = set(session.exec(select(Delivery.person_id).distinct().where(
        Delivery.programme_id == programme_id, Delivery.due_at <= now - NEVER_REACHED_AFTER)))
    result = []
    for person_id, (name, role) in members.items():
        sent = last_sent.get(person_id)
        failure = failures.get(person_id)
        if failure and (sent is None or failure[0] >= sent):
            result.append(Unreachable(name, role, failure[1]))
        elif sent is None and person_id in overdue:
            result.append(Unreachable(name, role, "never_reached"))
    return result


def reason_category(error: str) -> str:
    code = error.split(":", 1)[0].strip().lower()
    return REASONS.get(code, "other")


def deliveries_by_kind(session: Session, programme_id: int) -> list[KindCount]:
    """Every kind of prompt the programme sent or holds, counted by outcome."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for kind, status, n in session.exec(
            select(Delivery.kind, Delivery.status, func.count())
            .where(Delivery.programme_id == programme_id)
            .group_by(Delivery.kind, Delivery.status)):
        counts[kind]["pending" if status == "claimed" else status] += n
    return [KindCount(kind, c["sent"], c["pending"], c["failed"], c["skipped"])
            for kind, c in sorted(counts.items())]


def _evaluation_rows(session: Session, programme_id: int, questions, now: datetime
                     ) -> list[tuple]:
    """(person id, role, question, rating, text) of the programme's evaluation answers."""
    query = (select(Answer.person_id, Membership.role, Answer.question, Answer.rating, Answer.text)
             .join(Membership, (Membership.person_id == Answer.person_id)
                   & (Membership.pair_id == Answer.pair_id))
             .where(Membership.programme_id == programme_id, Answer.form == "evaluation",
                    Answer.question.in_(list(questions)), Answer.created_at <= now))
    return list(session.exec(query))


def rating_distribution(session: Session, programme_id: int, question: str,
                        min_group: int, now: datetime) -> Distribution:
    by_role: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for person_id, role, _, rating, _ in _evaluation_rows(session, programme_id, [question], now):
        if rating is not None and 1 <= rating <= 5:
            by_role[role].append((person_id, rating))
    groups = {}
    for role in ROLES:
        rows = by_role.get(role, [])
        people = len({p for p, _ in rows})
        counts = None
        if people >= max(3, min_group):
            tally = Counter(r for _, r in rows)
            counts = tuple(tally.get(n, 0) for n in range(1, 6))
        groups[role] = Group(_shown_count(people, min_group), counts)
    return Distribution(question, groups["mentor"], groups["mentee"])


def goal_change(session: Session, programme_id: int, min_group: int,
                now: datetime) -> GoalChange:
    """Average of the mentees' own goal ratings at kick-off ("baseline") and at the end
    ("evaluation"), over goals rated at both moments; only from `min_group` mentees up."""
    query = (select(Answer.person_id, Answer.pair_id, Answer.form, Answer.question, Answer.rating)
             .join(Membership, (Membership.person_id == Answer.person_id)
                   & (Membership.pair_id == Answer.pair_id))
             .where(Membership.programme_id == programme_id, Membership.role == "mentee",
                    Answer.form.in_(["baseline", "evaluation"]),
                    Answer.question.startswith("goal_"), Answer.rating.is_not(None),
                    Answer.created_at <= now))
    ratings: dict[tuple, dict[str, int]] = defaultdict(dict)
    for person_id, pair_id, form, question, rating in session.exec(query):
        ratings[(person_id, pair_id, question)][form] = rating
    paired = [(k[0], r["baseline"], r["evaluation"]) for k, r in ratings.items()
              if "baseline" in r and "evaluation" in r]
    people = len({p for p, _, _ in paired})
    if people < max(3, min_group):
        shown = _shown_count(people, min_group)
        return GoalChange(shown, None if shown is None else len(paired))
    return GoalChange(people, len(paired), sum(b for _, b, _ in paired) / len(paired),
                      sum(a for _, _, a in paired) / len(paired))


def open_answers(session: Session, programme_id: int, question: str,
                 min_group: int, now: datetime) -> OpenAnswers:
    texts, people = [], set()
    for person_id, _, _, _, text in _evaluation_rows(session, programme_id, [question], now):
        if text and text.strip():
            texts.append(text.strip())
            people.add(person_id)
    if len(people) < max(3, min_group):
        return OpenAnswers(question, _shown_count(len(people), min_group), None)
    return OpenAnswers(question, len(people), tuple(sorted(texts, key=lambda t: (t.casefold(), t))))


def evaluation_respondents(session: Session, programme_id: int, now: datetime,
                           min_group: int = 3) -> dict[str, int | None]:
    """How many mentors and mentees answered at least one evaluation question (None: fewer
    than `min_group`)."""
    query = (select(Membership.role, func.count(func.distinct(Answer.person_id)))
             .join(Membership, (Membership.person_id == Answer.person_id)
                   & (Membership.pair_id == Answer.pair_id))
             .where(Membership.programme_id == programme_id, Answer.form == "evaluation",
                    Answer.created_at <= now,
                    (Answer.rating.is_not(None)) | (Answer.text != ""))
             .group_by(Membership.role))
    counted = dict(session.exec(query).all())
    return {role: _shown_count(counted.get(role, 0), min_group) for role in ROLES}


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC datetimes from aggregates; make them aware."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)
