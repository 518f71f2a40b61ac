"""What the REST API reads and writes: ``...In`` bodies and ``...Out`` answers.

``...In`` models forbid unknown fields and never carry what the server owns (id,
created_at, created_by, sources, provenance): a client that sends one gets 422 naming it.
``...Out`` models are the domain models as stored, under their API names, so the OpenAPI
schema documents exactly what the store keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cmdb.domain.classes import check_class
from cmdb.domain.errors import InvalidInput
from cmdb.domain.history import HistoryEntry
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import CI, Criticality, LifecycleStatus, Redundancy, Relationship
from cmdb.domain.records import DiscoveryRun
from cmdb.domain.service import SLA, Agreement, PortfolioState, ServiceDetails, ServiceKind
from cmdb.practice.agreements import ServiceAgreements
from cmdb.store.contract import Counts, Direction
from discovery.reconcile.report import RunReport


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _identifiers(value: Any) -> Any:
    """Identifiers as objects ({"kind": ..., "value": ...}) or as typed: "serial=SN-1"."""
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, str):
            try:
                out.append(Identifier.parse(item))
            except InvalidInput as exc:
                raise ValueError(exc.message) from exc
        else:
            out.append(item)
    return out


class CIIn(_In):
    """A CI to create, or to update when its identifiers point at an existing one (like
    ``cmdb ci add``): without a unique identifier it gets ``key=<class>:<name>``."""

    ci_class: str = Field(alias="class", description="a concrete CI class, e.g. Server")
    name: str = Field(min_length=1, max_length=512)
    description: str | None = None
    status: LifecycleStatus | None = None
    owner: str | None = None
    location: str | None = None
    version: str | None = None
    environment: str | None = None
    criticality: Criticality | None = None
    identifiers: list[Identifier] = Field(
        default_factory=list, description='objects, or "kind=value" strings'
    )
    attributes: dict[str, Any] = Field(default_factory=dict)
    redundancy: Redundancy | None = None
    service: ServiceDetails | None = None
    agreements: list[Agreement] | None = None

    @field_validator("identifiers", mode="before")
    @classmethod
    def _typed_identifiers(cls, v: Any) -> Any:
        return _identifiers(v)

    @field_validator("ci_class")
    @classmethod
    def _known_class(cls, v: str) -> str:
        try:
            return check_class(v)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc


class CIPatchIn(_In):
    """The fields to change; fields not sent stay as they are. ``attributes`` merge key by
    key (null removes a key); ``identifiers`` are added."""

    name: str | None = Field(default=None, min_length=1, max_length=512)
    description: str | None = None
    status: LifecycleStatus | None = None
    owner: str | None = None
    location: str | None = None
    version: str | None = None
    environment: str | None = None
    criticality: Criticality | None = None
    identifiers: list[Identifier] | None = None
    attributes: dict[str, Any] | None = None
    redundancy: Redundancy | None = None
    service: ServiceDetails | None = None
    agreements: list[Agreement] | None = None

    @field_validator("identifiers", mode="before")
    @classmethod
    def _typed_identifiers(cls, v: Any) -> Any:
        return _identifiers(v)

    @field_validator("name", "identifiers", "attributes")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        # Sent as null: a CI always has a name, and these two only ever add or merge.
        if v is None:
            raise ValueError("may not be null")
        return v


class RelationshipIn(_In):
    """``source`` and ``target`` as CI references (id, kind=value or unique name); ``type``
    a type (DEPENDS_ON) or a phrase either way ("runs on", "hosts": ends swapped)."""

    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    target: str = Field(min_length=1)
    confidence: float | None = Field(default=None, ge=0, le=1)
    attributes: dict[str, Any] = Field(default_factory=dict)


class CIOut(CI):
    """A CI as the CMDB holds it."""

    model_config = ConfigDict(**CI.model_config, from_attributes=True)


class RelationshipOut(Relationship):
    """A relationship as the CMDB holds it (retired ones keep ``status: retired``)."""

    model_config = ConfigDict(**Relationship.model_config, from_attributes=True)


class HistoryEntryOut(HistoryEntry):
    """One field's change: who, when, from which source and request."""

    model_config = ConfigDict(**HistoryEntry.model_config, from_attributes=True)


class CIPageOut(BaseModel):
    items: list[CIOut]
    next_cursor: str | None = None


class RelPageOut(BaseModel):
    items: list[RelationshipOut]
    next_cursor: str | None = None


Outcome = Literal["created", "updated", "unchanged", "retired"]


class CIWriteOut(BaseModel):
    outcome: Outcome
    ci: CIOut


class RelWriteOut(BaseModel):
    outcome: Outcome
    relationship: RelationshipOut


class NeighbourOut(BaseModel):
    direction: Direction = Field(description="out: ci is the target; in: ci is the source")
    relationship: RelationshipOut
    ci: CIOut


class SubgraphOut(BaseModel):
    roots: list[str]
    nodes: list[CIOut]
    edges: list[RelationshipOut]
    depth_reached: int
    truncated_by_depth: bool = False
    truncated_by_nodes: bool = False


class CIHistoryOut(BaseModel):
    as_of: datetime | None = None
    ci: CIOut = Field(description="the CI now, or as it was at as_of")
    history: list[HistoryEntryOut]


class HistoryOut(BaseModel):
    entity_id: str
    as_of: datetime | None = None
    history: list[HistoryEntryOut]


class SLAOut(SLA):
    """A service level agreement: hours, targets, allowed interruptions, customers."""

    model_config = ConfigDict(**SLA.model_config, from_attributes=True)


class ServiceOut(BaseModel):
    id: str
    name: str
    status: LifecycleStatus
    owner: str | None = None
    environment: str | None = None
    criticality: Criticality | None = None
    kind: ServiceKind
    portfolio: PortfolioState
    customers: list[str]
    sla: SLAOut | None = None
    agreements: list[Agreement] = Field(default_factory=list)


class ServiceAgreementsOut(ServiceAgreements):
    """A service's SLA and every agreement it rests on, each checked against it."""


class ServicePageOut(BaseModel):
    items: list[ServiceOut]
    next_cursor: str | None = None


class ServiceSLAOut(BaseModel):
    service_id: str
    service_name: str
    sla: SLAOut


class SLAListOut(BaseModel):
    items: list[ServiceSLAOut]


class CountsOut(Counts):
    """CIs by class and by status, active relationships by type."""

    model_config = ConfigDict(**Counts.model_config, from_attributes=True)


class RunOut(DiscoveryRun):
    """A discovery run's record: status, counts, the first problems it met."""

    model_config = ConfigDict(**DiscoveryRun.model_config, from_attributes=True)


class RunListOut(BaseModel):
    items: list[RunOut]


class RunReportOut(RunReport):
    """What a run did (or, dry run, would do), and its summary counts (``totals``)."""

    totals: dict[str, int] = Field(
        default_factory=dict, description="created, updated, unchanged, stale, unresolved, errors"
    )
