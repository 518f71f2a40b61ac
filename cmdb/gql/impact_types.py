"""The impact engine's answers as GraphQL types.

Field names match the engine's pydantic models (``impact.report``, ``impact.spof``, ...),
which the resolvers return as they are, already cut to the caller's scope by the use cases
(:mod:`cmdb.app.impact`).
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from impact.severity import FailureMode

strawberry.enum(FailureMode, name="FailureMode")


@strawberry.type(
    name="GroupNote",
    description="The group behind a step: a quorum (cluster, replica set) and what it lost, "
    "or a grouping (namespace, site) and how many of its members are hit.",
)
class GroupNoteType:
    ci_id: str
    name: str
    kind: str = strawberry.field(description="cluster, replicas or grouping")
    members: int
    needed: int = strawberry.field(description="members that must be up (0: a grouping)")
    left: int = strawberry.field(description="members not down")
    down: int
    degraded: int
    at_risk: int
    hit: int = strawberry.field(description="members not up")
    named: list[str] = strawberry.field(description="ids of the members the text names")
    text: str


@strawberry.type(name="ImpactPath", description="Why a CI is hit: cause -> ... -> it.")
class ImpactPathType:
    cause: str
    ci_ids: list[str]
    names: list[str]
    types: list[str]
    text: str
    groups: list[GroupNoteType] = strawberry.field(
        description="the quorums and groupings its steps go through, each with what it lost"
    )


@strawberry.type(name="FailedCI")
class FailedCIType:
    id: str
    name: str
    ci_class: str
    mode: str
    source: str = strawberry.field(description='"asked" or "open incident"')


@strawberry.type(name="ImpactedCI")
class ImpactedCIType:
    id: str
    name: str
    ci_class: str
    severity: str = strawberry.field(description="down, degraded or at_risk")
    new: bool = strawberry.field(description="worse than with the open incidents alone")
    reason: str
    paths: list[ImpactPathType]
    group: GroupNoteType | None = strawberry.field(
        description="the quorum behind the reason, or the members hit of a grouping"
    )


@strawberry.type(name="Score", description="How bad, 0..100, and what it is made of.")
class ScoreType:
    value: float
    severity: float
    criticality: float
    customers: float
    sla_tightness: float
    service_hours: float
    inputs: JSON
    formula: str


@strawberry.type(name="Budget", description="An SLA's availability budget in one period.")
class BudgetType:
    period_start: datetime
    period_end: datetime
    target_percent: float
    agreed_minutes: float
    allowed_minutes: float
    spent_minutes: float
    remaining_minutes: float


@strawberry.type(name="PeriodExposure")
class PeriodExposureType:
    budget: BudgetType
    window_minutes: float
    remaining_after: float
    breach: bool


@strawberry.type(name="WindowExposure", description="What a change window costs an SLA.")
class WindowExposureType:
    sla: str
    start: datetime
    end: datetime
    minutes_in_hours: float
    scheduled_interruption: bool
    counts_against_budget: bool
    periods: list[PeriodExposureType]
    breach: bool


@strawberry.type(name="IncidentExposure", description="How long an SLA has before breach.")
class IncidentExposureType:
    sla: str
    opened_at: datetime
    now: datetime
    minutes_so_far: float
    budget: BudgetType
    breached: bool
    breach_at: datetime | None
    minutes_left: float | None
    service_minutes_left: float


@strawberry.type(name="ServiceImpact")
class ServiceImpactType:
    id: str
    name: str
    ci_class: str
    severity: str
    new: bool
    reason: str
    paths: list[ImpactPathType]
    group: GroupNoteType | None
    kind: str
    criticality: str | None
    customers: list[str]
    sla: str | None
    availability_target: float | None
    window: WindowExposureType | None
    incident: IncidentExposureType | None
    score: ScoreType


@strawberry.type(name="ImpactCaps", description="The walk's caps, and whether they cut it.")
class CapsType:
    max_depth: int | None
    max_nodes: int | None
    strategy: str | None
    store_calls: int | None
    fetched_cis: int
    depth_reached: int
    truncated_by_depth: bool
    truncated_by_nodes: bool
    frontier: list[str]


@strawberry.type(name="ImpactReport")
class ImpactReportType:
    question: str
    as_of: datetime | None
    now: datetime
    window_start: datetime | None
    window_end: datetime | None
    score: float
    failed: list[FailedCIType]
    already_down: list[FailedCIType]
    unknown: list[str]
    retired_ignored: list[str]
    services: list[ServiceImpactType]
    cis: list[ImpactedCIType]
    caps: CapsType
    warnings: list[str]


@strawberry.type(name="LostService", description="A service a single failure takes down.")
class LostServiceType:
    id: str
    name: str
    customer_facing: bool
    criticality: str | None
    availability_target: float | None
    customers: list[str]


@strawberry.type(name="SpofCost", description="What one failure costs (0-100) and its parts.")
class SpofCostType:
    value: float
    services: float
    customers: float
    sla_tightness: float
    failure: float
    formula: str


@strawberry.type(name="Spof")
class SpofType:
    id: str
    name: str
    ci_class: str
    funnel: str | None
    funnel_id: str | None
    rank: int
    kind: str = strawberry.field(description="infrastructure, supplier or location")
    cost: SpofCostType | None
    services_lost: list[LostServiceType]
    customers_lost: list[str]
    failure_rate: float = strawberry.field(description="Expected failures a year.")
    minutes_down: float = strawberry.field(description="Expected minutes down a year.")
    failure_rate_source: str = strawberry.field(description="observed, declared or default")
    failure_rate_basis: str
    remedy: str = strawberry.field(description="What would remove it.")


@strawberry.type(name="SpofGroup", description="The single points of failure of one kind.")
class SpofGroupType:
    kind: str
    found: int
    shown: int
    left_out: int
    costliest: str | None
    costliest_cost: float | None


@strawberry.type(name="SpofReport", description="CIs whose failure alone takes the service down.")
class SpofResultType:
    service: str
    service_name: str
    cone_size: int
    already_down: bool
    spofs: list[SpofType]
    total: int
    left_out: int
    groups: list[SpofGroupType]
    warnings: list[str]


@strawberry.type(name="ComponentAvailability")
class ComponentType:
    id: str
    name: str
    ci_class: str
    availability: float
    source: str
    evidence: str = strawberry.field(description="observed, declared or default")
    basis: str = strawberry.field(description="What the availability rests on.")
    failures: int = strawberry.field(description="Outages recorded over the period.")
    mttr_minutes: float | None = strawberry.field(description="Its repair time (MTTR or RTO).")
    mttr_source: str = strawberry.field(description="observed, declared or default")
    failures_per_year: float
    logical: bool = strawberry.field(
        description="Up when its parts are: not counted among the components."
    )


@strawberry.type(
    name="EvidenceCount", description="How many components rest on each source of evidence."
)
class EvidenceCountType:
    observed: int
    declared: int
    default: int
    observed_over: str | None = strawberry.field(
        description='The period outages were recorded over ("over 12 months"), if any.'
    )


@strawberry.type(name="SourcedFigure", description="A figure of an answer and its source.")
class SourcedType:
    figure: str
    value: float | None
    source: str = strawberry.field(
        description="observed, declared or default (a combined figure: what most parts rest on)"
    )
    basis: str


@strawberry.type(name="AvailabilityReport")
class AvailabilityResultType:
    service: str
    service_name: str
    availability: float
    exact: bool
    method: str
    lower: float
    upper: float
    factorings: int
    cone_size: int
    cycles_cut: bool
    components: list[ComponentType]
    target_percent: float | None
    period_start: datetime | None
    agreed_minutes: float | None
    expected_downtime_minutes: float | None
    allowed_minutes: float | None
    mean_outage_minutes: float | None
    breach_probability: float | None
    evidence: EvidenceCountType | None
    warning: str | None = strawberry.field(
        description="Said first when most components rest on class defaults."
    )
    figures: list[SourcedType]
    observed_availability: float | None = strawberry.field(
        description="The service's own record: its recorded outages over the period."
    )
    observed_basis: str | None


@strawberry.type(name="RecoveryStep")
class StepType:
    id: str
    name: str
    ci_class: str
    wave: int
    start_minute: float
    finish_minute: float
    recovery_minutes: float
    time_known: bool
    note: str
    source: str = strawberry.field(
        description="Where its time came from: observed, declared or default."
    )
    basis: str = strawberry.field(description="What the time rests on, or why it is unknown.")


@strawberry.type(name="ServiceBack", description="When a service of the plan is back.")
class ServiceBackType:
    id: str
    name: str
    back_minute: float


@strawberry.type(name="RecoveryPlan")
class RecoveryPlanType:
    service: str
    service_name: str
    cold_start: bool
    total_minutes: float
    critical_path: list[str]
    steps: list[StepType]
    deferred: list[str]
    unknown_times: list[str]
    services: list[ServiceBackType]
    on_defaults: int = strawberry.field(description="Steps timed by a class default.")
    timed_steps: int = strawberry.field(description="Steps with a repair time of their own.")
    warning: str | None = strawberry.field(
        description="Said first when most repair times are class defaults."
    )


@strawberry.type(name="Evidence", description="A change to a CI, or an incident on it.")
class EvidenceType:
    ci_id: str
    at: datetime = strawberry.field(
        description="A change's end (or the field change), an incident's start."
    )
    what: str
    kind: str = strawberry.field(description='"change" (an RFC), "field" or "incident"')
    ref: str | None = strawberry.field(description="The RFC's or incident's reference.")
    start: datetime | None = strawberry.field(description="A change window's start.")
    weight: float = strawberry.field(description="How much it counts, 0..1.")
    note: str = strawberry.field(description="Why it counts that much.")


@strawberry.type(name="CauseCandidate")
class CauseCandidateType:
    id: str
    name: str
    ci_class: str
    rank: int
    score: float
    explained: int
    explains: list[str]
    recency: float = strawberry.field(description="The change part, 0..1.")
    failure_weight: float = strawberry.field(description="The failures part, 0..1.")
    mean_distance: float
    takes_down: int | None = strawberry.field(
        description="CIs under the symptoms its failure alone takes down."
    )
    changes: list[EvidenceType]
    failures: list[EvidenceType] = strawberry.field(
        description="Incidents on it in the failure window."
    )
    reasons: list[str] = strawberry.field(description="The evidence that put it where it is.")
    tie_break: str | None = strawberry.field(
        description="How a tie on evidence with a neighbour was broken."
    )
    paths: list[ImpactPathType]


@strawberry.type(name="CauseReport", description="Likely root causes, best first.")
class CauseResultType:
    affected: list[str]
    unknown: list[str]
    lookback_minutes: float
    first_symptom: datetime | None = strawberry.field(
        description="The instant changes are weighed against."
    )
    symptom_incidents: list[str] = strawberry.field(
        description="Open incidents naming an affected item."
    )
    failure_window_days: float
    candidates: list[CauseCandidateType]
