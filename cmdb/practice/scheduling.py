"""The schedule of changes, their collisions, window violations and window suggestions,
read from a store and the impact engine (:mod:`cmdb.practice.windows` and
:mod:`cmdb.practice.collisions` are the pure parts).

One :class:`Planner` per question caches what it reads: each change's impact (and each
pair's joint impact) is computed once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel

from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import CI
from cmdb.domain.records import Change, ChangeState
from cmdb.practice.collisions import Collision, joint, structural, windows_overlap
from cmdb.practice.lifecycle import OPEN_STATES
from cmdb.practice.windows import (
    ServiceWindows,
    Violation,
    earliest_fit,
    free_time,
    overlap,
    utc,
    violations,
)
from cmdb.store.contract import Direction, GraphStore
from impact.queries import change_impact
from impact.report import ImpactReport
from impact.sla import Interval

# Walking "down" from a CI: to what it runs on, is hosted on, contains, or (a cluster) is
# made of. "Up" is the reverse. Related CIs are those above or below, never siblings.
_DOWN = {("RUNS_ON", Direction.OUT), ("HOSTED_ON", Direction.OUT), ("CONTAINS", Direction.OUT)}
_DOWN |= {("MEMBER_OF", Direction.IN)}
_UP = {(t, Direction.IN if d is Direction.OUT else Direction.OUT) for t, d in _DOWN}
_TYPES = sorted({t for t, _ in _DOWN})
RELATED_DEPTH = 4
RELATED_CAP = 500


class ScheduleRow(BaseModel):
    id: str
    title: str
    type: str
    state: str
    start: datetime | None
    end: datetime | None
    risk: str | None
    approval: str | None
    cis: list[str]
    services: list[str]  # "name (severity)" of the services it degrades or takes down


class Suggestion(BaseModel):
    change_id: str
    start: datetime | None
    end: datetime | None
    duration_minutes: float
    searched_from: datetime
    searched_to: datetime
    services: list[str]  # "name (severity)": whose calendars were respected
    avoided: list[str]  # changes it would collide with, whose windows were kept clear


class Planner:
    def __init__(self, store: GraphStore, now: datetime) -> None:
        self.store = store
        self.now = now
        self._cis: dict[str, CI] = {}
        self._impacts: dict[tuple[tuple[str, ...], datetime, datetime], ImpactReport] = {}
        self._related: dict[str, set[str]] = {}

    # -- reads, cached -----------------------------------------------------------------
    def ci(self, ci_id: str) -> CI:
        if ci_id not in self._cis:
            self._cis[ci_id] = self.store.get_ci(ci_id)
        return self._cis[ci_id]

    def impact(self, ci_ids: Iterable[str], window: Interval) -> ImpactReport | None:
        ids = tuple(sorted(set(ci_ids)))
        if not ids:
            return None
        key = (ids, utc(window[0]), utc(window[1]))
        if key not in self._impacts:
            cis = [self.ci(c) for c in ids]
            self._impacts[key] = change_impact(self.store, cis, *window, now=self.now)
        return self._impacts[key]

    def _walk(self, start: str, steps: set[tuple[str, Direction]]) -> set[str]:
        seen = {start}
        queue = deque([(start, 0)])
        while queue and len(seen) < RELATED_CAP:
            cur, depth = queue.popleft()
            if depth >= RELATED_DEPTH:
                continue
            for n in self.store.neighbours(cur, direction=Direction.BOTH, types=_TYPES):
                if (n.relationship.type, n.direction) in steps and n.ci.id not in seen:
                    seen.add(n.ci.id)
                    queue.append((n.ci.id, depth + 1))
        seen.discard(start)
        return seen

    def related(self, ci_id: str) -> set[str]:
        """CIs above (containing, running on it) and below (what it runs on, contains)."""
        if ci_id not in self._related:
            self._related[ci_id] = self._walk(ci_id, _DOWN) | self._walk(ci_id, _UP)
        return self._related[ci_id]

    def service_windows(self, report: ImpactReport | None) -> list[ServiceWindows]:
        out: list[ServiceWindows] = []
        for s in report.services if report else []:
            details = self.ci(s.id).service
            if details is None:
                continue
            out.append(
                ServiceWindows(
                    id=s.id,
                    name=s.name,
                    severity=s.severity,
                    service_hours=details.sla.service_hours if details.sla else None,
                    maintenance=details.maintenance_windows,
                    blackouts=tuple(details.blackouts),
                )
            )
        return out

    # -- answers -----------------------------------------------------------------------
    def conflicts(self, a: Change, b: Change, when: Interval | None) -> list[Collision]:
        """Every clash between ``a`` and ``b`` if they ran at the same time (``when``: the
        overlap, used for the joint impact; None: a's window or now)."""
        names = {c: self.ci(c).name for c in {*a.ci_ids, *b.ci_ids}}
        related = {c: self.related(c) for c in {*a.ci_ids, *b.ci_ids}}
        found = structural(a, b, related, names, when)
        window = when or _window(a, self.now)
        ra, rb = self.impact(a.ci_ids, window), self.impact(b.ci_ids, window)
        both = self.impact([*a.ci_ids, *b.ci_ids], window)
        if ra is None or rb is None or both is None:
            return found
        groups = {
            c.id for c in both.cis if c.severity == "down" and self.ci(c.id).redundancy is not None
        }
        return found + joint(a, b, ra, rb, both, groups, when)

    def collisions(self, changes: Sequence[Change], only: str | None = None) -> list[Collision]:
        live = [c for c in changes if c.state in OPEN_STATES]
        out: list[Collision] = []
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                if only is not None and only not in (a.id, b.id):
                    continue
                when = windows_overlap(a, b)
                if when is not None:
                    out += self.conflicts(a, b, when)
        return out

    def violations(self, change: Change) -> list[Violation]:
        if change.planned_start is None or change.planned_end is None:
            return []
        window = (change.planned_start, change.planned_end)
        return violations(
            change.id, window, self.service_windows(self.impact(change.ci_ids, window))
        )

    def schedule(
        self,
        changes: Sequence[Change],
        start: datetime,
        end: datetime,
        *,
        service: str | None = None,
        ci: str | None = None,
    ) -> list[ScheduleRow]:
        rows: list[ScheduleRow] = []
        for ch in changes:
            if (
                ch.state is ChangeState.REJECTED
                or ch.planned_start is None
                or ch.planned_end is None
            ):
                continue
            if overlap((ch.planned_start, ch.planned_end), (start, end)) is None:
                continue
            report = self.impact(ch.ci_ids, (ch.planned_start, ch.planned_end))
            hit = [s for s in report.services if s.severity != "up"] if report else []
            if (
                service is not None
                and service not in ch.service_ids
                and service not in {s.id for s in hit}
            ):
                continue
            if (
                ci is not None
                and ci not in ch.ci_ids
                and ci not in {c.id for c in (report.cis if report else [])}
            ):
                continue
            rows.append(
                ScheduleRow(
                    id=ch.id,
                    title=ch.title,
                    type=ch.type.value,
                    state=ch.state.value,
                    start=ch.planned_start,
                    end=ch.planned_end,
                    risk=ch.risk.risk_class.value if ch.risk else None,
                    approval=ch.risk.approval.value if ch.risk else None,
                    cis=[self.ci(c).name for c in ch.ci_ids],
                    services=[f"{s.name} ({s.severity})" for s in hit],
                )
            )
        rows.sort(key=lambda r: (r.start or self.now, r.id))
        return rows

    def suggest(
        self,
        change: Change,
        others: Sequence[Change],
        duration: timedelta,
        not_before: datetime,
        horizon: timedelta,
    ) -> Suggestion:
        """The earliest window of ``duration`` from ``not_before`` that keeps every service
        the change interrupts inside its maintenance windows and outside its service hours
        and blackouts, and that overlaps no change it would collide with."""
        if duration <= timedelta(0):
            raise InvalidInput("the duration must be positive", where="--minutes")
        if not change.ci_ids:
            raise InvalidInput(f"{change.id} names no affected CI", where="ci_ids")
        until = not_before + horizon
        nominal = (not_before, not_before + duration)
        services = self.service_windows(self.impact(change.ci_ids, nominal))
        busy: list[Interval] = []
        avoided: list[str] = []
        for other in others:
            if other.id == change.id or other.state not in OPEN_STATES:
                continue
            if other.planned_start is None or other.planned_end is None:
                continue
            if overlap((other.planned_start, other.planned_end), (not_before, until)) is None:
                continue
            if self.conflicts(change, other, (other.planned_start, other.planned_end)):
                busy.append((other.planned_start, other.planned_end))
                avoided.append(other.id)
        free = free_time(services, busy, not_before, until)
        fit = earliest_fit(free, duration, not_before=not_before)
        return Suggestion(
            change_id=change.id,
            start=fit[0] if fit else None,
            end=fit[1] if fit else None,
            duration_minutes=duration.total_seconds() / 60.0,
            searched_from=utc(not_before),
            searched_to=utc(until),
            services=[f"{s.name} ({s.severity})" for s in services],
            avoided=avoided,
        )


def _window(change: Change, now: datetime) -> Interval:
    if change.planned_start is not None and change.planned_end is not None:
        return change.planned_start, change.planned_end
    return now, now + timedelta(hours=1)
