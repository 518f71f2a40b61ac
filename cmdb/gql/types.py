# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""The CI interface, one GraphQL type per CI class, and the records around CIs.

The types come from the declared model, not from a hand-kept list: one type per concrete
class of ``cmdb.domain.classes`` (``Server``, ``Database``, ...), an interface per
abstract class (``CI`` for the root, ``Compute``, ``Party``), and on the ``CI`` interface
a field per relationship *phrase* of the registry, both ways (``dependsOn`` / ``usedBy``,
``runsOn`` / ``runs``, ...). A CI object carries the instant it was read at (``as_of``):
its relationship fields and history answer for the same instant unless asked otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from cmdb.app.scope import Visibility, readable, seen
from cmdb.domain.classes import ABSTRACT, ROOT, all_classes, concrete_classes, lineage
from cmdb.domain.errors import InvalidInput
from cmdb.domain.history import EntityKind, HistoryOp
from cmdb.domain.model import CI, Criticality, LifecycleStatus, RelationshipStatus
from cmdb.domain.records import ChangeState, ChangeType, IncidentState
from cmdb.domain.relationships import REGISTRY, ImpactFlow, RelationshipType
from cmdb.domain.service import AgreementKind, PortfolioState, Priority, ServiceKind
from cmdb.gql.agreements import ServiceAgreementsType, service_agreement_check
from cmdb.gql.alerts import IncidentAlerts
from cmdb.gql.context import GqlContext
from cmdb.gql.loaders import Hop
from cmdb.gql.practice import ChangePractice, IncidentPractice
from cmdb.practice.scoped import Rec
from cmdb.store.contract import Direction

if TYPE_CHECKING:
    from cmdb.gql.problems import ProblemType

GInfo = Info[GqlContext, None]

# How deep one relationship field may walk (one store call per level of a query anyway;
# this bounds what a single field can read).
MAX_FIELD_DEPTH = 6

strawberry.enum(LifecycleStatus, name="LifecycleStatus")
strawberry.enum(Criticality, name="Criticality")
strawberry.enum(Direction, name="Direction")
strawberry.enum(RelationshipStatus, name="RelationshipStatus")
strawberry.enum(EntityKind, name="EntityKind")
strawberry.enum(HistoryOp, name="HistoryOp")
strawberry.enum(ChangeType, name="ChangeType")
strawberry.enum(ChangeState, name="ChangeState")
strawberry.enum(IncidentState, name="IncidentState")
strawberry.enum(Priority, name="Priority")
strawberry.enum(ServiceKind, name="ServiceKind")
strawberry.enum(PortfolioState, name="PortfolioState")
strawberry.enum(AgreementKind, name="AgreementKind")
strawberry.enum(ImpactFlow, name="ImpactFlow")


def camel(phrase: str) -> str:
    """``"depends on"`` -> ``dependsOn``; ``"has team member"`` -> ``hasTeamMember``."""
    words = phrase.replace("_", " ").split()
    return words[0].lower() + "".join(w.capitalize() for w in words[1:])


def check_depth(depth: int) -> int:
    if not 1 <= depth <= MAX_FIELD_DEPTH:
        raise InvalidInput(f"depth must be between 1 and {MAX_FIELD_DEPTH}", where="depth")
    return depth


# -- small value types (duck-typed: the domain objects are returned as they are) ---------


@strawberry.type(name="Identifier")
class IdentifierType:
    kind: str
    value: str


@strawberry.type(name="Sighting", description="When one source last saw the CI.")
class SightingType:
    source: str
    first_seen: datetime
    last_seen: datetime
    run_id: str | None
    scope: str | None
    missed_runs: int
    stale: bool


@strawberry.type(name="Agreement", description="An OLA or a supplier contract on a CI.")
class AgreementType:
    kind: AgreementKind
    name: str
    party: str
    availability_target: float | None
    response_minutes: JSON
    resolution_minutes: JSON


@strawberry.type(name="Redundancy", description="Members of a cluster that must be up.")
class RedundancyType:
    min_up: int | None
    min_up_percent: float | None


@strawberry.type(name="AllowedInterruptions")
class AllowedInterruptionsType:
    per_month: int
    max_minutes: int
    notice_hours: int
    kinds: list[str]


@strawberry.type(name="SLA", description="A service level agreement of one service.")
class SLAType:
    name: str
    availability_target: float
    service_hours: JSON = strawberry.field(
        description="timezone, weekly hours and exceptions (holidays, critical days)"
    )
    response_minutes: JSON = strawberry.field(description="per priority P1..P4")
    resolution_minutes: JSON = strawberry.field(description="per priority P1..P4")
    scheduled_interruptions: AllowedInterruptionsType
    customers: list[str]


@strawberry.type(name="HistoryEntry", description="One field's change; history is append-only.")
class HistoryEntryType:
    seq: int
    entity_kind: EntityKind
    entity_id: str
    op: HistoryOp
    field: str
    before: JSON | None
    after: JSON | None
    actor: str
    source: str
    run_id: str | None
    request_id: str | None
    at: datetime
    reason: str | None = strawberry.field(
        default=None, description="why: a merged proposal's RFC and version"
    )


@strawberry.type(name="RelationshipKind", description="A relationship type of the registry.")
class RelationshipKindType:
    name: str
    forward: str
    reverse: str
    impact: ImpactFlow

    @strawberry.field(description="the CI field that follows it source -> target")
    def forward_field(self) -> str:
        return camel(self.forward)

    @strawberry.field(description="the CI field that follows it target -> source")
    def reverse_field(self) -> str:
        return camel(self.reverse)


@strawberry.type(name="Relationship")
class RelType:
    id: strawberry.ID
    type: str
    source_id: str
    target_id: str
    status: RelationshipStatus
    confidence: float
    attributes: JSON
    created_at: datetime | None
    updated_at: datetime | None

    @strawberry.field
    def phrase(self) -> str:
        return REGISTRY[self.type].forward

    @strawberry.field(description="null when outside the caller's scope")
    async def source(self, info: GInfo) -> CIType | None:
        return await _ci_by_id(info, self.source_id, None)

    @strawberry.field(description="null when outside the caller's scope")
    async def target(self, info: GInfo) -> CIType | None:
        return await _ci_by_id(info, self.target_id, None)


@strawberry.type(name="Neighbour", description="A CI one or more relationships away.")
class NeighbourType:
    relationship: RelType
    ci: CIType
    direction: Direction = strawberry.field(description="OUT: ci is the edge's target")
    distance: int


async def _ci_by_id(info: GInfo, ci_id: str, as_of: datetime | None) -> CIType | None:
    ci = await info.context.loaders.ci.load((ci_id, as_of))
    return to_gql(ci, as_of) if ci is not None else None


# -- records -------------------------------------------------------------------------


async def _visible_ids(info: GInfo, ids: list[str]) -> list[str]:
    vis = await info.context.visibility()
    return vis.keep(ids)


@strawberry.type(name="Change", description="A request for change (RFC).")
class ChangeRecordType(ChangePractice):
    id: strawberry.ID
    title: str
    type: ChangeType
    state: ChangeState
    requester: str
    ci_ids: list[str]
    service_ids: list[str]
    planned_start: datetime | None
    planned_end: datetime | None

    @strawberry.field(description="the CIs it changes (those in the caller's scope)")
    async def cis(self, info: GInfo) -> list[CIType]:
        got = [await _ci_by_id(info, i, None) for i in self.ci_ids]
        return [c for c in got if c is not None]


@strawberry.type(name="Incident")
class IncidentType(IncidentPractice, IncidentAlerts):
    id: strawberry.ID
    title: str
    state: IncidentState
    priority: Priority
    ci_ids: list[str]
    service_ids: list[str]
    opened_at: datetime
    resolved_at: datetime | None
    major: bool

    @strawberry.field(description="the CIs it is about (those in the caller's scope)")
    async def cis(self, info: GInfo) -> list[CIType]:
        got = [await _ci_by_id(info, i, None) for i in self.ci_ids]
        return [c for c in got if c is not None]


def scoped_record(rec: Rec, vis: Visibility) -> Any:
    """The record (a change or an incident: the GraphQL type it is shown as) as the caller
    is shown it, only the CI and service ids in its view, or None when it may not read it:
    :func:`cmdb.app.scope.readable`, the one reading rule."""
    if not readable(vis, rec):
        return None
    return seen(vis.ids, rec)


# -- the CI interface and its relationship fields --------------------------------------


async def related_hops(
    info: GInfo,
    ci: CIType,
    direction: Direction,
    types: tuple[str, ...] | None,
    depth: int,
    as_of: datetime | None,
) -> list[Hop]:
    at = as_of if as_of is not None else ci.at
    return await info.context.loaders.related.load(
        (ci.ci.id, direction, types, check_depth(depth), at)
    )


def _relation_field(rtype: RelationshipType, reverse: bool) -> Any:
    phrase = rtype.reverse if reverse else rtype.forward
    direction = Direction.IN if reverse else Direction.OUT
    types = (rtype.name,)

    async def resolve(
        self: CIType,
        info: GInfo,
        depth: Annotated[
            int, strawberry.argument(description=f"hops to follow (1..{MAX_FIELD_DEPTH})")
        ] = 1,
        as_of: Annotated[
            datetime | None, strawberry.argument(description="default: the parent's instant")
        ] = None,
    ) -> list[CIType]:
        hops = await related_hops(info, self, direction, types, depth, as_of)
        at = as_of if as_of is not None else self.at
        seen: dict[str, CI] = {}
        for hop in hops:
            seen.setdefault(hop.ci.id, hop.ci)
        return [to_gql(c, at) for c in seen.values()]

    side = "target -> source" if reverse else "source -> target"
    return strawberry.field(
        resolver=resolve,
        name=camel(phrase),
        description=f'"{phrase}": {rtype.name} followed {side}. With depth > 1, every CI '
        "within that many hops of this one.",
    )


def relationship_field_names() -> dict[str, tuple[str, Direction]]:
    """GraphQL field name -> (relationship type, direction), for both ways of each type."""
    out: dict[str, tuple[str, Direction]] = {}
    for rtype in REGISTRY.values():
        out[camel(rtype.forward)] = (rtype.name, Direction.OUT)
        out[camel(rtype.reverse)] = (rtype.name, Direction.IN)
    return out


def _with_relationship_fields(cls: type[Any]) -> type[Any]:
    names = relationship_field_names()
    clash = set(names) & set(vars(cls))
    if clash or len(names) != 2 * len(REGISTRY):
        raise RuntimeError(f"relationship field names clash: {sorted(clash)}")
    for rtype in REGISTRY.values():
        for reverse in (False, True):
            field = _relation_field(rtype, reverse)
            setattr(cls, camel(rtype.reverse if reverse else rtype.forward), field)
    return cls


@strawberry.interface(
    name="CI",
    description="A configuration item. Each CI class is a type implementing this interface; "
    "relationship fields follow each registry type both ways.",
)
@_with_relationship_fields
class CIType:
    ci: strawberry.Private[CI]
    # The scalars asked for most are plain attributes, copied from the CI by ``to_gql``:
    # a field with a resolver costs Strawberry about half as much again per CI, and a
    # query of thousands of CIs pays it per field.
    id: strawberry.ID
    name: str
    status: LifecycleStatus
    owner: str | None
    location: str | None
    environment: str | None
    at: strawberry.Private[datetime | None] = None

    @strawberry.field(name="class", description="the CI class (see the type name too)")
    def ci_class(self) -> str:
        return self.ci.ci_class

    @strawberry.field(description="the class and its ancestors, most specific first")
    def lineage(self) -> list[str]:
        return list(lineage(self.ci.ci_class))

    @strawberry.field
    def description(self) -> str:
        return self.ci.description

    @strawberry.field
    def version(self) -> str | None:
        return self.ci.version

    @strawberry.field
    def criticality(self) -> Criticality | None:
        return self.ci.criticality

    @strawberry.field
    def identifiers(self) -> list[IdentifierType]:
        return [IdentifierType(kind=i.kind.value, value=i.value) for i in self.ci.identifiers]

    @strawberry.field
    def attributes(self) -> JSON:
        return cast(JSON, self.ci.attributes)

    @strawberry.field
    def agreements(self) -> list[AgreementType]:
        return cast(list[AgreementType], self.ci.agreements)

    @strawberry.field
    def sightings(self) -> list[SightingType]:
        return [
            SightingType(
                source=src,
                first_seen=s.first_seen,
                last_seen=s.last_seen,
                run_id=s.run_id,
                scope=s.scope,
                missed_runs=s.missed_runs,
                stale=s.stale,
            )
            for src, s in sorted(self.ci.sources.items())
        ]

    @strawberry.field
    def created_at(self) -> datetime | None:
        return self.ci.created_at

    @strawberry.field
    def updated_at(self) -> datetime | None:
        return self.ci.updated_at

    @strawberry.field(description="the instant this CI was read at; null: now")
    def as_of(self) -> datetime | None:
        return self.at

    @strawberry.field(description="Relationships of any type(s), either way, with the edge.")
    async def neighbours(
        self,
        info: GInfo,
        direction: Direction = Direction.BOTH,
        types: Annotated[
            list[str] | None,
            strawberry.argument(description="type names (DEPENDS_ON) or phrases"),
        ] = None,
        depth: int = 1,
        as_of: datetime | None = None,
    ) -> list[NeighbourType]:
        from cmdb.domain.relationships import get_type

        names = tuple(sorted({get_type(t, where="types").name for t in types})) if types else None
        hops = await related_hops(info, self, direction, names, depth, as_of)
        at = as_of if as_of is not None else self.at
        return [
            NeighbourType(
                relationship=cast(RelType, h.relationship),
                ci=to_gql(h.ci, at),
                direction=h.direction,
                distance=h.distance,
            )
            for h in hops
        ]

    @strawberry.field(description="Every change to this CI, oldest first (up to asOf).")
    async def history(self, info: GInfo, as_of: datetime | None = None) -> list[HistoryEntryType]:
        rows = await info.context.loaders.history.load(self.ci.id)
        at = as_of if as_of is not None else self.at
        return cast(list[HistoryEntryType], [h for h in rows if at is None or h.at <= at])

    @strawberry.field(description="Change records naming this CI.")
    async def changes(self, info: GInfo) -> list[ChangeRecordType]:
        vis = await info.context.visibility()
        found = [
            scoped_record(c, vis)
            for c in await info.context.loaders.changes()
            if self.ci.id in c.ci_ids or self.ci.id in c.service_ids
        ]
        return [c for c in found if c is not None]

    @strawberry.field(description="Incident records naming this CI.")
    async def incidents(self, info: GInfo, open_only: bool = False) -> list[IncidentType]:
        vis = await info.context.visibility()
        naming = await info.context.loaders.incidents_naming.load((self.ci.id, open_only))
        found = [scoped_record(i, vis) for i in naming]
        return [i for i in found if i is not None]

    @strawberry.field(description="Problem records naming this CI (at fault, or affected).")
    async def problems(
        self, info: GInfo
    ) -> list[Annotated[ProblemType, strawberry.lazy("cmdb.gql.problems")]]:
        # cmdb.gql.problems builds on this module: imported when first asked.
        from cmdb.gql.problems import problems_naming

        return await problems_naming(info.context, self.ci.id)


# -- class-specific types ----------------------------------------------------------------


@strawberry.type(name="Service", description="A service: customer-facing or supporting.")
class ServiceType(CIType):
    @strawberry.field
    def kind(self) -> ServiceKind:
        assert self.ci.service is not None  # the model gives every Service its details
        return self.ci.service.kind

    @strawberry.field
    def portfolio(self) -> PortfolioState:
        assert self.ci.service is not None
        return self.ci.service.portfolio

    @strawberry.field
    def customers(self) -> list[str]:
        assert self.ci.service is not None
        return self.ci.service.customers

    @strawberry.field
    def sla(self) -> SLAType | None:
        assert self.ci.service is not None
        return cast(SLAType | None, self.ci.service.sla)

    @strawberry.field(
        description="Agreements that hold the SLA up: the service's own OLAs and supplier "
        "contracts and those of everything it rests on (through the impact relationships), "
        "each with the path from the service and every SLA target it misses, both figures "
        "given (availability; response and resolution per priority)."
    )
    async def agreement_check(self, info: GInfo) -> ServiceAgreementsType:
        return await service_agreement_check(info.context, self.ci, self.at)


@strawberry.type(name="Cluster", description="A cluster: up while enough members are up.")
class ClusterType(CIType):
    @strawberry.field
    def redundancy(self) -> RedundancyType | None:
        return cast(RedundancyType | None, self.ci.redundancy)


EXPLICIT: dict[str, type[CIType]] = {"Service": ServiceType, "Cluster": ClusterType}


def _nearest_abstract(name: str) -> str:
    return next(c for c in lineage(name)[1:] if c in ABSTRACT)


def _build() -> tuple[dict[str, type[CIType]], list[type[CIType]]]:
    interfaces: dict[str, type[CIType]] = {ROOT: CIType}
    for name in all_classes():
        if name in ABSTRACT and name != ROOT:
            base = interfaces[_nearest_abstract(name)]
            made = type(f"{name}Type", (base,), {"__module__": __name__})
            interfaces[name] = strawberry.interface(
                name=name, description=f"Every {name} class: {', '.join(_subclasses(name))}."
            )(made)
    concrete: dict[str, type[CIType]] = {}
    for name in concrete_classes():
        if name in EXPLICIT:
            concrete[name] = EXPLICIT[name]
            continue
        base = interfaces[_nearest_abstract(name)]
        made = type(f"{name}Type", (base,), {"__module__": __name__})
        concrete[name] = strawberry.type(name=name, description=f"A {name} CI.")(made)
    extra = [t for n, t in interfaces.items() if n != ROOT]
    return concrete, extra


def _subclasses(name: str) -> list[str]:
    return [c for c in concrete_classes() if name in lineage(c)]


TYPES, INTERFACES = _build()


def to_gql(ci: CI, as_of: datetime | None = None) -> CIType:
    return TYPES[ci.ci_class](
        ci=ci,
        id=strawberry.ID(ci.id),
        name=ci.name,
        status=ci.status,
        owner=ci.owner,
        location=ci.location,
        environment=ci.environment,
        at=as_of,
    )


def all_ci_types() -> list[type[CIType]]:
    """Every CI type and interface, for the schema (none is reachable by field alone)."""
    return [*INTERFACES, *TYPES.values()]
