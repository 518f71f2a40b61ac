# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""The practice of issue 7 in GraphQL: what a change advisory board and a service desk ask.

``ChangePractice`` and ``IncidentPractice`` add the RFC's and the incident's practice
fields to the ``Change`` and ``Incident`` types (cmdb/gql/types.py inherits them): the
recorded risk, the log and the allowed next states, a live risk assessment, collisions and
window violations; an incident's impact, urgency and SLA clocks. ``PracticeQuery`` adds
the schedule of changes and every collision to the root. Resolvers receive the stored
records (pydantic models, already trimmed to the caller's scope by ``scoped_record``; a
change's linked incidents and an incident's linked changes are trimmed here, to those the
caller reads); what they compute comes from the use cases (cmdb/app/changes.py,
change_schedule.py), so every shell trims alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import strawberry
from strawberry.types import Info

from cmdb.app import change_schedule, changes
from cmdb.app.scope import readable
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangePriority,
    ChangeState,
    ChangeType,
    ExpectedImpact,
    Incident,
    Level,
    RiskClass,
)
from cmdb.domain.service import Priority
from cmdb.gql.context import GqlContext
from cmdb.practice.incidents import clocks
from cmdb.practice.lifecycle import allowed_next
from cmdb.practice.risk import Assessment
from cmdb.practice.scheduling import Suggestion

strawberry.enum(ChangePriority, name="ChangePriority")
strawberry.enum(ExpectedImpact, name="ExpectedImpact")
strawberry.enum(ChangeOutcome, name="ChangeOutcome")
strawberry.enum(RiskClass, name="RiskClass")
strawberry.enum(ApprovalLevel, name="ApprovalLevel")
strawberry.enum(Level, name="Level")

PInfo = Info[GqlContext, None]


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo is not None else at.replace(tzinfo=UTC)


# --- answer types ----------------------------------------------------------------------


@strawberry.type(name="StateEntry", description="One step of a change's life.")
class StateEntryType:
    state: ChangeState
    at: datetime
    by: str
    note: str
    authority: ApprovalLevel | None = strawberry.field(
        description="the change authority the decider held, on a decision (authorised, or "
        "rejected after assessment); null for other steps, or when an unrestricted local "
        "operator decided"
    )


@strawberry.type(name="ChangeRisk", description="The risk assessment recorded on a change.")
class ChangeRiskType:
    risk_class: RiskClass
    approval: ApprovalLevel
    rule: str
    why: str
    score: float
    assessed_at: datetime
    proposal_version: int | None = strawberry.field(
        default=None,
        description="the version of the RFC's open what-if proposal this assessment judged",
    )


@strawberry.type(name="FailureRate", description="Reviewed changes of the same CIs.")
class FailureRateType:
    reviewed: int
    failed: int = strawberry.field(description="failed or backed out")
    changes: list[str]

    @strawberry.field
    def rate(self) -> float | None:
        return self.failed / self.reviewed if self.reviewed else None


@strawberry.type(name="RiskFacts", description="What the rules were evaluated on.")
class RiskFactsType:
    change_type: ChangeType
    expected_impact: ExpectedImpact | None
    score: float
    worst_severity: str
    customer_facing_down: list[str]
    customers: list[str]
    sla_breach: list[str]
    minutes_in_hours: float
    history: FailureRateType
    sites: list[str]


@strawberry.type(name="RuleCheck")
class RuleCheckType:
    rule: str
    fired: bool
    reasons: list[str] = strawberry.field(
        description="fired: every condition that held; else the first that did not"
    )


@strawberry.type(name="RiskAssessment", description="A risk assessment, every rule explained.")
class RiskAssessmentType:
    change_id: str
    risk_class: RiskClass
    approval: ApprovalLevel
    rule: str
    why: str
    facts: RiskFactsType
    checks: list[RuleCheckType]


@strawberry.type(name="Collision", description="A clash between two changes.")
class CollisionType:
    a: str
    b: str
    kind: str = strawberry.field(
        description="same_ci, parent_child, joint_quorum, joint_service, same_service"
    )
    start: datetime | None = strawberry.field(description="the overlap of the two windows")
    end: datetime | None
    subjects: list[str] = strawberry.field(description="CI or service names")
    detail: str


@strawberry.type(name="WindowViolation", description="A blackout, maintenance or hours clash.")
class ViolationType:
    change_id: str
    kind: str
    service_id: str
    service: str
    start: datetime
    end: datetime
    detail: str


@strawberry.type(name="CollisionReport")
class CollisionReportType:
    collisions: list[CollisionType]
    violations: list[ViolationType]


@strawberry.type(name="TargetClock", description="A response or resolution clock.")
class TargetClockType:
    target: str
    target_minutes: int | None = strawberry.field(description="null: no target for it")
    elapsed_minutes: float = strawberry.field(description="service-hour minutes")
    remaining_minutes: float | None
    due_at: datetime | None
    stopped_at: datetime | None
    running: bool
    in_service_hours_now: bool
    breached: bool


@strawberry.type(name="ServiceClock", description="An incident's SLA clocks for one service.")
class ServiceClockType:
    service_id: str
    service: str
    sla: str
    timezone: str
    priority: Priority
    response: TargetClockType
    resolution: TargetClockType


@strawberry.type(name="ScheduledChangeService")
class ScheduledServiceType:
    id: str
    name: str
    severity: str


@strawberry.type(name="ScheduledChangeCI")
class ScheduledCIType:
    id: str
    name: str


@strawberry.type(name="ScheduledChange", description="A row of the schedule of changes.")
class ScheduleRowType:
    id: str
    title: str
    type: ChangeType
    state: ChangeState
    start: datetime | None
    end: datetime | None
    risk: str | None
    approval: str | None
    cis: list[ScheduledCIType]
    services: list[ScheduledServiceType] = strawberry.field(
        description="services it degrades or takes down"
    )


@strawberry.type(name="CIVersion", description="The version a change brings to one CI.")
class CIVersionType:
    ci_id: str
    version: str


@strawberry.type(
    name="WindowSuggestion",
    description="The earliest window for a change (null start and end: none in the horizon).",
)
class SuggestionType:
    change_id: str
    start: datetime | None
    end: datetime | None
    duration_minutes: float
    searched_from: datetime
    searched_to: datetime
    services: list[str] = strawberry.field(
        description="'name (severity)' of the services whose calendars it respects"
    )
    avoided: list[str] = strawberry.field(
        description="changes it would collide with, whose windows it keeps clear of"
    )


@strawberry.type(name="ChangeSchedule")
class ChangeScheduleType:
    start: datetime
    end: datetime
    items: list[ScheduleRowType]


# --- fields added to Change and Incident -----------------------------------------------


def _record(self: object) -> Change:
    return cast(Change, self)


@strawberry.type
class ChangePractice:
    """Inherited by ``Change``: the RFC's practice fields (``self`` is the record)."""

    priority: ChangePriority
    expected_impact: ExpectedImpact | None
    reason: str
    business_benefit: str
    backout_plan: str
    resources: list[str]
    references: list[str]
    outcome: ChangeOutcome | None
    review_required: bool = strawberry.field(
        description="an emergency change implemented before full documentation"
    )
    review_notes: str
    risk: ChangeRiskType | None = strawberry.field(description="the recorded assessment")

    @strawberry.field(
        description="The version it brings to each CI it declares one for (those in the "
        "caller's scope)."
    )
    def ci_versions(self) -> list[CIVersionType]:
        # The record is already trimmed to the caller's scope (``seen``, ``change_out``).
        return [CIVersionType(ci_id=k, version=v) for k, v in _record(self).ci_versions.items()]

    @strawberry.field(description="incidents linked by the review (those the caller reads)")
    async def incident_ids(self, info: PInfo) -> list[str]:
        linked = _record(self).incident_ids
        vis = await info.context.visibility()
        if vis.unrestricted or not linked:
            return linked
        reads = {i.id for i in await info.context.loaders.incidents() if readable(vis, i)}
        return [i for i in linked if i in reads]

    @strawberry.field(description="related changes (those the caller reads)")
    async def related_changes(self, info: PInfo) -> list[str]:
        related = _record(self).related_changes
        vis = await info.context.visibility()
        if vis.unrestricted or not related:
            return related
        reads = {c.id for c in await info.context.loaders.changes() if readable(vis, c)}
        return [c for c in related if c in reads]

    @strawberry.field(description="Every state, in order, with who and why.")
    def log(self) -> list[StateEntryType]:
        return cast(list[StateEntryType], _record(self).log)

    @strawberry.field(description="The states it may go to next.")
    def allowed_next(self) -> list[ChangeState]:
        return allowed_next(_record(self))

    @strawberry.field(
        description="Its risk as it would be assessed now (nothing recorded): every rule and why."
    )
    async def assessment(self, info: PInfo) -> RiskAssessmentType:
        ctx = info.context
        vis = await ctx.visibility()
        change_id = _record(self).id

        def work() -> Assessment:
            # The policy is a file read: off the event loop too.
            return changes.risk(ctx.store, vis, change_id, changes.policy_of(ctx.settings))

        return cast(RiskAssessmentType, await ctx.call(work))

    @strawberry.field(
        description="Its clashes with other open changes whose windows overlap, and its "
        "blackout, maintenance-window and service-hour violations."
    )
    async def collisions(self, info: PInfo) -> CollisionReportType:
        ctx = info.context
        vis = await ctx.visibility()
        got = await ctx.call(change_schedule.collisions, ctx.store, vis, _record(self).id)
        return cast(CollisionReportType, got)


@strawberry.type
class IncidentPractice:
    """Inherited by ``Incident``: priority inputs, the response time, outage, clocks."""

    impact: Level | None
    urgency: Level | None
    responded_at: datetime | None
    outage: bool = strawberry.field(
        description="the services named were out (they spend their availability budget)"
    )

    @strawberry.field(description="changes whose review linked it (those the caller reads)")
    async def change_ids(self, info: PInfo) -> list[str]:
        linked = cast(Incident, self).change_ids
        vis = await info.context.visibility()
        if vis.unrestricted or not linked:
            return linked
        reads = {c.id for c in await info.context.loaders.changes() if readable(vis, c)}
        return [c for c in linked if c in reads]

    @strawberry.field(
        description="Response and resolution clocks per affected service with an SLA, in "
        "its service hours, at `at` (default now)."
    )
    async def clocks(self, info: PInfo, at: datetime | None = None) -> list[ServiceClockType]:
        ctx = info.context
        vis = await ctx.visibility()
        inc = cast(Incident, self)
        when = _utc(at) or _now()
        found = await ctx.call(clocks, ctx.store, inc.id, when)
        return cast(list[ServiceClockType], [c for c in found if vis.allows(c.service_id)])


# --- root fields -----------------------------------------------------------------------


@strawberry.type
class PracticeQuery:
    @strawberry.field(
        description="The schedule of changes in a period (default: 30 days from now), "
        "optionally only those concerning one service or CI (id, kind=value or name)."
    )
    async def change_schedule(
        self,
        info: PInfo,
        start: datetime | None = None,
        end: datetime | None = None,
        days: int = 30,
        service: str | None = None,
        ci: str | None = None,
    ) -> ChangeScheduleType:
        ctx = info.context
        vis = await ctx.visibility()

        got = await ctx.call(
            change_schedule.schedule,
            ctx.store,
            vis,
            start=start,
            end=end,
            days=days,
            service=service,
            ci=ci,
        )
        return cast(ChangeScheduleType, got)

    @strawberry.field(
        description="The earliest window of `minutes` for a change, from `start` (default "
        "now) within `days` (default: the policy's horizon), that fits every interrupted "
        "service's maintenance windows, avoids their service hours and every impacted "
        "service's blackouts, and overlaps no change it would collide with."
    )
    async def suggest_change_window(
        self,
        info: PInfo,
        id: strawberry.ID,
        minutes: int = 60,
        start: datetime | None = None,
        days: int | None = None,
    ) -> SuggestionType:
        ctx = info.context
        vis = await ctx.visibility()

        def work() -> Suggestion:
            policy = changes.policy_of(ctx.settings)
            return change_schedule.suggest_window(
                ctx.store, vis, str(id), policy, minutes=minutes, start=start, days=days
            )

        return cast(SuggestionType, await ctx.call(work))

    @strawberry.field(description="Every clash between open changes, and every violation.")
    async def change_collisions(self, info: PInfo) -> CollisionReportType:
        ctx = info.context
        vis = await ctx.visibility()
        got = await ctx.call(change_schedule.collisions, ctx.store, vis)
        return cast(CollisionReportType, got)
