"""The schedule of changes, their collisions and window violations, and window suggestions.

What ``/changes/schedule``, ``/changes/collisions``, ``.../suggest-window``, GraphQL's
``changeSchedule``, ``changeCollisions`` and ``suggestChangeWindow`` and ``cmdb change
schedule|collisions|suggest-window`` all call. Every answer is computed from the changes
the caller reads and trimmed to what it may see: a scoped caller is not shown a service,
a CI or a change outside its view, nor a collision whose subjects include one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from cmdb.app.change_inputs import REQUEST, Words
from cmdb.app.changes import now, visible_change
from cmdb.app.inputs import instant, resolve_visible
from cmdb.app.scope import Visibility, named, readable
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import Change, ChangeState, ChangeType
from cmdb.practice.collisions import Collision
from cmdb.practice.lifecycle import OPEN_STATES
from cmdb.practice.policy import Policy
from cmdb.practice.scheduling import Planner, Suggestion
from cmdb.practice.windows import Violation
from cmdb.store.contract import GraphStore
from impact.report import ImpactReport

MAX_DAYS = 366
MAX_MINUTES = 7 * 24 * 60


class CIRef(BaseModel):
    id: str
    name: str


class ServiceHit(CIRef):
    severity: str


class ScheduledChange(BaseModel):
    id: str
    title: str
    type: ChangeType
    state: ChangeState
    start: datetime | None
    end: datetime | None
    risk: str | None
    approval: str | None
    cis: list[CIRef]
    services: list[ServiceHit]  # those it degrades or takes down


class Schedule(BaseModel):
    start: datetime
    end: datetime
    items: list[ScheduledChange]


class Collisions(BaseModel):
    collisions: list[Collision]
    violations: list[Violation]


def schedule(
    store: GraphStore,
    vis: Visibility,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    days: int = 30,
    service: str | None = None,
    ci: str | None = None,
    words: Words = REQUEST,
) -> Schedule:
    """The changes planned in a period (from ``start``, default now, to ``end``, default
    ``days`` later; rejected ones left out), with the services each degrades or takes
    down; optionally only those concerning one service or CI (references)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}", where=words.days)
    t0 = instant(start, where=words.start) or now()
    t1 = instant(end, where=words.end) or t0 + timedelta(days=days)
    if t1 <= t0:
        raise InvalidInput("the period must end after it starts", where=words.end)
    svc_id = resolve_visible(store, vis, service, where=words.service).id if service else None
    ci_id = resolve_visible(store, vis, ci, where=words.ci).id if ci else None
    changes = [c for c in store.list_changes() if readable(vis, c)]
    by_id = {c.id: c for c in changes}
    planner = Planner(store, t0)
    items: list[ScheduledChange] = []
    for row in planner.schedule(changes, t0, t1, service=svc_id, ci=ci_id):
        ch = by_id[row.id]
        assert ch.planned_start is not None and ch.planned_end is not None
        report = planner.impact(ch.ci_ids, (ch.planned_start, ch.planned_end))
        hits = [s for s in (report.services if report else []) if s.severity != "up"]
        items.append(
            ScheduledChange(
                id=ch.id,
                title=ch.title,
                type=ch.type,
                state=ch.state,
                start=ch.planned_start,
                end=ch.planned_end,
                risk=row.risk,
                approval=row.approval,
                cis=[CIRef(id=c, name=planner.ci(c).name) for c in vis.keep(ch.ci_ids)],
                services=[
                    ServiceHit(id=s.id, name=s.name, severity=s.severity)
                    for s in hits
                    if vis.allows(s.id)
                ],
            )
        )
    return Schedule(start=t0, end=t1, items=items)


def _hidden_names(vis: Visibility, reports: list[ImpactReport | None]) -> set[str]:
    """Names of the CIs and services in ``reports`` the caller may not see."""
    names: set[str] = set()
    for r in reports:
        if r is None:
            continue
        names |= {s.name for s in r.services if not vis.allows(s.id)}
        names |= {c.name for c in r.cis if not vis.allows(c.id)}
    return names


def _window(col: Collision, a: Change, at: datetime) -> tuple[datetime, datetime]:
    if col.start is not None and col.end is not None:
        return col.start, col.end
    if a.planned_start is not None and a.planned_end is not None:
        return a.planned_start, a.planned_end
    return at, at + timedelta(hours=1)


def collisions(
    store: GraphStore, vis: Visibility, only: str | None = None, *, at: datetime | None = None
) -> Collisions:
    """Clashes between open changes whose windows overlap, and every window violation, of
    the changes the caller reads (``only``: one change's, which the shell has read). A
    scoped caller is not shown a collision whose subjects include anything outside its
    view."""
    at = at or now()
    changes = [c for c in store.list_changes() if readable(vis, c)]
    planner = Planner(store, at)
    found = planner.collisions(changes, only=only)
    viol = [
        v
        for c in changes
        if only in (None, c.id) and c.state in OPEN_STATES
        for v in planner.violations(c)
        if vis.allows(v.service_id)
    ]
    if not vis.unrestricted:
        by_id = {c.id: c for c in changes}
        kept: list[Collision] = []
        for col in found:
            a, b = by_id[col.a], by_id[col.b]
            window = _window(col, a, at)
            reports = [
                planner.impact(a.ci_ids, window),
                planner.impact(b.ci_ids, window),
                planner.impact([*a.ci_ids, *b.ci_ids], window),
            ]
            hidden = _hidden_names(vis, reports)
            hidden |= {planner.ci(i).name for i in named(a) + named(b) if not vis.allows(i)}
            if not hidden & set(col.subjects):
                kept.append(col)
        found = kept
    return Collisions(collisions=found, violations=viol)


def suggest_window(
    store: GraphStore,
    vis: Visibility,
    change_id: str,
    policy: Policy,
    *,
    minutes: int,
    start: datetime | None = None,
    days: int | None = None,
    words: Words = REQUEST,
) -> Suggestion:
    """The earliest window of ``minutes`` from ``start`` (default now) within ``days``
    (default: the policy's horizon) that fits every interrupted service's maintenance
    windows, avoids their service hours and every impacted service's blackouts, and
    overlaps no change it would collide with; trimmed to what the caller sees (the
    services it respects and the changes it kept clear of)."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidInput(f"minutes must be between 1 and {MAX_MINUTES}", where=words.minutes)
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}", where=words.days)
    change = visible_change(store, vis, change_id, where=words.change_id)
    t0 = instant(start, where=words.start) or now()
    horizon = timedelta(days=days or policy.suggest_horizon_days)
    planner = Planner(store, t0)
    duration = timedelta(minutes=minutes)
    got = planner.suggest(change, store.list_changes(), duration, t0, horizon)
    if not vis.unrestricted:
        hidden = _hidden_names(vis, [planner.impact(change.ci_ids, (t0, t0 + duration))])
        got = got.model_copy(
            update={
                "services": [s for s in got.services if s.rsplit(" (", 1)[0] not in hidden],
                "avoided": [a for a in got.avoided if readable(vis, store.get_change(a))],
            }
        )
    return got
