"""What a caller sends to the change use cases (:mod:`cmdb.app.changes`), and the words
its errors name that input with.

REST's request models subclass these (same fields, same schema), GraphQL validates its
inputs against them, and the CLI builds them from its options: one set of limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cmdb.app.inputs import MAX_REFS
from cmdb.domain.records import (
    ChangeOutcome,
    ChangePriority,
    ChangeState,
    ChangeType,
    ExpectedImpact,
)

MAX_TEXT = 10_000


@dataclass(frozen=True)
class Words:
    """What an error calls the caller's input. The defaults are a request's (REST's body
    and parameters, which GraphQL shares); the CLI passes its arguments and options, so
    that a message names what a person typed."""

    body: str | None = "body"  # the input as a whole; None: the record's own fields
    change_id: str | None = "change_id"  # None: a missing change is the store's answer
    cis: str = "cis"
    services: str = "services"
    ci_versions: str = "ci_versions"
    indexed: bool = True  # a list's item by position ("cis.0"), or the option alone
    to: str = "to"
    review: str = "POST /changes/{change_id}/review"  # how to record a review instead
    ci: str = "ci"
    service: str = "service"
    start: str = "start"
    end: str = "end"
    days: str = "days"
    minutes: str = "minutes"

    def item(self, name: str, key: int | str) -> str:
        return f"{name}.{key}" if self.indexed else name


REQUEST = Words()


# --- what a caller sends ------------------------------------------------------------------

Text = Annotated[str, Field(max_length=MAX_TEXT)]
Refs = Annotated[list[str], Field(max_length=MAX_REFS)]


class _RfcFields(BaseModel):
    # Unknown or server-owned fields (state, risk, log, outcome...) are refused.
    model_config = ConfigDict(extra="forbid")


class NewChange(_RfcFields):
    """A new RFC as a caller raises it: CIs and services by reference."""

    id: str = Field(
        min_length=1, max_length=128, pattern=r"^\S+$", description="The RFC's reference."
    )
    title: str = Field(min_length=1, max_length=500)
    type: ChangeType = ChangeType.NORMAL
    priority: ChangePriority = ChangePriority.NORMAL
    requester: str = Field(default="", max_length=200, description="Default: the caller.")
    cis: Refs = Field(default_factory=list, description="Affected CIs: id, kind=value or name.")
    ci_versions: dict[str, str] = Field(
        default_factory=dict, description="CI reference -> the version the change brings."
    )
    services: Refs = Field(default_factory=list, description="Services it concerns.")
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    reason: Text = ""
    business_benefit: Text = ""
    backout_plan: Text = ""
    expected_impact: ExpectedImpact | None = None
    related_changes: Refs = Field(default_factory=list)
    references: Refs = Field(default_factory=list)
    resources: Refs = Field(default_factory=list)


class ChangePatch(_RfcFields):
    """An amendment: only the fields set change; lists replace the stored ones."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    priority: ChangePriority | None = None
    requester: str | None = Field(default=None, max_length=200)
    cis: Refs | None = None
    ci_versions: dict[str, str] | None = None
    services: Refs | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    reason: Text | None = None
    business_benefit: Text | None = None
    backout_plan: Text | None = None
    expected_impact: ExpectedImpact | None = None
    related_changes: Refs | None = None
    references: Refs | None = None
    resources: Refs | None = None


class ChangeStep(_RfcFields):
    """One step of the lifecycle, optionally setting the window first."""

    to: ChangeState = Field(description="The next state (a review: POST .../review).")
    note: Text = ""
    planned_start: datetime | None = Field(default=None, description="Set the window first.")
    planned_end: datetime | None = None


class ChangeReview(_RfcFields):
    """A post-implementation review's outcome."""

    outcome: ChangeOutcome
    note: Text = ""
