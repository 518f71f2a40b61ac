"""Changes, incidents and problems: the records that link to CIs and services.

Only their shape lives here; their behaviour (the change state machine, risk, schedules,
SLA clocks, reviews) is in :mod:`cmdb.practice`. Every field added after the first shape
is optional with a default, so records written before still load.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cmdb.domain.instant import Instant
from cmdb.domain.service import Priority


class ChangeType(StrEnum):
    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


class ChangeState(StrEnum):
    DRAFT = "draft"
    ASSESSED = "assessed"
    AUTHORISED = "authorised"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    IMPLEMENTED = "implemented"
    REVIEWED = "reviewed"
    CLOSED = "closed"


class ChangePriority(StrEnum):
    EMERGENCY = "emergency"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class ExpectedImpact(StrEnum):
    MAJOR = "major"
    MINOR = "minor"


class ChangeOutcome(StrEnum):
    SUCCESSFUL = "successful"
    FAILED = "failed"
    BACKED_OUT = "backed_out"


class RiskClass(StrEnum):
    STANDARD = "standard"
    LOW = "low"
    HIGH = "high"
    VERY_HIGH = "very_high"


class ApprovalLevel(StrEnum):
    """The change authority a risk class needs, most junior first."""

    PRE_APPROVED = "pre_approved"
    CHANGE_MANAGER = "change_manager"
    CAB = "cab"
    BOARD = "board"  # a higher (global) change board: very high risk, or many sites


class StateEntry(BaseModel):
    """One step of a change's life: which state, when, by whom, and why."""

    model_config = ConfigDict(extra="forbid")

    state: ChangeState
    at: Instant
    by: str
    note: str = ""
    # Added with approval levels (optional, so older logs still load).
    authority: ApprovalLevel | None = Field(
        default=None,
        description="the change authority the decider held, on a decision (authorised, or"
        " rejected after assessment); none when an unrestricted local operator decided",
    )


class ChangeRisk(BaseModel):
    """The outcome of a risk assessment, kept on the change (the full explanation is
    recomputed on demand: it depends on the graph at the time)."""

    model_config = ConfigDict(extra="forbid")

    risk_class: RiskClass
    approval: ApprovalLevel
    rule: str
    why: str
    score: float = 0.0
    assessed_at: Instant
    service_ids: list[str] = Field(
        default_factory=list, description="the services it takes down or degrades, by id"
    )
    proposal_version: int | None = Field(
        default=None,
        description="the version of the RFC's open what-if proposal this assessment judged"
        " (none: no open proposal with edits)",
    )


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the RFC's unique reference, e.g. RFC-2026-0042")
    title: str
    type: ChangeType = ChangeType.NORMAL
    state: ChangeState = ChangeState.DRAFT
    requester: str = ""
    ci_ids: list[str] = Field(default_factory=list, description="the affected CIs")
    service_ids: list[str] = Field(default_factory=list)
    planned_start: Instant | None = None
    planned_end: Instant | None = None
    # The RFC's other fields (all optional, so older records still load).
    ci_versions: dict[str, str] = Field(
        default_factory=dict, description="affected CI id -> the version the change brings"
    )
    priority: ChangePriority = ChangePriority.NORMAL
    related_changes: list[str] = Field(default_factory=list)
    references: list[str] = Field(
        default_factory=list, description="known errors, problems, documents it rests on"
    )
    expected_impact: ExpectedImpact | None = None
    reason: str = ""
    business_benefit: str = ""
    resources: list[str] = Field(default_factory=list)
    backout_plan: str = ""
    risk: ChangeRisk | None = None
    outcome: ChangeOutcome | None = None
    review_required: bool = Field(
        default=False, description="an emergency change implemented before full documentation"
    )
    review_notes: str = ""
    incident_ids: list[str] = Field(
        default_factory=list, description="incidents linked by the post-implementation review"
    )
    log: list[StateEntry] = Field(default_factory=list, description="every state, in order")

    @model_validator(mode="after")
    def _window(self) -> Change:
        if self.planned_start and self.planned_end and self.planned_end <= self.planned_start:
            raise ValueError("planned_end must be after planned_start")
        stray = sorted(set(self.ci_versions) - set(self.ci_ids))
        if stray:
            raise ValueError(f"ci_versions names CIs the change does not affect: {stray}")
        return self

    def entered(self, state: ChangeState) -> datetime | None:
        """When the change last entered ``state``, from its log."""
        return next((e.at for e in reversed(self.log) if e.state is state), None)


class IncidentState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Level(StrEnum):
    """An incident's impact or urgency."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class IncidentAlert(BaseModel):
    """A monitoring alert grouped into an incident, kept by its fingerprint."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str
    name: str = Field(description="its alertname label")
    status: str = Field(description='"firing" or "resolved"')
    ci_ids: list[str] = Field(default_factory=list, description="the CIs its labels name")
    labels: dict[str, str] = Field(default_factory=dict)
    starts_at: Instant
    ends_at: Instant | None = None


class IncidentNote(BaseModel):
    """One line of an incident's story: who, when, what."""

    model_config = ConfigDict(extra="forbid")

    at: Instant
    actor: str
    text: str


class Incident(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the incident's reference, e.g. INC-000123")
    title: str
    state: IncidentState = IncidentState.OPEN
    priority: Priority = Priority.P3
    ci_ids: list[str] = Field(default_factory=list)
    service_ids: list[str] = Field(default_factory=list)
    opened_at: Instant
    resolved_at: Instant | None = None
    major: bool = False
    # Added with the practice (optional, so older records still load).
    impact: Level | None = None
    urgency: Level | None = None
    responded_at: Instant | None = None
    outage: bool = Field(
        default=True,
        description="the services named were out (it spends their availability budget);"
        " false for a reduction in quality",
    )
    change_ids: list[str] = Field(
        default_factory=list, description="changes whose review linked this incident"
    )
    # Opened or joined by monitoring alerts (cmdb/practice/alerts.py); empty otherwise.
    cause_id: str | None = Field(
        default=None, description="the probable cause the alerts share on the graph"
    )
    alerts: list[IncidentAlert] = Field(
        default_factory=list, description="the monitoring alerts grouped into it"
    )
    notes: list[IncidentNote] = Field(
        default_factory=list, description="what happened to it, oldest first"
    )


class ProblemState(StrEnum):
    """A problem's life: logged, investigated, a known error once its root cause or a
    workaround is known, resolved when the fix is in, closed."""

    LOGGED = "logged"
    INVESTIGATING = "investigating"
    KNOWN_ERROR = "known_error"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Problem(BaseModel):
    """The (usually unknown) root cause of one or more incidents. Once its root cause or a
    workaround is known it is a **known error**, recorded with the CIs at fault and the
    services currently or potentially affected."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the problem's reference, e.g. PRB-000042")
    title: str
    state: ProblemState = ProblemState.LOGGED
    description: str = ""
    category: str = Field(default="", description="suspected cause category")
    ci_ids: list[str] = Field(default_factory=list, description="the CIs at fault (suspected)")
    service_ids: list[str] = Field(
        default_factory=list, description="services currently or potentially affected"
    )
    incident_ids: list[str] = Field(default_factory=list)
    change_ids: list[str] = Field(
        default_factory=list, description="the changes raised to remove the cause"
    )
    symptoms: list[str] = Field(
        default_factory=list, description="error messages and signs, what a search matches"
    )
    root_cause: str = ""
    workaround: str = ""
    opened_at: Instant
    known_error_at: Instant | None = None
    resolved_at: Instant | None = None

    @model_validator(mode="after")
    def _known(self) -> Problem:
        if self.state is ProblemState.KNOWN_ERROR and not self.known:
            raise ValueError("a known error records its root cause or a workaround")
        return self

    @property
    def known(self) -> bool:
        """Its root cause or a workaround is recorded."""
        return bool(self.root_cause.strip() or self.workaround.strip())


# The records that name CIs and services (stored whole, with history of every field).
Record = Change | Incident | Problem


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Finished, but saw far fewer items than before: its staleness sweep was held back.
    SUSPICIOUS = "suspicious"


class RunProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: str
    where: str
    message: str


class DiscoveryRun(BaseModel):
    """One discovery run of one source over one scope: the bookkeeping staleness relies on."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1)
    scope: str | None = None
    format: str = ""
    started_at: Instant
    ended_at: Instant | None = None
    status: RunStatus = RunStatus.RUNNING
    dry_run: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    problems: list[RunProblem] = Field(default_factory=list)
    override: bool = False
    note: str = ""

    @property
    def finished(self) -> bool:
        return self.status is not RunStatus.RUNNING
