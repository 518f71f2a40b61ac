"""The changes report: what was raised in a period, how it went, and the backlog's age."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from cmdb.domain.records import Change, ChangeOutcome, ChangeState, ChangeType
from cmdb.practice.lifecycle import OPEN_STATES
from cmdb.practice.reports.base import DEFAULT_TOP, Count, NameOf, Period, days, tally
from cmdb.practice.windows import utc

_FAILED = frozenset({ChangeOutcome.FAILED, ChangeOutcome.BACKED_OUT})
# Backlog age buckets: (label, upper bound in days; None: no bound).
AGE_BUCKETS: tuple[tuple[str, float | None], ...] = (
    ("under 7 days", 7.0),
    ("7-30 days", 30.0),
    ("30-90 days", 90.0),
    ("over 90 days", None),
)


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
    aged = [(c, days(utc(now) - utc(r)) if (r := raised_at(c)) else None) for c in open_]
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
