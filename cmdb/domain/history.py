"""History rows: every change to a CI or relationship, append-only."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class EntityKind(StrEnum):
    CI = "ci"
    REL = "rel"
    CHANGE = "change"
    INCIDENT = "incident"
    PROBLEM = "problem"


class HistoryOp(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RETIRE = "retire"


class HistoryEntry(BaseModel):
    """One field's change. A create carries every field, so replay can rebuild the entity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    entity_kind: EntityKind
    entity_id: str
    op: HistoryOp
    field: str
    before: Any = None
    after: Any = None
    actor: str
    source: str
    run_id: str | None = None
    request_id: str | None = None
    at: datetime
    # Why, beyond who and from where: a merged proposal's RFC and version.
    reason: str | None = None
