"""Configuration items, relationships, and the records that link to them."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import to_jsonable_python

from cmdb.domain.classes import check_class, is_a
from cmdb.domain.identifiers import Identifier
from cmdb.domain.numbers import MAX_INT, MIN_INT
from cmdb.domain.relationships import get_type
from cmdb.domain.service import Agreement, ServiceDetails

JSONValue = Any  # attributes are free JSON per class; see storable_attributes


def _storable(value: Any, where: str) -> None:
    kind = type(value)
    if kind is int:
        if not MIN_INT <= value <= MAX_INT:
            raise ValueError(f"{where}: integers must lie within 64 bits ({MIN_INT}..{MAX_INT})")
    elif kind is dict:
        for key, item in value.items():
            _storable(item, f"{where}.{key}")
    elif kind is list:
        for i, item in enumerate(value):
            _storable(item, f"{where}[{i}]")


def storable_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` if every value is one the stores can keep, else ValueError naming it."""
    for key, value in attributes.items():
        if type(value) in (int, dict, list):  # the common str and float cost one check
            _storable(value, key)
    return attributes


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_ci_id() -> str:
    """A new CI's id: 12 hex digits of the time in milliseconds, then 80 random bits.

    Time first (as UUIDv7 does), so ids made later sort later: each index keyed by a CI id
    (the id itself, its history, its identifiers, the edges from and to it) takes a new
    batch's CIs at its end instead of at random places all over it, where each insert
    dirtied a page of its own that the commit wrote and checkpointed. The random part keeps
    ids as hard to guess, and as unlikely to meet, as a uuid4's."""
    return f"ci_{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def relationship_id(type_name: str, source_id: str, target_id: str) -> str:
    """Deterministic, so the same edge found twice (or by two workers) is one edge."""
    digest = hashlib.sha256(f"{type_name}|{source_id}|{target_id}".encode()).hexdigest()
    return f"rel_{digest[:32]}"


class LifecycleStatus(StrEnum):
    ORDERED = "ordered"
    RECEIVED = "received"
    IN_TEST = "in_test"
    LIVE = "live"
    UNDER_CHANGE = "under_change"
    WITHDRAWN = "withdrawn"
    DISPOSED = "disposed"


RETIRED_STATUSES = frozenset({LifecycleStatus.WITHDRAWN, LifecycleStatus.DISPOSED})


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Sighting(BaseModel):
    """When one source (a discovery feed, a person) saw the CI, and in which run.

    ``scope`` and ``content_hash`` are what the source last said (where it looked, and a
    digest of the record it sent), so a re-run can skip records that did not change.
    ``missed_runs`` counts the source's successful runs of that scope that did not see the
    CI since it was last seen; ``stale`` is set once that count reaches the source's rule.
    """

    model_config = ConfigDict(extra="forbid")
    first_seen: datetime
    last_seen: datetime
    run_id: str | None = None
    scope: str | None = None
    content_hash: str | None = None
    missed_runs: int = Field(default=0, ge=0)
    stale: bool = False


class Provenance(BaseModel):
    """Which source last wrote one field of a CI, and when that source observed it."""

    model_config = ConfigDict(extra="forbid")
    source: str
    observed_at: datetime


class Redundancy(BaseModel):
    """How many members of a cluster must be up for it to be up: a count or a percent."""

    model_config = ConfigDict(extra="forbid")
    min_up: int | None = Field(default=None, ge=1, le=MAX_INT)
    min_up_percent: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _one_of(self) -> Redundancy:
        if (self.min_up is None) == (self.min_up_percent is None):
            raise ValueError("give exactly one of min_up or min_up_percent")
        return self

    def required(self, members: int) -> int:
        """Members that must be up out of ``members`` (percent rounds up: 50% of 3 is 2)."""
        if self.min_up is not None:
            return self.min_up
        assert self.min_up_percent is not None
        needed = -(-members * self.min_up_percent // 100)
        return max(1, int(needed))


# The fields a CI carries besides its identity; the order is the order shown to users.
CI_FIELDS: tuple[str, ...] = (
    "ci_class",
    "name",
    "description",
    "status",
    "owner",
    "location",
    "version",
    "environment",
    "criticality",
    "identifiers",
    "attributes",
    "redundancy",
    "service",
    "agreements",
)


def identifier_set(given: list[Identifier]) -> list[Identifier]:
    """Each (kind, value) once, sorted by kind then value: the order a CI keeps."""
    unique: dict[tuple[str, str], Identifier] = {}
    for ident in given:
        unique.setdefault((ident.kind._value_, ident.value), ident)
    return [unique[k] for k in sorted(unique)]


class CI(BaseModel):
    """A configuration item as the CMDB holds it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    ci_class: str = Field(alias="class")
    name: str = Field(min_length=1, max_length=512)
    description: str = ""
    status: LifecycleStatus = LifecycleStatus.LIVE
    owner: str | None = None
    location: str | None = None
    version: str | None = None
    environment: str | None = None
    criticality: Criticality | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    attributes: dict[str, JSONValue] = Field(default_factory=dict)
    redundancy: Redundancy | None = None
    service: ServiceDetails | None = None
    agreements: list[Agreement] = Field(default_factory=list)
    sources: dict[str, Sighting] = Field(default_factory=dict)
    # Bookkeeping like ``sources``: keyed by field name or ``attributes.<key>``; never part
    # of field_values(), so it creates no history rows.
    provenance: dict[str, Provenance] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("ci_class")
    @classmethod
    def _known_class(cls, v: str) -> str:
        try:
            return check_class(v)
        except Exception as exc:
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _class_rules(self) -> CI:
        if self.redundancy is not None and not is_a(self.ci_class, "Cluster"):
            raise ValueError("only a Cluster declares redundancy (members that must be up)")
        if self.service is not None and not is_a(self.ci_class, "Service"):
            raise ValueError("service details belong to Service CIs only")
        if is_a(self.ci_class, "Service") and self.service is None:
            self.service = ServiceDetails()
        self.identifiers = identifier_set(self.identifiers)
        return self

    def identifier(self, kind: str) -> str | None:
        return next((i.value for i in self.identifiers if i.kind.value == kind), None)

    def label(self) -> str:
        return f"{self.name} ({self.ci_class}, {self.id})"

    def field_values(self) -> dict[str, Any]:
        """The user-visible fields as JSON values: what history records and compares.

        Written out rather than through ``model_dump``: every write computes this for every
        CI it touches, and the generic dump was a third of a batch's planning time. A test
        holds it equal to ``model_dump(mode="json")``.
        """
        return {
            "ci_class": self.ci_class,
            "name": self.name,
            "description": self.description,
            "status": self.status.value,
            "owner": self.owner,
            "location": self.location,
            "version": self.version,
            "environment": self.environment,
            "criticality": None if self.criticality is None else self.criticality.value,
            "identifiers": [{"kind": i.kind.value, "value": i.value} for i in self.identifiers],
            "attributes": to_jsonable_python(self.attributes),
            "redundancy": None if self.redundancy is None else self.redundancy.model_dump(),
            "service": None if self.service is None else self.service.model_dump(mode="json"),
            "agreements": [a.model_dump(mode="json") for a in self.agreements],
        }


class RelationshipStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


REL_FIELDS: tuple[str, ...] = (
    "type",
    "source_id",
    "target_id",
    "status",
    "confidence",
    "attributes",
)


class Relationship(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    source_id: str
    target_id: str
    status: RelationshipStatus = RelationshipStatus.ACTIVE
    confidence: float = Field(default=1.0, ge=0, le=1)
    attributes: dict[str, JSONValue] = Field(default_factory=dict)
    sources: dict[str, Sighting] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        try:
            return get_type(v).name
        except Exception as exc:
            raise ValueError(str(exc)) from exc

    @property
    def active(self) -> bool:
        return self.status is RelationshipStatus.ACTIVE

    def field_values(self) -> dict[str, Any]:
        """As CI.field_values: written out, and held equal to the generic dump by a test."""
        return {
            "type": self.type,
            "source_id": self.source_id,
            "target_id": self.target_id,
            "status": self.status.value,
            "confidence": self.confidence,
            "attributes": to_jsonable_python(self.attributes),
        }
