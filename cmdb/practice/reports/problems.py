"""The problems report: what was logged in a period, the open known errors and their age."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from cmdb.domain.records import Problem
from cmdb.practice.problems import OPEN_STATES
from cmdb.practice.reports.base import (
    DEFAULT_TOP,
    NONE_KEY,
    Count,
    NameOf,
    Period,
    days,
    tally,
)
from cmdb.practice.windows import utc


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
    still = [p for p in picked if p.state in OPEN_STATES]
    ages = [days(utc(now) - utc(p.opened_at)) for p in still]
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
                age_days=days(utc(now) - utc(p.opened_at)),
            )
            for p in oldest
        ],
    )
