"""The relationship-type registry: names both ways, impact semantics and allowed pairs.

Every relationship type the CMDB knows is declared here once. The stores take labels and
relationship types only from this registry, and the impact engine reads from it which way
a failure travels along an edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from cmdb.domain.classes import TECHNICAL, is_a, lineage
from cmdb.domain.errors import ForbiddenRelationship, InvalidInput


class ImpactFlow(StrEnum):
    """Which way a failure travels along ``source -[type]-> target``."""

    # "A depends on B": B failing impacts A.
    TARGET_TO_SOURCE = "target_to_source"
    # "member of", "serves": the source failing impacts the target.
    SOURCE_TO_TARGET = "source_to_target"
    # Ownership and the like: no impact travels.
    NONE = "none"


@dataclass(frozen=True)
class RelationshipType:
    name: str
    forward: str
    reverse: str
    impact: ImpactFlow
    allowed: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    redundancy_membership: bool = False

    def allows(self, source_class: str, target_class: str) -> bool:
        return any(
            any(is_a(source_class, s) for s in sources)
            and any(is_a(target_class, t) for t in targets)
            for sources, targets in self.allowed
        )

    def describe_allowed(self) -> str:
        return "; ".join(f"{'|'.join(s)} -> {'|'.join(t)}" for s, t in self.allowed)


_RUNNABLE = ("ApplicationInstance", "Container", "KubernetesWorkload", "SoftwarePackage")
_HOSTING = ("Compute", "Cluster", "CloudResource")

_TYPES = (
    RelationshipType(
        "DEPENDS_ON",
        "depends on",
        "used by",
        ImpactFlow.TARGET_TO_SOURCE,
        ((TECHNICAL, TECHNICAL),),
    ),
    RelationshipType(
        "RUNS_ON",
        "runs on",
        "runs",
        ImpactFlow.TARGET_TO_SOURCE,
        ((_RUNNABLE, _HOSTING),),
    ),
    RelationshipType(
        "HOSTED_ON",
        "hosted on",
        "hosts",
        ImpactFlow.TARGET_TO_SOURCE,
        (
            (
                ("Compute", "StorageVolume", "NetworkDevice", "CloudResource", "Database"),
                ("Server", "Cluster", "CloudResource", "StorageVolume"),
            ),
        ),
    ),
    RelationshipType(
        "MEMBER_OF",
        "member of",
        "has member",
        ImpactFlow.SOURCE_TO_TARGET,
        ((TECHNICAL, ("Cluster",)),),
        redundancy_membership=True,
    ),
    RelationshipType(
        "MEMBER_OF_TEAM",
        "member of team",
        "has team member",
        ImpactFlow.NONE,
        ((("Person", "Team"), ("Team",)),),
    ),
    RelationshipType(
        "CONTAINS",
        "contains",
        "contained by",
        ImpactFlow.TARGET_TO_SOURCE,
        (
            (
                ("Service", "Application", "KubernetesWorkload", "CloudResource"),
                TECHNICAL,
            ),
            (("Location",), ("Location",)),
        ),
    ),
    RelationshipType(
        "CONNECTS_TO",
        "connects to",
        "connected from",
        ImpactFlow.TARGET_TO_SOURCE,
        ((TECHNICAL, TECHNICAL),),
    ),
    RelationshipType(
        "LOCATED_IN",
        "located in",
        "location of",
        ImpactFlow.TARGET_TO_SOURCE,
        ((TECHNICAL, ("Location",)),),
    ),
    RelationshipType(
        "OWNED_BY",
        "owned by",
        "owns",
        ImpactFlow.NONE,
        ((TECHNICAL, ("Team", "Person")),),
    ),
    RelationshipType(
        "SUPPLIED_BY",
        "supplied by",
        "supplies",
        ImpactFlow.TARGET_TO_SOURCE,
        ((TECHNICAL, ("Supplier",)),),
    ),
    RelationshipType(
        "SERVES",
        "serves",
        "served by",
        ImpactFlow.SOURCE_TO_TARGET,
        ((("Service",), ("Customer",)),),
    ),
)

REGISTRY: dict[str, RelationshipType] = {t.name: t for t in _TYPES}
_BY_PHRASE: dict[str, tuple[RelationshipType, bool]] = {}
for _t in _TYPES:
    _BY_PHRASE[_t.forward] = (_t, False)
    _BY_PHRASE[_t.reverse] = (_t, True)


def get_type(name: str, *, where: str = "type") -> RelationshipType:
    """Look a type up by its name (``DEPENDS_ON``, ``depends_on``, ``depends on``)."""
    found = REGISTRY.get(name)  # the registered spelling, which every edge checked has
    if found is not None:
        return found
    key = name.strip().upper().replace(" ", "_").replace("-", "_")
    if key in REGISTRY:
        return REGISTRY[key]
    raise InvalidInput(
        f"unknown relationship type {name!r}; known: {', '.join(REGISTRY)}", where=where
    )


def parse_phrase(phrase: str) -> tuple[RelationshipType, bool]:
    """Read a phrase either way: ("used by" -> DEPENDS_ON, reversed=True)."""
    key = phrase.strip().lower().replace("_", " ")
    if key in _BY_PHRASE:
        return _BY_PHRASE[key]
    return get_type(phrase), False


@cache
def _pair_allowed(type_name: str, source_class: str, target_class: str) -> bool:
    # Ingest checks every edge; the answer depends only on three registry names.
    return REGISTRY[type_name].allows(source_class, target_class)


def check_allowed(type_name: str, source_class: str, target_class: str) -> RelationshipType:
    """Refuse an edge whose class pair the type does not allow, saying why."""
    rtype = get_type(type_name)
    if not _pair_allowed(rtype.name, source_class, target_class):
        raise ForbiddenRelationship(
            f"{rtype.name} ({rtype.forward!r}) is not allowed from a {source_class} to a "
            f"{target_class}: "
            f"{rtype.name} allows only {rtype.describe_allowed()} "
            f"({source_class} is a {' < '.join(lineage(source_class))})",
            where="type",
        )
    return rtype
