"""What a run did, or (dry run) would do: the plan and the run report are one shape."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cmdb.domain.records import Change, ChangeState, DiscoveryRun, RunProblem


class FieldDiff(BaseModel):
    field: str
    before: Any = None
    after: Any = None


class CIOutcome(BaseModel):
    """One record's fate: the CI it became (once known), and what changed on it."""

    key: str
    ci_id: str | None = None
    ci_class: str
    name: str
    rule: str | None = Field(default=None, description="the rule that identified it")
    diffs: list[FieldDiff] = Field(default_factory=list)
    skipped: list[str] = Field(
        default_factory=list, description="fields an owner outranks this source on"
    )


class Conflict(BaseModel):
    key: str
    message: str
    ci_ids: list[str] = Field(default_factory=list)


class StaleCI(BaseModel):
    ci_id: str
    name: str
    missed_runs: int


class Discrepancy(BaseModel):
    """A value on an existing CI that this run changed: a change nobody may have approved."""

    ci_id: str
    name: str
    field: str
    before: Any = None
    after: Any = None
    observed_at: datetime


class RunReport(BaseModel):
    run: DiscoveryRun
    created: list[CIOutcome] = Field(default_factory=list)
    updated: list[CIOutcome] = Field(default_factory=list)
    unchanged: int = 0
    stale: list[StaleCI] = Field(default_factory=list, description="marked, or would be")
    unresolved: list[CIOutcome] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    problems: list[RunProblem] = Field(default_factory=list)
    discrepancies: list[Discrepancy] = Field(default_factory=list)
    relationships: dict[str, int] = Field(default_factory=dict)
    skipped_fields: int = 0
    suspicious: str | None = Field(default=None, description="why the sweep was held back")
    error: str | None = None

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error") + len(self.conflicts)

    def summary(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "stale": len(self.stale),
            "unresolved": len(self.unresolved),
            "errors": self.errors,
        }


# States in which a change has been approved (and possibly carried out).
APPROVED_STATES = frozenset(
    {ChangeState.AUTHORISED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTED}
)


def unauthorised(found: Sequence[Discrepancy], approved: Sequence[Change]) -> list[Discrepancy]:
    """The discrepancies no approved change covers (that CI, within its planned window).

    Change records come with a later issue; until then callers pass no changes and every
    difference is listed. A change without a window covers its CIs at any time.
    """
    covering = [c for c in approved if c.state in APPROVED_STATES]

    def covered(d: Discrepancy) -> bool:
        return any(
            d.ci_id in c.ci_ids
            and (c.planned_start is None or c.planned_start <= d.observed_at)
            and (c.planned_end is None or d.observed_at <= c.planned_end)
            for c in covering
        )

    return [d for d in found if not covered(d)]
