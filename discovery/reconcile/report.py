"""What a run did, or (dry run) would do: the plan and the run report are one shape."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from cmdb.domain.records import Change, ChangeOutcome, ChangeState, DiscoveryRun, RunProblem


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
    since: datetime | None = Field(
        default=None,
        description="when this source saw the CI before: the difference arose in between",
    )
    why: str = Field(default="", description="why no approved change covers it")
    change_id: str | None = Field(
        default=None, description="the change that came nearest to covering it, if any"
    )


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


# States in which a change has been approved (and possibly carried out); a reviewed or
# closed change counts when its log shows it was authorised or implemented (a rejected one
# is closed too).
APPROVED_STATES = frozenset(
    {ChangeState.AUTHORISED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTED}
)
_DONE = frozenset({ChangeState.REVIEWED, ChangeState.CLOSED})


def approved(c: Change) -> bool:
    """Authorised and not undone: a failed or backed-out change covers nothing it left."""
    if c.outcome in (ChangeOutcome.FAILED, ChangeOutcome.BACKED_OUT):
        return False
    return c.state in APPROVED_STATES or (
        c.state in _DONE
        and any(e.state in (ChangeState.AUTHORISED, ChangeState.IMPLEMENTED) for e in c.log)
    )


def unauthorised(found: Sequence[Discrepancy], approved: Sequence[Change]) -> list[Discrepancy]:
    """The discrepancies no approved change covers, each with why (and the nearest change).

    A change covers a discrepancy when it is approved, names the CI, was planned around the
    moment discovery saw it (no window: any time) and, for the ``version`` field, declares
    no version for that CI or exactly the one found: an RFC that brings 1.4.2 does not
    excuse 1.5.0. ``approved`` may hold changes in any state (callers pass them all): the
    ones not approved still help say why.
    """
    out: list[Discrepancy] = []
    for d in found:
        verdicts = [_gap(c, d) for c in approved if d.ci_id in c.ci_ids]
        if any(g is None for g in verdicts):
            continue  # some change covers it
        gaps = [g for g in verdicts if g is not None]
        if not gaps:
            why, change_id = f"no approved change covers {_who(d)} at {_at(d.observed_at)}", None
        else:
            _, _, why, change_id = min(gaps, key=lambda g: (g[0], g[1]))
        out.append(d.model_copy(update={"why": why, "change_id": change_id}))
    return out


# Why a change that names the CI does not cover the discrepancy, nearest first: (rank,
# distance from its window, why, change id). Rank 0: approved and in its window, but
# bringing another version; 1: approved, outside its window; 2: not approved.
_Gap = tuple[int, timedelta, str, str]


def _gap(c: Change, d: Discrepancy) -> _Gap | None:
    """None when ``c`` covers ``d``: the change's window overlaps the time the difference
    arose in (after the source last saw the CI, up to this run; the run's moment alone
    when the source never saw it before)."""
    at = d.observed_at
    since = d.since if d.since is not None and d.since < at else at
    if not approved(c):
        why = (
            f"no approved change covers {_who(d)} at {_at(at)}; "
            f"{c.id} names it but is {c.state.value}"
        )
        return (2, timedelta(0), why, c.id)
    if c.planned_start is not None and at < c.planned_start:
        why = f"{c.id}'s window starts {_at(c.planned_start)}; {_who(d)} seen changed at {_at(at)}"
        return (1, c.planned_start - at, why, c.id)
    if c.planned_end is not None and c.planned_end < since:
        why = f"{c.id}'s window ended {_at(c.planned_end)}; {_who(d)} seen changed at {_at(at)}"
        if since < at:
            why += f", unchanged at {_at(since)}"
        return (1, since - c.planned_end, why, c.id)
    declared = c.ci_versions.get(d.ci_id)
    if d.field == "version" and declared is not None and d.after != declared:
        why = f"{c.id} brings version {declared} to {_who(d)}; found {d.after}"
        return (0, timedelta(0), why, c.id)
    return None


def _who(d: Discrepancy) -> str:
    return d.name if d.name == d.ci_id else f"{d.name} ({d.ci_id})"


def _at(t: datetime) -> str:
    return t.isoformat(timespec="seconds")
