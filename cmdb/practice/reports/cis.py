"""The CIs report: CIs now by class, status, place, owner and environment; the CIs
written most often and those the most incidents name (in a period)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel

from cmdb.domain.history import EntityKind, HistoryEntry, HistoryOp
from cmdb.domain.model import CI
from cmdb.domain.records import Incident
from cmdb.practice.reports.base import DEFAULT_TOP, NONE_KEY, Count, NameOf, Period, tally
from cmdb.practice.scoped import Scope


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
