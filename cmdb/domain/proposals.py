"""What-if proposals: a staged set of edits to the graph, attached to an RFC.

A proposal never touches the live graph: it is a list of edits kept beside it, versioned
(every edit makes a new version, and the versions are kept), and evaluated against the
live graph in memory (``cmdb.app.proposals``). One proposal per change: its id is the
change's id.

Each edit that names a live CI keeps the CI's ``updated_at`` when the edit was made
(``base``), so a later merge can tell whether the live CI changed since.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cmdb.domain.instant import Instant
from cmdb.domain.model import CI, CI_FIELDS, Redundancy


class EditOp(StrEnum):
    ADD_CI = "add_ci"
    UPDATE_CI = "update_ci"
    RETIRE_CI = "retire_ci"
    ADD_REL = "add_rel"
    RETIRE_REL = "retire_rel"
    SET_REDUNDANCY = "set_redundancy"


# The fields an update may set: a CI's own fields, not its identity (class, identifiers)
# nor what has an edit of its own (redundancy) or a shape of its own (service details).
UPDATABLE: frozenset[str] = frozenset(CI_FIELDS) - {
    "ci_class",
    "identifiers",
    "redundancy",
    "service",
}

# What each operation needs, and nothing else: an edit's shape is checked by its op.
_NEEDS: dict[EditOp, frozenset[str]] = {
    EditOp.ADD_CI: frozenset({"ci"}),
    EditOp.UPDATE_CI: frozenset({"ci_id", "fields"}),
    EditOp.RETIRE_CI: frozenset({"ci_id"}),
    EditOp.ADD_REL: frozenset({"type", "source_id", "target_id"}),
    EditOp.RETIRE_REL: frozenset({"type", "source_id", "target_id"}),
    EditOp.SET_REDUNDANCY: frozenset({"ci_id"}),
}
_ALLOWED: dict[EditOp, frozenset[str]] = {
    **_NEEDS,
    EditOp.SET_REDUNDANCY: frozenset({"ci_id", "redundancy"}),
}
_OPTIONAL = frozenset({"op", "base"})


class Edit(BaseModel):
    """One staged edit. ``ci`` (add_ci) is the whole new CI, its id chosen when staged;
    ``fields`` (update_ci) the fields to set; ``redundancy`` (set_redundancy) the cluster's
    new quorum (none: needs every member)."""

    model_config = ConfigDict(extra="forbid")

    op: EditOp
    ci: CI | None = None
    ci_id: str | None = None
    fields: dict[str, Any] | None = None
    redundancy: Redundancy | None = None
    type: str | None = None
    source_id: str | None = None
    target_id: str | None = None
    base: datetime | None = Field(
        default=None, description="the live CI's updated_at when the edit was staged"
    )

    @model_validator(mode="after")
    def _shape(self) -> Edit:
        given = {f for f in self.model_fields_set if getattr(self, f) is not None}
        missing = sorted(_NEEDS[self.op] - given)
        if missing:
            raise ValueError(f"{self.op.value} needs {', '.join(missing)}")
        extra = sorted(given - _ALLOWED[self.op] - _OPTIONAL)
        if extra:
            raise ValueError(f"{self.op.value} takes no {', '.join(extra)}")
        if self.fields is not None:
            unknown = sorted(set(self.fields) - UPDATABLE)
            if unknown:
                raise ValueError(
                    f"update_ci cannot set {', '.join(unknown)}"
                    f" (it sets {', '.join(sorted(UPDATABLE))})"
                )
            if not self.fields:
                raise ValueError("update_ci needs at least one field")
        return self

    def touches(self) -> list[str]:
        """The CIs this edit names (a new CI by its staged id)."""
        if self.op is EditOp.ADD_CI:
            assert self.ci is not None
            return [self.ci.id]
        if self.ci_id is not None:
            return [self.ci_id]
        return [x for x in (self.source_id, self.target_id) if x is not None]

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """In words; ``names`` (id -> name) shows CIs by name instead of id."""

        def n(ci_id: str | None) -> str:
            return (names or {}).get(ci_id or "", ci_id or "?")

        if self.op is EditOp.ADD_CI:
            assert self.ci is not None
            return f"add {self.ci.ci_class} {self.ci.name} ({self.ci.id})"
        if self.op is EditOp.UPDATE_CI:
            return f"update {n(self.ci_id)}: {', '.join(sorted(self.fields or {}))}"
        if self.op is EditOp.RETIRE_CI:
            return f"retire {n(self.ci_id)}"
        if self.op is EditOp.SET_REDUNDANCY:
            r = self.redundancy
            need = (
                "every member"
                if r is None
                else f"{r.min_up} up"
                if r.min_up is not None
                else f"{r.min_up_percent}% up"
            )
            return f"redundancy of {n(self.ci_id)}: {need}"
        verb = "add" if self.op is EditOp.ADD_REL else "retire"
        return f"{verb} {n(self.source_id)} -[{self.type}]-> {n(self.target_id)}"


class ProposalState(StrEnum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"


class Proposal(BaseModel):
    """One version of a change's proposal; the store keeps every version."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the change's id: one proposal per RFC")
    version: int = Field(ge=1)
    state: ProposalState = ProposalState.OPEN
    edits: list[Edit] = Field(default_factory=list)
    note: str = Field(default="", description="what this version did")
    author: str = ""
    at: Instant

    @property
    def change_id(self) -> str:
        return self.id

    def touches(self) -> set[str]:
        return {i for e in self.edits for i in e.touches()}
