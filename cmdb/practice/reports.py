"""Status accounting: the reports people expect of a CMDB (domain.md, "Reports").

* **changes**: by state, type, priority, CI and service; rejected, emergency and failed
  counts; the backlog (open changes) and its age;
* **incidents**: by state, priority, service and CI; SLA breaches (the clocks of
  :mod:`cmdb.practice.clocks`, counted in service hours);
* **CIs**: by class, status, location, owner and environment; the CIs that change most
  (history) and that the most incidents name;
* **problems**: by state, category, CI at fault and service; open known errors; the open
  problems' age, and how many incidents they explain;
* **CMDB health**: see :mod:`cmdb.practice.health`;
* **CAB agenda**: the changes a meeting must decide or look at, each with its risk,
  impacted services, collisions and window violations.

The ``*_report`` functions are pure over records; the ``build_*`` ones read a store: each
scan once (``list_cis`` page by page, ``iter_history``, ``list_changes``), and single
``get_ci`` calls only for the few CIs a report names (its top rows, the SLAs of services).

``scope``: ``None`` counts everything; a set of CI ids (a service-scoped caller's view)
counts the CIs inside it, and the changes and incidents it may read (:func:`reads`, the
rule the ``/changes`` and ``/incidents`` routers apply too: naming at least one CI or
service inside), showing only the ids inside (:func:`seen`).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.history import EntityKind, HistoryEntry, HistoryOp
from cmdb.domain.model import CI
from cmdb.domain.records import (
    Change,
    ChangeOutcome,
    ChangeState,
    ChangeType,
    Incident,
    IncidentState,
    Problem,
    Record,
)
from cmdb.domain.service import SLA
from cmdb.practice.changes import window_of
from cmdb.practice.clocks import service_clock
from cmdb.practice.collisions import Collision
from cmdb.practice.health import HealthBuilder, HealthReport, health_table
from cmdb.practice.lifecycle import OPEN_STATES
from cmdb.practice.policy import Policy
from cmdb.practice.problems import OPEN_STATES as PROBLEM_OPEN
from cmdb.practice.risk import Assessment, evaluate, facts, failure_rate
from cmdb.practice.scheduling import Planner
from cmdb.practice.sites import sites_of
from cmdb.practice.windows import Violation, utc
from cmdb.store.contract import CIFilter, GraphStore

Scope = Collection[str] | None
NameOf = Callable[[str], str]
NONE_KEY = "(none)"
DEFAULT_TOP = 10
PAGE = 1000
_FAILED = frozenset({ChangeOutcome.FAILED, ChangeOutcome.BACKED_OUT})
# Backlog age buckets: (label, upper bound in days; None: no bound).
AGE_BUCKETS: tuple[tuple[str, float | None], ...] = (
    ("under 7 days", 7.0),
    ("7-30 days", 30.0),
    ("30-90 days", 90.0),
    ("over 90 days", None),
)


class Period(BaseModel):
    """Which records a report counts, by when they began (None: unbounded)."""

    start: datetime | None = None
    end: datetime | None = None

    def check(self) -> Period:
        if self.start and self.end and utc(self.end) <= utc(self.start):
            raise InvalidInput("the period must end after it starts", where="to")
        return self

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def holds(self, at: datetime | None) -> bool:
        if at is None:
            return not self.bounded
        if self.start is not None and utc(at) < utc(self.start):
            return False
        return self.end is None or utc(at) < utc(self.end)


class Count(BaseModel):
    key: str
    name: str
    count: int


Rec = TypeVar("Rec", Change, Incident, Problem)


def named(rec: Record) -> list[str]:
    """Every CI and service a change, incident or problem names."""
    return [*rec.ci_ids, *rec.service_ids]


def reads(scope: Scope, rec: Record) -> bool:
    """The one rule for who reads a change, incident or problem record (reports here, and the
    ``/changes`` and ``/incidents`` routers through ``cmdb.app.scope.readable``): without
    a scope every record; with one, the records naming at least one CI or service inside
    it, since they concern what the reader looks after."""
    return scope is None or any(i in scope for i in named(rec))


def seen(scope: Scope, rec: Rec) -> Rec:
    """``rec`` as a scoped reader is shown it: only the CI and service ids inside the scope
    (an id outside must not even be hinted at)."""
    if scope is None:
        return rec
    update: dict[str, Any] = {
        "ci_ids": [i for i in rec.ci_ids if i in scope],
        "service_ids": [i for i in rec.service_ids if i in scope],
    }
    if isinstance(rec, Change):
        update["ci_versions"] = {k: v for k, v in rec.ci_versions.items() if k in scope}
        if rec.risk is not None:
            # The explanation names services and customers the change reaches beyond the
            # view; the class, approval and rule are what a scoped reader needs.
            update["risk"] = rec.risk.model_copy(
                update={"why": "", "service_ids": [i for i in rec.risk.service_ids if i in scope]}
            )
        # A step's note may carry the assessment's explanation (or anything a person wrote).
        update["log"] = [e.model_copy(update={"note": ""}) for e in rec.log]
    return rec.model_copy(update=update)


def assessment_seen(scope: Scope, a: Assessment) -> Assessment:
    """A live risk assessment as a scoped reader is shown it: the class, approval, rule and
    score, without the facts and reasons that name what lies outside its view (services,
    customers, sites, other changes)."""
    if scope is None:
        return a
    f = a.facts
    facts = f.model_copy(
        update={
            "customer_facing_down": [],
            "customers": [],
            "sla_breach": [],
            "sites": [],
            "service_ids": [i for i in f.service_ids if i in scope],
            "history": f.history.model_copy(update={"changes": []}),
        }
    )
    checks = [c.model_copy(update={"reasons": []}) for c in a.checks]
    return a.model_copy(update={"why": "", "facts": facts, "checks": checks})


def wholly_inside(scope: Scope, rec: Record) -> bool:
    """Every CI and service ``rec`` names is inside ``scope``."""
    return scope is None or all(i in scope for i in named(rec))


def tally(
    counter: Mapping[str, int], name_of: NameOf | None = None, top: int | None = None
) -> list[Count]:
    """Largest first, then by key; ``name_of`` only for the rows kept."""
    rows = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if top is not None:
        rows = rows[:top]
    return [Count(key=k, name=name_of(k) if name_of else k, count=n) for k, n in rows]


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400.0, 2)


# -- changes -----------------------------------------------------------------------------


class BacklogItem(BaseModel):
    id: str
    title: str
    state: str
    type: str
    raised_at: datetime | None
    age_days: float | None


class Backlog(BaseModel):
    """Open changes (not yet reviewed, closed or rejected), at the report's instant."""

    open: int
    by_state: list[Count]
    mean_age_days: float | None
    median_age_days: float | None
    oldest_age_days: float | None
    by_age: list[Count]
    oldest: list[BacklogItem]


class ChangesReport(BaseModel):
    generated_at: datetime
    period: Period
    total: int
    by_state: list[Count]
    by_type: list[Count]
    by_priority: list[Count]
    by_ci: list[Count]
    by_service: list[Count]
    rejected: int  # ever rejected
    emergency: int
    failed: int  # reviewed as failed or backed out
    reviewed: int  # with an outcome
    failed_rate: float | None
    review_required: int  # emergency changes implemented before they were documented
    backlog: Backlog


def services_of(change: Change) -> set[str]:
    """The services a change concerns: those its RFC names, and those its recorded
    assessment found it takes down or degrades."""
    found = set(change.service_ids)
    if change.risk is not None:
        found.update(change.risk.service_ids)
    return found


def raised_at(change: Change) -> datetime | None:
    return change.log[0].at if change.log else None


def changes_report(
    changes: Sequence[Change],
    now: datetime,
    *,
    period: Period | None = None,
    name_of: NameOf | None = None,
    top: int = DEFAULT_TOP,
) -> ChangesReport:
    """``changes`` raised in ``period``; the backlog is every open one of them at ``now``."""
    period = period or Period()
    picked = [c for c in changes if period.holds(raised_at(c))]
    reviewed = [c for c in picked if c.outcome is not None]
    failed = sum(c.outcome in _FAILED for c in reviewed)
    return ChangesReport(
        generated_at=now,
        period=period,
        total=len(picked),
        by_state=tally(Counter(c.state.value for c in picked)),
        by_type=tally(Counter(c.type.value for c in picked)),
        by_priority=tally(Counter(c.priority.value for c in picked)),
        by_ci=tally(Counter(i for c in picked for i in set(c.ci_ids)), name_of, top),
        by_service=tally(Counter(i for c in picked for i in services_of(c)), name_of, top),
        rejected=sum(c.entered(ChangeState.REJECTED) is not None for c in picked),
        emergency=sum(c.type is ChangeType.EMERGENCY for c in picked),
        failed=failed,
        reviewed=len(reviewed),
        failed_rate=round(failed / len(reviewed), 4) if reviewed else None,
        review_required=sum(c.review_required for c in picked),
        backlog=_backlog([c for c in picked if c.state in OPEN_STATES], now, top),
    )


def _backlog(open_: Sequence[Change], now: datetime, top: int) -> Backlog:
    aged = [(c, _days(utc(now) - utc(r)) if (r := raised_at(c)) else None) for c in open_]
    ages = [a for _, a in aged if a is not None]
    buckets: Counter[str] = Counter({label: 0 for label, _ in AGE_BUCKETS})
    for age in ages:
        label = next(lbl for lbl, bound in AGE_BUCKETS if bound is None or age < bound)
        buckets[label] += 1
    oldest = sorted(aged, key=lambda ca: (-(ca[1] if ca[1] is not None else -1.0), ca[0].id))
    return Backlog(
        open=len(open_),
        by_state=tally(Counter(c.state.value for c in open_)),
        mean_age_days=round(statistics.fmean(ages), 2) if ages else None,
        median_age_days=round(statistics.median(ages), 2) if ages else None,
        oldest_age_days=max(ages, default=None),
        by_age=[Count(key=lbl, name=lbl, count=buckets[lbl]) for lbl, _ in AGE_BUCKETS],
        oldest=[
            BacklogItem(
                id=c.id,
                title=c.title,
                state=c.state.value,
                type=c.type.value,
                raised_at=raised_at(c),
                age_days=age,
            )
            for c, age in oldest[:top]
        ],
    )


# -- incidents ---------------------------------------------------------------------------


class SlaBreach(BaseModel):
    incident_id: str
    title: str
    priority: str
    service_id: str
    service: str
    sla: str
    target: Literal["response", "resolution"]
    target_minutes: int | None
    elapsed_minutes: float
    due_at: datetime | None
    running: bool  # the clock still runs (not responded/resolved yet)


class IncidentsReport(BaseModel):
    generated_at: datetime
    period: Period
    total: int
    open: int
    major: int
    outages: int
    by_state: list[Count]
    by_priority: list[Count]
    by_service: list[Count]
    by_ci: list[Count]
    clocks: int  # service clocks checked (affected services with an SLA)
    breached_incidents: int
    breaches: list[SlaBreach]


def incidents_report(
    incidents: Sequence[Incident],
    slas: Mapping[str, tuple[str, SLA]],
    now: datetime,
    *,
    period: Period | None = None,
    name_of: NameOf | None = None,
    top: int = DEFAULT_TOP,
) -> IncidentsReport:
    """``incidents`` opened in ``period``; ``slas``: service id -> (name, SLA) for every
    service with one. Breaches are judged at ``now`` (a running clock past its target is
    breached already)."""
    period = period or Period()
    picked = [i for i in incidents if period.holds(i.opened_at)]
    breaches: list[SlaBreach] = []
    clocks = 0
    for inc in picked:
        for sid in inc.service_ids:
            if sid not in slas:
                continue
            name, sla = slas[sid]
            clock = service_clock(sid, name, sla, inc, now)
            clocks += 1
            for tc in (clock.response, clock.resolution):
                if tc.breached:
                    breaches.append(
                        SlaBreach(
                            incident_id=inc.id,
                            title=inc.title,
                            priority=inc.priority.value,
                            service_id=sid,
                            service=name,
                            sla=sla.name,
                            target=tc.target,
                            target_minutes=tc.target_minutes,
                            elapsed_minutes=tc.elapsed_minutes,
                            due_at=tc.due_at,
                            running=tc.running,
                        )
                    )
    breaches.sort(key=lambda b: (b.incident_id, b.service, b.target))
    return IncidentsReport(
        generated_at=now,
        period=period,
        total=len(picked),
        open=sum(i.state is IncidentState.OPEN for i in picked),
        major=sum(i.major for i in picked),
        outages=sum(i.outage for i in picked),
        by_state=tally(Counter(i.state.value for i in picked)),
        by_priority=tally(Counter(i.priority.value for i in picked)),
        by_service=tally(Counter(s for i in picked for s in set(i.service_ids)), name_of, top),
        by_ci=tally(Counter(c for i in picked for c in set(i.ci_ids)), name_of, top),
        clocks=clocks,
        breached_incidents=len({b.incident_id for b in breaches}),
        breaches=breaches,
    )


# -- problems ----------------------------------------------------------------------------


class OpenProblem(BaseModel):
    id: str
    title: str
    state: str
    known_error: bool
    incidents: int
    age_days: float


class ProblemsReport(BaseModel):
    generated_at: datetime
    period: Period
    total: int
    open: int
    known_errors: int = 0  # open, with a root cause or a workaround recorded
    incidents_explained: int = 0  # distinct incidents linked to the problems counted
    mean_open_age_days: float | None = None
    by_state: list[Count]
    by_category: list[Count]
    by_ci: list[Count]  # the CIs at fault most often
    by_service: list[Count]
    oldest_open: list[OpenProblem]


def problems_report(
    problems: Sequence[Problem],
    now: datetime,
    *,
    period: Period | None = None,
    name_of: NameOf | None = None,
    top: int = DEFAULT_TOP,
) -> ProblemsReport:
    """``problems`` logged in ``period``, their states and ages at ``now``."""
    period = period or Period()
    picked = [p for p in problems if period.holds(p.opened_at)]
    still = [p for p in picked if p.state in PROBLEM_OPEN]
    ages = [_days(utc(now) - utc(p.opened_at)) for p in still]
    oldest = sorted(still, key=lambda p: (utc(p.opened_at), p.id))[:top]
    return ProblemsReport(
        generated_at=now,
        period=period,
        total=len(picked),
        open=len(still),
        known_errors=sum(p.known for p in still),
        incidents_explained=len({i for p in picked for i in p.incident_ids}),
        mean_open_age_days=round(statistics.fmean(ages), 2) if ages else None,
        by_state=tally(Counter(p.state.value for p in picked)),
        by_category=tally(Counter(p.category or NONE_KEY for p in picked)),
        by_ci=tally(Counter(c for p in picked for c in set(p.ci_ids)), name_of, top),
        by_service=tally(Counter(s for p in picked for s in set(p.service_ids)), name_of, top),
        oldest_open=[
            OpenProblem(
                id=p.id,
                title=p.title,
                state=p.state.value,
                known_error=p.known,
                incidents=len(p.incident_ids),
                age_days=_days(utc(now) - utc(p.opened_at)),
            )
            for p in oldest
        ],
    )


# -- CIs ---------------------------------------------------------------------------------


class ChangedCI(BaseModel):
    key: str
    name: str
    writes: int  # writes that changed it after its creation
    fields: int  # field changes in those writes


class CIsReport(BaseModel):
    generated_at: datetime
    period: Period
    total: int
    by_class: list[Count]
    by_status: list[Count]
    by_location: list[Count]
    by_owner: list[Count]
    by_environment: list[Count]
    most_changed: list[ChangedCI]
    most_incidents: list[Count]


class CITally:
    """CIs counted one page at a time (nothing kept per CI)."""

    def __init__(self) -> None:
        self.total = 0
        self.by: dict[str, Counter[str]] = {
            k: Counter() for k in ("class", "status", "location", "owner", "environment")
        }

    def add(self, ci: CI) -> None:
        self.total += 1
        self.by["class"][ci.ci_class] += 1
        self.by["status"][ci.status.value] += 1
        self.by["location"][ci.location or NONE_KEY] += 1
        self.by["owner"][ci.owner or NONE_KEY] += 1
        self.by["environment"][ci.environment or NONE_KEY] += 1


class ChangeCounter:
    """Writes and field changes per CI from history rows, in sequence order. A write is
    the rows one change set made to one CI (same instant, actor and source)."""

    def __init__(self, scope: Scope = None, period: Period | None = None) -> None:
        self.scope = scope
        self.period = period or Period()
        self.writes: Counter[str] = Counter()
        self.fields: Counter[str] = Counter()
        self._last: dict[str, tuple[tuple[object, ...], set[str]]] = {}

    def add(self, row: HistoryEntry) -> None:
        if row.entity_kind is not EntityKind.CI or row.op is HistoryOp.CREATE:
            return
        if self.scope is not None and row.entity_id not in self.scope:
            return
        if not self.period.holds(row.at):
            return
        key = (row.at, row.actor, row.source, row.request_id)
        self.fields[row.entity_id] += 1
        last = self._last.get(row.entity_id)
        # A change set changes a field once: the same field again is the next write.
        if last is None or last[0] != key or row.field in last[1]:
            self._last[row.entity_id] = (key, {row.field})
            self.writes[row.entity_id] += 1
        else:
            last[1].add(row.field)

    def top(self, name_of: NameOf, n: int) -> list[ChangedCI]:
        rows = sorted(self.writes, key=lambda i: (-self.writes[i], -self.fields[i], i))[:n]
        return [
            ChangedCI(key=i, name=name_of(i), writes=self.writes[i], fields=self.fields[i])
            for i in rows
        ]


def cis_report(
    cis: Iterable[CI],
    history: Iterable[HistoryEntry],
    incidents: Iterable[Incident],
    now: datetime,
    *,
    scope: Scope = None,
    period: Period | None = None,
    name_of: NameOf | None = None,
    top: int = DEFAULT_TOP,
) -> CIsReport:
    """CIs now (``period`` limits only the history and incidents counted)."""
    period = period or Period()
    counts = CITally()
    for ci in cis:
        if scope is None or ci.id in scope:
            counts.add(ci)
    changed = ChangeCounter(scope, period)
    for row in history:
        changed.add(row)
    blamed: Counter[str] = Counter()
    for inc in incidents:
        if period.holds(inc.opened_at):
            blamed.update(c for c in set(inc.ci_ids) if scope is None or c in scope)
    names = name_of or (lambda i: i)
    return CIsReport(
        generated_at=now,
        period=period,
        total=counts.total,
        by_class=tally(counts.by["class"]),
        by_status=tally(counts.by["status"]),
        by_location=tally(counts.by["location"]),
        by_owner=tally(counts.by["owner"]),
        by_environment=tally(counts.by["environment"]),
        most_changed=changed.top(names, top),
        most_incidents=tally(blamed, names, top),
    )


# -- the CAB agenda ----------------------------------------------------------------------

AgendaSection = Literal["decide", "scheduled", "review"]


class ServiceHit(BaseModel):
    id: str
    name: str
    kind: str
    severity: str


class AgendaItem(BaseModel):
    section: AgendaSection
    id: str
    title: str
    type: str
    state: str
    priority: str
    requester: str
    start: datetime | None
    end: datetime | None
    risk_class: str
    approval: str
    rule: str
    score: float
    why: str
    recorded_risk: str | None  # the class recorded at its last assessment
    services: list[ServiceHit]
    collisions: list[Collision]
    violations: list[Violation]


class CabAgenda(BaseModel):
    generated_at: datetime
    start: datetime
    end: datetime
    decide: list[AgendaItem]  # assessed: awaiting authorisation
    scheduled: list[AgendaItem]  # authorised or scheduled, with a window in the period
    review: list[AgendaItem]  # emergency changes implemented before documentation


def agenda_sections(
    changes: Sequence[Change], start: datetime, end: datetime
) -> list[tuple[AgendaSection, Change]]:
    """Which changes a meeting covering ``start``-``end`` takes, in agenda order."""
    picked: list[tuple[AgendaSection, Change]] = []
    for ch in changes:
        if ch.state is ChangeState.ASSESSED:
            picked.append(("decide", ch))
        elif ch.state in (ChangeState.AUTHORISED, ChangeState.SCHEDULED):
            if ch.planned_start is None or ch.planned_end is None:
                continue
            if utc(ch.planned_start) < utc(end) and utc(ch.planned_end) > utc(start):
                picked.append(("scheduled", ch))
        elif ch.review_required and ch.state is ChangeState.IMPLEMENTED:
            picked.append(("review", ch))
    order = {"decide": 0, "scheduled": 1, "review": 2}
    far = utc(end) + timedelta(days=36500)
    picked.sort(key=lambda sc: (order[sc[0]], utc(sc[1].planned_start or far), sc[1].id))
    return picked


def cab_agenda(
    store: GraphStore,
    changes: Sequence[Change],
    policy: Policy,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    scope: Scope = None,
) -> CabAgenda:
    """The agenda over ``changes`` (already the ones the caller reads, whole: risk is
    judged on all a change does): risk from the impact engine and the failed-change
    history, collisions with every other open change whose window overlaps, and window
    violations. One :class:`Planner` caches the impact answers, so each change's impact is
    computed once. With a scope, collisions are listed only between changes wholly inside
    it: a collision's subjects name CIs and services on both sides."""
    if utc(end) <= utc(start):
        raise InvalidInput("the meeting period must end after it starts", where="to")
    planner = Planner(store, now)
    live = [c for c in changes if c.state in OPEN_STATES]
    inside = {c.id for c in changes if wholly_inside(scope, c)}
    out: dict[AgendaSection, list[AgendaItem]] = {"decide": [], "scheduled": [], "review": []}
    for section, ch in agenda_sections(changes, start, end):
        report = planner.impact(ch.ci_ids, window_of(ch, now))
        sites = sites_of(store, [planner.ci(c) for c in ch.ci_ids])
        history = failure_rate(changes, ch.ci_ids, exclude=ch.id)
        assessed = evaluate(ch.id, facts(ch, report, history, sites), policy)
        services = [
            ServiceHit(id=s.id, name=s.name, kind=s.kind, severity=s.severity)
            for s in (report.services if report else [])
            if s.severity != "up" and (scope is None or s.id in scope)
        ]
        others = live if ch in live else [ch, *live]
        out[section].append(
            AgendaItem(
                section=section,
                id=ch.id,
                title=ch.title,
                type=ch.type.value,
                state=ch.state.value,
                priority=ch.priority.value,
                requester=ch.requester,
                start=ch.planned_start,
                end=ch.planned_end,
                risk_class=assessed.risk_class.value,
                approval=assessed.approval.value,
                rule=assessed.rule,
                score=assessed.facts.score,
                # The explanation names services and customers beyond a scoped view.
                why=assessed.why if scope is None else "",
                recorded_risk=ch.risk.risk_class.value if ch.risk else None,
                services=services,
                collisions=[
                    col
                    for col in planner.collisions(others, only=ch.id)
                    if col.a in inside and col.b in inside
                ],
                violations=[
                    v for v in planner.violations(ch) if scope is None or v.service_id in scope
                ],
            )
        )
    return CabAgenda(
        generated_at=now,
        start=start,
        end=end,
        decide=out["decide"],
        scheduled=out["scheduled"],
        review=out["review"],
    )


# -- reading a store ---------------------------------------------------------------------


def every_ci(store: GraphStore, flt: CIFilter | None = None) -> Iterable[CI]:
    """Every CI, a page at a time through the cursor."""
    cursor: str | None = None
    while True:
        page = store.list_cis(flt, limit=PAGE, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def names(store: GraphStore) -> NameOf:
    """A CI's name by id, read once per id (a missing one shows its id)."""
    cache: dict[str, str] = {}

    def name_of(ci_id: str) -> str:
        if ci_id not in cache:
            try:
                cache[ci_id] = store.get_ci(ci_id).name
            except NotFound:
                cache[ci_id] = ci_id
        return cache[ci_id]

    return name_of


def readable_changes(store: GraphStore, scope: Scope) -> list[Change]:
    """The changes a reader with ``scope`` reads, whole."""
    return [c for c in store.list_changes() if reads(scope, c)]


def scoped_changes(store: GraphStore, scope: Scope) -> list[Change]:
    """The changes a reader with ``scope`` reads, as it is shown them."""
    return [seen(scope, c) for c in readable_changes(store, scope)]


def scoped_incidents(store: GraphStore, scope: Scope) -> list[Incident]:
    """The incidents a reader with ``scope`` reads, as it is shown them."""
    return [seen(scope, i) for i in store.list_incidents() if reads(scope, i)]


def build_changes_report(
    store: GraphStore,
    now: datetime,
    *,
    period: Period | None = None,
    scope: Scope = None,
    top: int = DEFAULT_TOP,
) -> ChangesReport:
    return changes_report(
        scoped_changes(store, scope), now, period=period, name_of=names(store), top=top
    )


def build_incidents_report(
    store: GraphStore,
    now: datetime,
    *,
    period: Period | None = None,
    scope: Scope = None,
    top: int = DEFAULT_TOP,
) -> IncidentsReport:
    incidents = scoped_incidents(store, scope)
    slas: dict[str, tuple[str, SLA]] = {}
    for svc in every_ci(store, CIFilter(ci_class="Service")):
        if svc.service is not None and svc.service.sla is not None:
            slas[svc.id] = (svc.name, svc.service.sla)
    return incidents_report(incidents, slas, now, period=period, name_of=names(store), top=top)


def build_problems_report(
    store: GraphStore,
    now: datetime,
    *,
    period: Period | None = None,
    scope: Scope = None,
    top: int = DEFAULT_TOP,
) -> ProblemsReport:
    problems = [seen(scope, p) for p in store.list_problems() if reads(scope, p)]
    return problems_report(problems, now, period=period, name_of=names(store), top=top)


def build_cis_report(
    store: GraphStore,
    now: datetime,
    *,
    period: Period | None = None,
    scope: Scope = None,
    top: int = DEFAULT_TOP,
) -> CIsReport:
    return cis_report(
        every_ci(store),
        store.iter_history(),
        scoped_incidents(store, scope),
        now,
        scope=scope,
        period=period,
        name_of=names(store),
        top=top,
    )


def connected_ids(store: GraphStore) -> set[str]:
    """Every CI at either end of an active relationship: one scan, a page at a time."""
    out: set[str] = set()
    cursor: str | None = None
    while True:
        page = store.list_relationships(limit=PAGE, cursor=cursor)
        for rel in page.items:
            out.add(rel.source_id)
            out.add(rel.target_id)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def build_health_report(
    store: GraphStore, now: datetime, *, scope: Scope = None, limit: int = 1000
) -> HealthReport:
    builder = HealthBuilder(connected_ids(store), limit=limit)
    for ci in every_ci(store):
        if scope is None or ci.id in scope:
            builder.add(ci)
    return builder.finish(now)


def build_cab_agenda(
    store: GraphStore,
    policy: Policy,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    scope: Scope = None,
) -> CabAgenda:
    changes = readable_changes(store, scope)
    return cab_agenda(store, changes, policy, start, end, now, scope=scope)


# -- tables (CSV, and what the CLI prints) -----------------------------------------------

Report = ChangesReport | IncidentsReport | ProblemsReport | CIsReport | HealthReport | CabAgenda
Table = tuple[list[str], list[list[str]]]
COUNT_HEADER = ["section", "key", "name", "value", "detail"]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _counts(section: str, rows: Iterable[Count]) -> list[list[str]]:
    return [[section, r.key, r.name, str(r.count), ""] for r in rows]


def _scalars(pairs: Iterable[tuple[str, object]]) -> list[list[str]]:
    return [[name, "", "", _cell(value), ""] for name, value in pairs]


def changes_table(r: ChangesReport) -> Table:
    rows = _scalars(
        [
            ("total", r.total),
            ("rejected", r.rejected),
            ("emergency", r.emergency),
            ("failed", r.failed),
            ("reviewed", r.reviewed),
            ("failed_rate", r.failed_rate),
            ("review_required", r.review_required),
            ("backlog_open", r.backlog.open),
            ("backlog_mean_age_days", r.backlog.mean_age_days),
            ("backlog_median_age_days", r.backlog.median_age_days),
            ("backlog_oldest_age_days", r.backlog.oldest_age_days),
        ]
    )
    for section in ("by_state", "by_type", "by_priority", "by_ci", "by_service"):
        rows += _counts(section, getattr(r, section))
    rows += _counts("backlog_by_state", r.backlog.by_state)
    rows += _counts("backlog_by_age", r.backlog.by_age)
    rows += [
        ["backlog_oldest", b.id, b.title, _cell(b.age_days), f"{b.state}, {b.type}"]
        for b in r.backlog.oldest
    ]
    return COUNT_HEADER, rows


def incidents_table(r: IncidentsReport) -> Table:
    rows = _scalars(
        [
            ("total", r.total),
            ("open", r.open),
            ("major", r.major),
            ("outages", r.outages),
            ("clocks", r.clocks),
            ("breached_incidents", r.breached_incidents),
        ]
    )
    for section in ("by_state", "by_priority", "by_service", "by_ci"):
        rows += _counts(section, getattr(r, section))
    rows += [
        [
            "sla_breach",
            b.incident_id,
            f"{b.service}: {b.target}",
            _cell(b.elapsed_minutes),
            f"{b.priority} target {b.target_minutes} min, due {_cell(b.due_at)}"
            + (", running" if b.running else ""),
        ]
        for b in r.breaches
    ]
    return COUNT_HEADER, rows


def problems_table(r: ProblemsReport) -> Table:
    rows = _scalars(
        [
            ("total", r.total),
            ("open", r.open),
            ("known_errors", r.known_errors),
            ("incidents_explained", r.incidents_explained),
            ("mean_open_age_days", r.mean_open_age_days),
        ]
    )
    for section in ("by_state", "by_category", "by_ci", "by_service"):
        rows += _counts(section, getattr(r, section))
    rows += [
        [
            "oldest_open",
            o.id,
            o.title,
            _cell(o.age_days),
            f"{o.state}, {o.incidents} incidents",
        ]
        for o in r.oldest_open
    ]
    return COUNT_HEADER, rows


def cis_table(r: CIsReport) -> Table:
    rows = _scalars([("total", r.total)])
    for section in ("by_class", "by_status", "by_location", "by_owner", "by_environment"):
        rows += _counts(section, getattr(r, section))
    rows += [
        ["most_changed", c.key, c.name, str(c.writes), f"{c.fields} field changes"]
        for c in r.most_changed
    ]
    rows += _counts("most_incidents", r.most_incidents)
    return COUNT_HEADER, rows


AGENDA_HEADER = [
    "section",
    "id",
    "title",
    "type",
    "state",
    "priority",
    "start",
    "end",
    "risk",
    "approval",
    "score",
    "services",
    "collisions",
    "violations",
]


def agenda_table(r: CabAgenda) -> Table:
    rows: list[list[str]] = []
    for item in [*r.decide, *r.scheduled, *r.review]:
        rows.append(
            [
                item.section,
                item.id,
                item.title,
                item.type,
                item.state,
                item.priority,
                _cell(item.start),
                _cell(item.end),
                item.risk_class,
                item.approval,
                _cell(item.score),
                "; ".join(f"{s.name} ({s.severity})" for s in item.services),
                "; ".join(
                    f"{c.kind} with {c.b if c.a == item.id else c.a}" for c in item.collisions
                ),
                "; ".join(f"{v.kind}: {v.service}" for v in item.violations),
            ]
        )
    return AGENDA_HEADER, rows


def table(report: Report) -> Table:
    if isinstance(report, ChangesReport):
        return changes_table(report)
    if isinstance(report, IncidentsReport):
        return incidents_table(report)
    if isinstance(report, ProblemsReport):
        return problems_table(report)
    if isinstance(report, CIsReport):
        return cis_table(report)
    if isinstance(report, HealthReport):
        return health_table(report)
    return agenda_table(report)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _safe(cell: str) -> str:
    """A text cell a spreadsheet would run as a formula is quoted (numbers stay numbers)."""
    if cell.startswith(_FORMULA):
        try:
            float(cell)
        except ValueError:
            return "'" + cell
    return cell


def to_csv(report: Report) -> str:
    header, rows = table(report)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_safe(c) for c in row] for row in rows)
    return buf.getvalue()
