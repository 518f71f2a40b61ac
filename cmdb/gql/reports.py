# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""The status-accounting reports in GraphQL: the same reports as ``/api/v1/reports/...``
and ``cmdb report`` (cmdb/app/reports.py), with the same arguments.

The types mirror the report models field for field (values such as states and priorities
stay the strings REST and CSV show); resolvers return the models themselves. A token
scoped to services gets its scope only, by the one rule REST applies: its visibility goes
to the same use cases (they count the CIs inside, the changes and incidents it reads,
and show only the ids inside).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.types import Info

from cmdb.app import reports
from cmdb.app.changes import policy_of
from cmdb.app.reports import (
    DEFAULT_AGENDA_DAYS,
    DEFAULT_HEALTH_ROWS,
    DEFAULT_TOP,
    MAX_AGENDA_DAYS,
    MAX_HEALTH_ROWS,
    MAX_TOP,
    bounded,
)
from cmdb.app.scope import Visibility
from cmdb.auth.roles import Permission
from cmdb.gql.agreements import AgreementFindingType
from cmdb.gql.context import GqlContext
from cmdb.gql.practice import CollisionType, ViolationType
from cmdb.practice.reports.agenda import CabAgenda

RInfo = Info[GqlContext, None]

From = Annotated[
    datetime | None,
    strawberry.argument(name="from", description="count from this instant (no zone: UTC)"),
]
To = Annotated[
    datetime | None, strawberry.argument(description="count until this instant (no zone: UTC)")
]
Top = Annotated[int, strawberry.argument(description=f"rows per ranking (1..{MAX_TOP})")]
At = Annotated[
    datetime | None,
    strawberry.argument(
        description="the report's instant, for ages and SLA clocks (no zone: UTC); default now"
    ),
]


# --- answer types ----------------------------------------------------------------------


@strawberry.type(name="ReportPeriod", description="Which records a report counts (null: open).")
class PeriodType:
    start: datetime | None
    end: datetime | None


@strawberry.type(name="ReportCount", description="One row of a breakdown, largest first.")
class CountType:
    key: str = strawberry.field(description="a state, a class, a CI id, ... ((none): unset)")
    name: str = strawberry.field(description="the CI's name for CI keys; else the key")
    count: int


@strawberry.type(name="BacklogItem", description="An open change and its age.")
class BacklogItemType:
    id: str
    title: str
    state: str
    type: str
    raised_at: datetime | None
    age_days: float | None


@strawberry.type(
    name="ChangeBacklog",
    description="Open changes (not yet reviewed, closed or rejected), at the report's instant.",
)
class BacklogType:
    open: int
    by_state: list[CountType]
    mean_age_days: float | None
    median_age_days: float | None
    oldest_age_days: float | None
    by_age: list[CountType]
    oldest: list[BacklogItemType]


@strawberry.type(name="ChangeReport", description="Changes raised in the period.")
class ChangesReportType:
    generated_at: datetime
    period: PeriodType
    total: int
    by_state: list[CountType]
    by_type: list[CountType]
    by_priority: list[CountType]
    by_ci: list[CountType]
    by_service: list[CountType]
    rejected: int = strawberry.field(description="ever rejected")
    emergency: int
    failed: int = strawberry.field(description="reviewed as failed or backed out")
    reviewed: int = strawberry.field(description="with an outcome")
    failed_rate: float | None
    review_required: int = strawberry.field(
        description="emergency changes implemented before they were documented"
    )
    backlog: BacklogType


@strawberry.type(name="SlaBreach", description="A response or resolution target missed.")
class SlaBreachType:
    incident_id: str
    title: str
    priority: str
    service_id: str
    service: str
    sla: str
    target: str = strawberry.field(description="response or resolution")
    target_minutes: int | None
    elapsed_minutes: float = strawberry.field(description="service-hour minutes")
    due_at: datetime | None
    running: bool = strawberry.field(description="the clock still runs")


@strawberry.type(name="IncidentReport", description="Incidents opened in the period.")
class IncidentsReportType:
    generated_at: datetime
    period: PeriodType
    total: int
    open: int
    major: int
    outages: int
    by_state: list[CountType]
    by_priority: list[CountType]
    by_service: list[CountType]
    by_ci: list[CountType]
    clocks: int = strawberry.field(description="service clocks checked (services with an SLA)")
    breached_incidents: int
    breaches: list[SlaBreachType]


@strawberry.type(name="OpenProblem", description="An open problem and its age.")
class OpenProblemType:
    id: str
    title: str
    state: str
    known_error: bool
    incidents: int = strawberry.field(description="incidents linked to it")
    age_days: float


@strawberry.type(name="ProblemReport", description="Problems logged in the period.")
class ProblemsReportType:
    generated_at: datetime
    period: PeriodType
    total: int
    open: int
    known_errors: int = strawberry.field(description="open, root cause or workaround recorded")
    incidents_explained: int = strawberry.field(description="distinct incidents linked")
    mean_open_age_days: float | None
    by_state: list[CountType]
    by_category: list[CountType]
    by_ci: list[CountType] = strawberry.field(description="the CIs at fault most often")
    by_service: list[CountType]
    oldest_open: list[OpenProblemType]


@strawberry.type(name="ChangedCI", description="A CI written most often after its creation.")
class ChangedCIType:
    key: str
    name: str
    writes: int
    fields: int = strawberry.field(description="field changes in those writes")


@strawberry.type(name="CIReport", description="CIs by class, status, place, owner, environment.")
class CIsReportType:
    generated_at: datetime
    period: PeriodType
    total: int
    by_class: list[CountType]
    by_status: list[CountType]
    by_location: list[CountType]
    by_owner: list[CountType]
    by_environment: list[CountType]
    most_changed: list[ChangedCIType] = strawberry.field(description="in the period")
    most_incidents: list[CountType] = strawberry.field(description="incidents opened in it")


@strawberry.type(name="HealthCI")
class HealthCIType:
    id: str
    name: str
    ci_class: str


@strawberry.type(name="FieldGap")
class FieldGapType:
    field: str
    missing: int


@strawberry.type(name="ClassCompleteness", description="Required fields of one class.")
class ClassCompletenessType:
    ci_class: str
    required: list[str]
    total: int
    complete: int
    percent: float
    missing: list[FieldGapType]


@strawberry.type(name="IncompleteCI")
class IncompleteCIType(HealthCIType):
    missing: list[str]


@strawberry.type(name="StaleCI", description="A source stopped seeing it.")
class StaleCIType(HealthCIType):
    stale_sources: list[str]
    all_stale: bool = strawberry.field(description="no source still sees it")
    last_seen: datetime | None


@strawberry.type(name="OrphanCI", description="No active relationship at all.")
class OrphanCIType(HealthCIType):
    status: str


@strawberry.type(name="DuplicateGroup", description="CIs that may be one thing recorded twice.")
class DuplicateGroupType:
    reason: str = strawberry.field(description="name or identifier")
    key: str
    cis: list[HealthCIType]


@strawberry.type(
    name="CmdbHealth",
    description="Is the recorded configuration complete and believable? Retired CIs are "
    "counted, not judged.",
)
class HealthReportType:
    generated_at: datetime
    total: int = strawberry.field(description="CIs judged (not retired)")
    retired: int
    complete: int
    completeness_percent: float
    by_class: list[ClassCompletenessType]
    incomplete_total: int
    incomplete: list[IncompleteCIType]
    stale_total: int
    stale: list[StaleCIType]
    orphans_total: int
    orphans: list[OrphanCIType]
    duplicate_groups: int
    duplicates: list[DuplicateGroupType]
    agreement_gaps_total: int = strawberry.field(
        description="OLAs and supplier contracts weaker than an SLA resting on them"
    )
    agreement_gaps: list[AgreementFindingType]
    limit: int = strawberry.field(description="most rows kept per list (totals count all)")


@strawberry.type(name="AgendaService", description="A service a change degrades or takes down.")
class ServiceHitType:
    id: str
    name: str
    kind: str
    severity: str


@strawberry.type(name="AgendaItem", description="A change on a CAB meeting's agenda.")
class AgendaItemType:
    section: str = strawberry.field(description="decide, scheduled or review")
    id: str
    title: str
    type: str
    state: str
    priority: str
    requester: str
    start: datetime | None
    end: datetime | None
    risk_class: str = strawberry.field(description="as assessed for the meeting")
    approval: str
    rule: str
    score: float
    why: str = strawberry.field(description="empty for a service-scoped caller")
    recorded_risk: str | None = strawberry.field(description="at its last assessment")
    services: list[ServiceHitType]
    collisions: list[CollisionType]
    violations: list[ViolationType]
    agreement_gaps: list[AgreementFindingType] = strawberry.field(
        description="agreements weaker than the SLA of a service the change touches"
    )


@strawberry.type(name="CabAgenda", description="What a change advisory board meeting covers.")
class CabAgendaType:
    generated_at: datetime
    start: datetime
    end: datetime
    decide: list[AgendaItemType] = strawberry.field(description="assessed: to authorise")
    scheduled: list[AgendaItemType] = strawberry.field(
        description="authorised or scheduled, with a window in the period"
    )
    review: list[AgendaItemType] = strawberry.field(
        description="emergency changes implemented before documentation"
    )


# --- root fields -----------------------------------------------------------------------


def _top(top: int) -> int:
    return bounded(top, MAX_TOP, "top")


async def _scope(info: RInfo) -> Visibility:
    """Reading permission, then the caller's view."""
    ctx = info.context
    ctx.require(Permission.READ)
    return await ctx.visibility()


@strawberry.type
class ReportsQuery:
    @strawberry.field(
        description="Changes raised in the period by state, type, priority, CI and service; "
        "rejected, emergency and failed counts; the backlog (open changes) and its age."
    )
    async def change_report(
        self, info: RInfo, from_: From = None, to: To = None, top: Top = DEFAULT_TOP, at: At = None
    ) -> ChangesReportType:
        vis, period = await _scope(info), reports.period(from_, to)
        got = await info.context.call(
            reports.changes, info.context.store, vis, reports.report_time(at), period=period,
            top=_top(top),
        )  # fmt: skip
        return cast(ChangesReportType, got)

    @strawberry.field(
        description="Incidents opened in the period by state, priority, service and CI; SLA "
        "breaches (response and resolution clocks counted in service hours)."
    )
    async def incident_report(
        self, info: RInfo, from_: From = None, to: To = None, top: Top = DEFAULT_TOP, at: At = None
    ) -> IncidentsReportType:
        vis, period = await _scope(info), reports.period(from_, to)
        got = await info.context.call(
            reports.incidents, info.context.store, vis, reports.report_time(at), period=period,
            top=_top(top),
        )  # fmt: skip
        return cast(IncidentsReportType, got)

    @strawberry.field(
        description="Problems logged in the period by state, category, CI at fault and "
        "service; open known errors; the open problems' age and the incidents they explain."
    )
    async def problem_report(
        self, info: RInfo, from_: From = None, to: To = None, top: Top = DEFAULT_TOP, at: At = None
    ) -> ProblemsReportType:
        vis, period = await _scope(info), reports.period(from_, to)
        got = await info.context.call(
            reports.problems, info.context.store, vis, reports.report_time(at), period=period,
            top=_top(top),
        )  # fmt: skip
        return cast(ProblemsReportType, got)

    @strawberry.field(
        description="CIs by class, status, location, owner and environment; the CIs changed "
        "most and named by most incidents (in the period)."
    )
    async def ci_report(
        self, info: RInfo, from_: From = None, to: To = None, top: Top = DEFAULT_TOP, at: At = None
    ) -> CIsReportType:
        vis, period = await _scope(info), reports.period(from_, to)
        got = await info.context.call(
            reports.cis, info.context.store, vis, reports.report_time(at), period=period,
            top=_top(top),
        )  # fmt: skip
        return cast(CIsReportType, got)

    @strawberry.field(
        description="CMDB health: completeness of the required fields per class, stale CIs, "
        "orphans (no active relationship), suspected duplicates, agreements weaker than the "
        "SLAs resting on them."
    )
    async def cmdb_health(
        self,
        info: RInfo,
        limit: Annotated[
            int,
            strawberry.argument(description=f"most CIs listed per finding (1..{MAX_HEALTH_ROWS})"),
        ] = DEFAULT_HEALTH_ROWS,
        at: At = None,
    ) -> HealthReportType:
        vis = await _scope(info)
        limit = bounded(limit, MAX_HEALTH_ROWS, "limit")
        got = await info.context.call(
            reports.health, info.context.store, vis, reports.report_time(at), limit=limit
        )
        return cast(HealthReportType, got)

    @strawberry.field(
        description="The changes a CAB meeting decides (assessed), those scheduled in its "
        "period and emergency changes awaiting review, each with its risk, impacted "
        "services, collisions and window violations."
    )
    async def cab_agenda(
        self,
        info: RInfo,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="the meeting period's start; now"),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="its end; `days` after the start")
        ] = None,
        days: Annotated[
            int, strawberry.argument(description=f"1..{MAX_AGENDA_DAYS}")
        ] = DEFAULT_AGENDA_DAYS,
        at: At = None,
    ) -> CabAgendaType:
        ctx = info.context
        vis = await _scope(info)
        now = reports.report_time(at)
        start, end = reports.meeting(from_, to, bounded(days, MAX_AGENDA_DAYS, "days"), now)

        def work() -> CabAgenda:
            # The policy is a file read: off the event loop too.
            policy = policy_of(ctx.settings)
            return reports.cab_agenda(ctx.store, vis, policy, start, end, now)

        return cast(CabAgendaType, await ctx.call(work))
