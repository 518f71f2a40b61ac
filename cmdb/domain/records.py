"""Changes and incidents: the records that link to CIs and services.

Only their shape lives here; their behaviour (risk, schedules, SLA clocks) comes later.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the RFC's unique reference, e.g. RFC-2026-0042")
    title: str
    type: ChangeType = ChangeType.NORMAL
    state: ChangeState = ChangeState.DRAFT
    requester: str = ""
    ci_ids: list[str] = Field(default_factory=list)
    service_ids: list[str] = Field(default_factory=list)
    planned_start: datetime | None = None
    planned_end: datetime | None = None

    @model_validator(mode="after")
    def _window(self) -> Change:
        if self.planned_start and self.planned_end and self.planned_end <= self.planned_start:
            raise ValueError("planned_end must be after planned_start")
        return self


class IncidentState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Incident(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the incident's reference, e.g. INC-000123")
    title: str
    state: IncidentState = IncidentState.OPEN
    priority: Priority = Priority.P3
    ci_ids: list[str] = Field(default_factory=list)
    service_ids: list[str] = Field(default_factory=list)
    opened_at: datetime
    resolved_at: datetime | None = None
    major: bool = False


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
    started_at: datetime
    ended_at: datetime | None = None
    status: RunStatus = RunStatus.RUNNING
    dry_run: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    problems: list[RunProblem] = Field(default_factory=list)
    override: bool = False
    note: str = ""

    @property
    def finished(self) -> bool:
        return self.status is not RunStatus.RUNNING
