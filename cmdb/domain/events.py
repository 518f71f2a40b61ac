"""Events (the outbox) and the webhook rules and deliveries that carry them out.

An event is written by the store in the same transaction as the change that causes it, so
a failed write leaves none and a committed one always has its own. A delivery is one
event on its way to one rule's URL: its state, next attempt and log are stored, so a
worker that dies resumes where it was.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cmdb.domain.instant import Instant


class EventType(StrEnum):
    CI_CREATED = "ci.created"
    CI_UPDATED = "ci.updated"
    CI_RETIRED = "ci.retired"
    RELATIONSHIP_ADDED = "relationship.added"
    RELATIONSHIP_RETIRED = "relationship.retired"
    DISCOVERY_RUN_FINISHED = "discovery_run.finished"
    CHANGE_SUBMITTED = "change.submitted"
    CHANGE_ASSESSED = "change.assessed"
    CHANGE_AUTHORISED = "change.authorised"
    CHANGE_IMPLEMENTED = "change.implemented"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_PRIORITY_CHANGED = "incident.priority_changed"


class Event(BaseModel):
    """One thing that happened, as the outbox holds it. ``seq`` orders the outbox (commit
    order); it is 0 until the store has written the event."""

    model_config = ConfigDict(extra="forbid")

    id: str
    seq: int = 0
    type: EventType
    occurred_at: Instant
    subject_ids: list[str] = Field(default_factory=list)
    actor: str = ""
    source: str = ""
    request_id: str | None = None
    run_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """What a webhook receiver gets (Standard Webhooks' ``type``, ``timestamp``,
        ``data``)."""
        return {
            "id": self.id,
            "type": self.type.value,
            "timestamp": self.occurred_at.isoformat(),
            "data": {
                "subject_ids": self.subject_ids,
                "actor": self.actor,
                "source": self.source,
                "request_id": self.request_id,
                "run_id": self.run_id,
                **self.payload,
            },
        }


class WebhookRule(BaseModel):
    """A URL subscribed to some event types (none listed: every type)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    url: str
    secret: str = Field(description="whsec_<base64>: the key deliveries are signed with")
    event_types: list[EventType] = Field(default_factory=list)
    enabled: bool = True
    description: str = ""
    created_by: str = ""
    created_at: Instant
    after_seq: int = Field(
        default=0, ge=0, description="the outbox's last seq when it was made: sent what follows"
    )

    def wants(self, event_type: EventType) -> bool:
        return self.enabled and (not self.event_types or event_type in self.event_types)


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # attempts exhausted (replay sends it again)


class Attempt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: Instant
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


class Delivery(BaseModel):
    """One event for one rule. Its id is the ``webhook-id`` the receiver sees, the same on
    every attempt and replay, so a receiver can de-duplicate by it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    rule_id: str
    event_id: str
    event_seq: int
    event_type: EventType
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: Instant
    created_at: Instant
    log: list[Attempt] = Field(default_factory=list, description="the latest attempts")


def delivery_id(event_id: str, rule_id: str) -> str:
    return f"{event_id}.{rule_id}"


def last_attempt(d: Delivery) -> datetime | None:
    return d.log[-1].at if d.log else None
