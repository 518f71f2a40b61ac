"""What a caller sends to the incident use cases (:mod:`cmdb.app.incidents`), and the
words its errors name that input with.

REST's request models subclass these (same fields, same schema), GraphQL validates its
arguments against them, and the CLI builds them from its options: one set of limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cmdb.app.inputs import MAX_REFS
from cmdb.domain.records import Level


@dataclass(frozen=True)
class Words:
    """What an error calls the caller's input. The defaults are a request's (REST's body
    and parameters, which GraphQL shares); the CLI passes its arguments and options."""

    incident_id: str | None = "incident_id"  # None: a missing incident is the store's answer
    cis: str = "cis"
    indexed: bool = True  # a list's item by position ("cis.0"), or the option alone
    ci: str = "ci"
    service: str = "service"
    urgency: str = "body.urgency"
    # A request records what has happened: an instant in the future is refused. The CLI
    # works on the database itself and may replay or rehearse at any instant.
    future: bool = False

    def item(self, name: str, key: int) -> str:
        return f"{name}.{key}" if self.indexed else name


REQUEST = Words()


# --- what a caller sends ------------------------------------------------------------------


class _Spec(BaseModel):
    # Unknown or server-owned fields (state, priority, major, service_ids...) are refused.
    model_config = ConfigDict(extra="forbid")


class NewIncident(_Spec):
    """A new incident on failing CIs, named by reference."""

    id: str = Field(
        min_length=1, max_length=128, pattern=r"^\S+$", description="The incident's reference."
    )
    title: str = Field(min_length=1, max_length=500)
    cis: list[str] = Field(
        min_length=1, max_length=MAX_REFS, description="Failing CIs: id, kind=value or name."
    )
    urgency: Level = Level.MEDIUM
    impact: Level | None = Field(default=None, description="Default: from the impact engine.")
    opened_at: datetime | None = Field(
        default=None, description="When it began, if before now (the SLA clocks start there)."
    )


class NewPriority(_Spec):
    """A new impact and/or urgency."""

    impact: Level | None = None
    urgency: Level | None = None


class Resolution(_Spec):
    """A resolution, or only the response."""

    responded_only: bool = Field(
        default=False, description="Only record the response (stops that clock)."
    )
    at: datetime | None = Field(default=None, description="When; default now.")
