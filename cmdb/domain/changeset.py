"""Change sets: the one way anything is written to a store, atomically.

A change set carries who, from which source, in which run and request, and batches of CI
and relationship upserts and retirements. A store applies all of it or none of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import Criticality, LifecycleStatus, Redundancy, storable_attributes
from cmdb.domain.proposals import Proposal
from cmdb.domain.records import Change, ChangeState, DiscoveryRun, Incident, Problem
from cmdb.domain.service import Agreement, ServiceDetails


class CIRef(BaseModel):
    """Points at a CI by id or by one unique identifier (what discovery knows)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = None
    identifier: Identifier | None = None

    @model_validator(mode="after")
    def _one(self) -> CIRef:
        if (self.id is None) == (self.identifier is None):
            raise ValueError("a CI reference needs exactly one of id or identifier")
        if self.identifier is not None and not self.identifier.unique:
            raise ValueError(
                f"{self.identifier.kind.value} is not unique; refer by id or a unique identifier"
            )
        return self

    def __str__(self) -> str:
        return self.id if self.id is not None else str(self.identifier)


class CIUpsert(BaseModel):
    """Create or update one CI.

    Only the fields given are written (``model_fields_set``): a discovery source that knows
    the OS but not the owner leaves the owner alone. ``attributes`` merge key by key (a key
    set to null removes it); ``identifiers`` are added to the CI's set.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = None
    ci_class: str = Field(alias="class")
    name: str = Field(min_length=1, max_length=512)
    description: str | None = None
    status: LifecycleStatus | None = None
    owner: str | None = None
    location: str | None = None
    version: str | None = None
    environment: str | None = None
    criticality: Criticality | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    redundancy: Redundancy | None = None
    service: ServiceDetails | None = None
    agreements: list[Agreement] | None = None
    # A digest of the discovery record this upsert comes from, kept in the source's sighting.
    content_hash: str | None = None

    _storable = field_validator("attributes")(storable_attributes)

    @model_validator(mode="after")
    def _identifiable(self) -> CIUpsert:
        if self.id is None and not any(i.unique for i in self.identifiers):
            raise ValueError(
                "a CI upsert needs an id or a unique identifier "
                "(serial, fqdn, mac, cloud_id, k8s_uid, purl, asset_tag, key)"
            )
        return self


class CIRetire(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: CIRef
    status: LifecycleStatus = LifecycleStatus.WITHDRAWN

    @model_validator(mode="after")
    def _retiring(self) -> CIRetire:
        if self.status not in (LifecycleStatus.WITHDRAWN, LifecycleStatus.DISPOSED):
            raise ValueError("retire to withdrawn or disposed")
        return self


class RelUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    source: CIRef
    target: CIRef
    confidence: float | None = Field(default=None, ge=0, le=1)
    attributes: dict[str, Any] = Field(default_factory=dict)

    _storable = field_validator("attributes")(storable_attributes)


class RelRetire(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    source: CIRef
    target: CIRef


class Precedence(BaseModel):
    """Which sources own which fields: per field key, sources in authority order, highest first.

    A key is a field name (``owner``), ``attributes.<key>``, or ``attributes.*`` for every
    attribute not named; ``default`` ranks the sources for anything else. A source not
    listed ranks below every listed one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    owners: dict[str, list[str]] = Field(default_factory=dict)
    default: list[str] = Field(default_factory=list)

    def ranking(self, field_key: str) -> list[str]:
        found = self.owners.get(field_key)
        if found is None and field_key.startswith("attributes."):
            found = self.owners.get("attributes.*")
        return self.default if found is None else found

    def rank(self, field_key: str, source: str) -> int | None:
        """0 for the highest authority; None for a source the policy does not list."""
        order = self.ranking(field_key)
        return order.index(source) if source in order else None


class Touch(BaseModel):
    """The source saw this CI again and nothing it says about it changed: sighting only."""

    model_config = ConfigDict(extra="forbid")
    ref: CIRef
    content_hash: str | None = None


class Miss(BaseModel):
    """A successful run of the source did not see this CI: one more missed run."""

    model_config = ConfigDict(extra="forbid")
    ref: CIRef
    stale_after: int = Field(ge=1, description="missed runs after which the CI is stale")


class Guard(BaseModel):
    """Apply only while the store's counter ``name`` still holds ``expect``, and move it on:
    an optimistic check made in the write's own transaction, for a use case that reads,
    decides and then writes (alert correlation), so that of two processes deciding on the
    same reading only the first writes; the other reads again (``WriteConflict``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_.\-]{0,63}$")
    expect: int = Field(ge=0)


class ExpectRel(BaseModel):
    """A relationship by its ends, expected active (or not: retired or missing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    source_id: str
    target_id: str
    active: bool


FINDINGS_CAP = 200  # the findings a run's event lists; the totals count them all


class UnauthorisedFinding(BaseModel):
    """A value discovery changed with no approved change behind it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ci_id: str
    name: str
    field: str
    before: Any = None
    after: Any = None
    why: str = ""
    change_id: str | None = None


class StaleFinding(BaseModel):
    """A CI the run marked stale (unseen for ``missed_runs`` successful runs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ci_id: str
    name: str
    missed_runs: int


class RunFindings(BaseModel):
    """What a finished discovery run found, for its ``discovery_run.finished`` event: the
    first ``FINDINGS_CAP`` of each list and the totals. Not stored (the run's report is)."""

    model_config = ConfigDict(extra="forbid")
    unauthorised: list[UnauthorisedFinding] = Field(default_factory=list)
    unauthorised_total: int = Field(default=0, ge=0)
    stale: list[StaleFinding] = Field(default_factory=list)
    stale_total: int = Field(default=0, ge=0)


class ChangeSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1)
    source: str = Field(min_length=1, description="who vouches for the data: a feed or 'manual'")
    run_id: str | None = None
    request_id: str | None = None
    observed_at: datetime | None = Field(
        default=None, description="when the source saw this; the store's clock if absent"
    )
    ci_upserts: list[CIUpsert] = Field(default_factory=list)
    ci_retires: list[CIRetire] = Field(default_factory=list)
    rel_upserts: list[RelUpsert] = Field(default_factory=list)
    rel_retires: list[RelRetire] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    incidents: list[Incident] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    # Discovery: where the source looked, whose word wins per field, and the bookkeeping
    # of a run (CIs seen unchanged, CIs not seen, the run record itself).
    scope: str | None = None
    precedence: Precedence | None = None
    touches: list[Touch] = Field(default_factory=list)
    misses: list[Miss] = Field(default_factory=list)
    runs: list[DiscoveryRun] = Field(default_factory=list)
    guard: Guard | None = None
    findings: RunFindings | None = None  # with ``runs``: for the finished run's event
    # Why, into every history row of the batch (a merged proposal: its RFC and version).
    reason: str | None = Field(default=None, max_length=200)
    # Apply only while these are as the writer read them, checked in the write's own
    # transaction (WriteConflict otherwise): a CI's updated_at, a relationship's being
    # active (a missing one is not). What a merge decided on cannot move under it.
    expect_cis: dict[str, datetime] = Field(default_factory=dict)
    expect_rels: list[ExpectRel] = Field(default_factory=list)
    # ... and while each change record (by id) is in the state the writer read: a merge
    # decided on its RFC being implemented, and a transition landing in between must not
    # slip past it.
    expect_changes: dict[str, ChangeState] = Field(default_factory=dict)
    # Proposal versions added in the same transaction (each the latest stored plus one,
    # else WriteConflict and nothing written): a merge's graph edits and its "merged" mark
    # are one write, so a crash leaves neither or both.
    proposals: list[Proposal] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.ci_upserts
            or self.ci_retires
            or self.rel_upserts
            or self.rel_retires
            or self.changes
            or self.incidents
            or self.problems
            or self.touches
            or self.misses
            or self.runs
            or self.proposals
        )


class ApplyResult(BaseModel):
    """What a change set did: ids by position, and counts a run report shows."""

    ci_ids: list[str] = Field(default_factory=list, description="one per ci_upsert, in order")
    rel_ids: list[str] = Field(default_factory=list, description="one per rel_upsert, in order")
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    rels_created: int = 0
    rels_updated: int = 0
    rels_retired: int = 0
    history_rows: int = 0
    skipped_fields: int = Field(
        default=0, description="fields not written: an owner outranks the source, or is newer"
    )
    touched: int = 0
    marked_stale: int = 0
