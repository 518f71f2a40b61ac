"""The store port: what every store (embedded, Neo4j) must do, and the shapes it returns.

The contract test suite is written against this Protocol only, parametrized by store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field

from cmdb.domain.changeset import ApplyResult, ChangeSet
from cmdb.domain.events import Delivery, Event, WebhookRule
from cmdb.domain.history import HistoryEntry
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import CI, LifecycleStatus, Relationship, Sighting, relationship_id
from cmdb.domain.proposals import Proposal, ProposalState
from cmdb.domain.records import Change, DiscoveryRun, Incident, Problem
from cmdb.domain.relationships import REGISTRY, get_type


class Direction(StrEnum):
    OUT = "out"  # follow source -> target
    IN = "in"  # follow target -> source
    BOTH = "both"


class DocumentKind(StrEnum):
    """What ``iter_documents`` reads."""

    CI = "ci"
    REL = "rel"  # relationships, retired ones too


class CIFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ci_class: str | None = Field(default=None, description="includes subclasses")
    status: list[LifecycleStatus] | None = None
    environment: str | None = None
    owner: str | None = None
    location: str | None = None
    name: str | None = Field(default=None, description="exact name")
    name_contains: str | None = Field(
        default=None,
        description="any case; orders the page best match first (cmdb/store/search.py)",
    )
    source: str | None = Field(default=None, description="seen by this source")


class Page(BaseModel):
    items: list[CI]
    next_cursor: str | None = None


class RelPage(BaseModel):
    items: list[Relationship]
    next_cursor: str | None = None


class Neighbour(BaseModel):
    relationship: Relationship
    ci: CI
    direction: Direction  # OUT: ci is the target; IN: ci is the source


class Link(NamedTuple):
    """An active relationship by its ends alone (a brief subgraph's edges), ordered by
    (type, source, target)."""

    type: str
    source_id: str
    target_id: str

    @property
    def id(self) -> str:
        # Follows from the type and ends, so a walk that never shows it never hashes it
        # (a sha256 per edge was a tenth of a change impact at 100k CIs).
        return relationship_id(self.type, self.source_id, self.target_id)


class Subgraph(BaseModel):
    """Nodes and the edges between them, reached from ``roots`` within the caps.

    A brief subgraph (``GraphStore.subgraph(brief=True)``) has ``links`` instead of
    ``edges`` (left empty), and CIs that may lack ``sources``, ``provenance``,
    ``identifiers`` and ``agreements``."""

    roots: list[str]
    nodes: dict[str, CI]
    edges: list[Relationship]
    depth_reached: int
    truncated_by_depth: bool = False
    truncated_by_nodes: bool = False
    links: list[Link] = Field(default_factory=list)

    def ends(self) -> list[Link]:
        """Every active edge by its ends, from ``edges`` or from ``links``, in the links'
        order."""
        if self.links:
            return self.links
        return sorted(Link(e.type, e.source_id, e.target_id) for e in self.edges if e.active)


def briefed(sub: Subgraph) -> Subgraph:
    """``sub`` as a brief subgraph: its edges as links (its CIs kept whole), for a store
    whose path to the answer has no cheaper brief form (the as-of walks)."""
    return sub.model_copy(update={"edges": [], "links": sorted(sub.ends())})


class SightingHit(BaseModel):
    """A CI and one source's sighting of it."""

    ci_id: str
    ci_class: str
    sighting: Sighting


class Counts(BaseModel):
    by_class: dict[str, int]
    by_status: dict[str, int]
    relationships_by_type: dict[str, int]


class SnapshotBatch(BaseModel):
    """Rows of an exported CMDB restored as they were (ids, times and history kept)."""

    cis: list[CI] = Field(default_factory=list)
    relationships: list[Relationship] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    incidents: list[Incident] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    # Added by the snapshot import through save_proposal (``restore`` leaves them).
    proposals: list[Proposal] = Field(default_factory=list)


class GraphStore(Protocol):
    """The CMDB's persistence contract."""

    kind: str

    def apply(self, changeset: ChangeSet) -> ApplyResult:
        """Apply every operation or none; record history for every field that changed.
        With a ``guard``: WriteConflict, and nothing written, unless the guard's counter
        still holds its ``expect`` (then it moves on, in the same transaction)."""
        ...

    def guard_value(self, name: str) -> int:
        """A guard's counter as committed now (0 before its first guarded write)."""
        ...

    def get_ci(self, ci_id: str, *, as_of: datetime | None = None) -> CI:
        """The CI now, or as it was at ``as_of``; NotFound if it did not exist."""
        ...

    def get_cis(self, ids: Iterable[str]) -> dict[str, CI]:
        """The CIs now, by id, in one read (chunked); an id no CI has is absent. For a
        caller that names many CIs at once (a proposal's edits), where ``get_ci`` per id
        would cost a round trip each."""
        ...

    def find_by_identifier(self, identifier: Identifier) -> list[CI]: ...

    def find_by_identifiers(self, identifiers: Iterable[Identifier]) -> dict[Identifier, list[CI]]:
        """Every CI holding each identifier (any kind), ordered by id; an identifier no CI
        holds is absent. Batched (one query per chunk): what discovery identifies with."""
        ...

    def list_sightings(self, source: str) -> dict[str, SightingHit]:
        """Every CI ``source`` has a sighting on, by id, with its class: one scan, without
        validating whole CI documents. A discovery run finds its unchanged records in it
        (by digest) and, afterwards, the CIs it did not see."""
        ...

    def list_cis(
        self, flt: CIFilter | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page:
        """CIs passing ``flt``, a page at a time, ordered by id; with ``name_contains``,
        best match first (cmdb/store/search.py). The cursor is the last id given."""
        ...

    def iter_documents(self, kind: DocumentKind, *, batch: int = 10_000) -> Iterator[str]:
        """Every stored CI, or every relationship (retired ones too), as the JSON text of
        its document (the model's by-alias dump the store wrote), in id order, read a
        batch at a time: for copying a store out (a snapshot) without decoding and
        encoding every model again."""
        ...

    def get_relationship(self, rel_id: str, *, as_of: datetime | None = None) -> Relationship: ...

    def get_relationships(self, ids: Iterable[str]) -> dict[str, Relationship]:
        """The relationships now (retired ones too), by id, in one read; an id no
        relationship has is absent. ``get_relationship`` for many ids at once."""
        ...

    def list_relationships(
        self,
        *,
        type_name: str | None = None,
        include_retired: bool = False,
        limit: int = 1000,
        cursor: str | None = None,
    ) -> RelPage: ...

    def neighbours(
        self,
        ci_id: str,
        *,
        direction: Direction = Direction.BOTH,
        types: Iterable[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[Neighbour]: ...

    def neighbours_of(self, ci_ids: Iterable[str]) -> dict[str, list[Neighbour]]:
        """``neighbours(ci_id)`` (both ways, every type, now) for each CI, in two reads
        whatever their number (the relationships touching them, then the CIs at the
        other ends); an id no CI has is absent."""
        ...

    def subgraph(
        self,
        roots: Iterable[str],
        *,
        direction: Direction = Direction.OUT,
        types: Iterable[str] | None = None,
        max_depth: int = 6,
        max_nodes: int = 10_000,
        as_of: datetime | None = None,
        walk: Mapping[str, Direction] | None = None,
        leaves: Mapping[str, Direction] | None = None,
        brief: bool = False,
    ) -> Subgraph:
        """CIs reached from ``roots`` breadth-first, nearest first, within the caps, and
        every active edge of the walked types between two of them.

        ``walk`` (optional) names a direction per relationship type: each type is followed
        only its own way (OUT, IN or BOTH), in one walk, and ``direction``/``types`` are
        ignored. A failure's reach is such a walk: against DEPENDS_ON, along MEMBER_OF.

        ``leaves`` (only with ``walk``): from every CI the walk reached, one more step along
        these types and directions; the CIs found there join the answer but are not walked
        from and add no depth (the other members of a reached cluster). They fill what
        ``max_nodes`` leaves after the walk's own CIs (which they never displace); if they
        do not all fit, ``truncated_by_nodes`` is set. Edges returned are those of the
        ``walk`` and ``leaves`` types between two CIs of the answer.

        ``truncated_by_depth``: a CI at ``max_depth`` has a walkable edge to a CI the walk
        did not reach; ``truncated_by_nodes``: ``max_nodes`` cut the answer short.

        ``brief``: for a caller that only walks the answer (the impact engine): the same
        CIs and edges, but each edge as a :class:`Link` in ``links`` (sorted by id;
        ``edges`` left empty) and each CI possibly without ``sources``, ``provenance``,
        ``identifiers`` and ``agreements`` (reading one raises AttributeError, never a
        wrong empty value). Those are most of what a CI document holds; leaving them and
        the relationship documents unread halves the store's part of an impact query.
        """
        ...

    def history(self, entity_id: str) -> list[HistoryEntry]: ...

    def iter_history(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[HistoryEntry]: ...

    def counts(self) -> Counts: ...

    def get_change(self, change_id: str) -> Change: ...

    def list_changes(self, *, ci_id: str | None = None) -> list[Change]: ...

    def get_incident(self, incident_id: str) -> Incident: ...

    def list_incidents(
        self,
        *,
        ci_id: str | None = None,
        open_only: bool = False,
        resolved_since: datetime | None = None,
    ) -> list[Incident]:
        """Incidents by id; with ``ci_id``, those naming it; ``open_only``: in state open;
        ``resolved_since``: without those resolved before it (``cmdb.store.recent``), which
        are not read at all, so a question about this month does not read every year."""
        ...

    def get_problem(self, problem_id: str) -> Problem: ...

    def list_problems(self, *, ci_id: str | None = None) -> list[Problem]:
        """Problems by id; with ``ci_id``, those naming it (at fault, or a service affected)."""
        ...

    def get_run(self, run_id: str) -> DiscoveryRun: ...

    def list_runs(
        self, *, source: str | None = None, scope: str | None = None, limit: int = 50
    ) -> list[DiscoveryRun]:
        """Discovery runs, newest (by start) first; ``None`` filters nothing."""
        ...

    def restore(self, batch: SnapshotBatch) -> None:
        """Load exported rows unchanged; only into a store that does not hold them yet."""
        ...

    def is_empty(self) -> bool: ...

    # -- the outbox and webhooks (cmdb/domain/events.py) -------------------------------
    def read_events(self, *, after_seq: int = 0, limit: int = 100) -> list[Event]:
        """Events ``apply`` wrote with their changes, in commit order, after ``after_seq``."""
        ...

    def get_event(self, event_id: str) -> Event: ...

    def last_event_seq(self) -> int:
        """At least the seq of every event committed so far (0 for none): an event
        committed later has a greater one."""
        ...

    def save_webhook_rule(self, rule: WebhookRule) -> None:
        """Create or replace the rule with this id."""
        ...

    def get_webhook_rule(self, rule_id: str) -> WebhookRule: ...

    def list_webhook_rules(self) -> list[WebhookRule]:
        """Every rule, by id."""
        ...

    def delete_webhook_rule(self, rule_id: str) -> None:
        """The rule and its deliveries; NotFound if there is no such rule."""
        ...

    def queue_deliveries(self, deliveries: list[Delivery], *, cursor: str, seq: int) -> int:
        """In one transaction: add each delivery not already stored (an existing one is
        kept as it is) and move the named outbox cursor to ``seq``. Returns how many were
        added. A worker that dies between reading events and this call reads them again."""
        ...

    def outbox_cursor(self, name: str) -> int:
        """The last event seq the named cursor has been moved to (0 at first)."""
        ...

    def save_delivery(self, delivery: Delivery) -> None:
        """Create or replace the delivery with this id (an attempt's outcome, a replay)."""
        ...

    def get_delivery(self, delivery_id: str) -> Delivery: ...

    def due_deliveries(self, now: datetime, *, limit: int = 100) -> list[Delivery]:
        """Pending deliveries whose next attempt is at or before ``now``, oldest event first."""
        ...

    def claim_due(self, now: datetime, *, until: datetime, limit: int = 10) -> list[Delivery]:
        """Take up to ``limit`` due deliveries (as ``due_deliveries``) in one transaction:
        each one's next attempt moves to ``until``, so no other worker takes it meanwhile,
        and one that dies holding it lets it come due again then. Concurrent claims get
        disjoint deliveries. Returned as claimed (next attempt ``until``)."""
        ...

    def list_deliveries(self, rule_id: str, *, limit: int = 50) -> list[Delivery]:
        """One rule's deliveries, newest event first."""
        ...

    def purge_outbox(self, *, upto_seq: int, finished_before: datetime) -> tuple[int, int]:
        """Retention: delete the deliveries of events up to ``upto_seq`` that are done
        (delivered or failed) and finished before ``finished_before`` (their
        ``next_attempt_at``), then the events up to ``upto_seq`` that no delivery is left
        for; (events, deliveries) deleted. A pending delivery, and its event, stay."""
        ...

    def save_proposal(self, proposal: Proposal) -> None:
        """Add ``proposal`` as its next version (versions are kept, never rewritten);
        WriteConflict unless ``proposal.version`` is the latest stored plus one."""
        ...

    def get_proposal(self, proposal_id: str, *, version: int | None = None) -> Proposal:
        """The latest version, or the one asked for; NotFound if none."""
        ...

    def list_proposals(self, *, state: ProposalState | None = None) -> list[Proposal]:
        """The latest version of every proposal (of those in ``state``), by id."""
        ...

    def proposal_versions(self, proposal_id: str) -> list[Proposal]:
        """Every version, oldest first; NotFound if none."""
        ...

    def close(self) -> None: ...


def split_walk(walk: Mapping[str, Direction]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A per-type walk as (types followed source -> target, types followed target -> source),
    each a registry name (``get_type`` rejects anything else), in registry order."""
    along: set[str] = set()
    against: set[str] = set()
    for name, way in walk.items():
        t = get_type(name).name
        way = Direction(way)
        if way in (Direction.OUT, Direction.BOTH):
            along.add(t)
        if way in (Direction.IN, Direction.BOTH):
            against.add(t)
    return tuple(t for t in REGISTRY if t in along), tuple(t for t in REGISTRY if t in against)
