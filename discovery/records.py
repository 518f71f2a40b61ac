"""Neutral records: what every discovery adapter produces, whatever the input format.

Adapters parse only (no store access). They yield records as they read, so a large input
streams: a ``DiscoveredCI`` per thing found, a ``DiscoveredRel`` per relationship found
(ends named by adapter-local keys), a ``Problem`` per construct they could not or would not
turn into records (reported, never silently dropped), and ``Stat`` counters for the run
report. ``collect`` gathers them into an ``Inventory`` and turns references to things the
input never defines into placeholder CIs flagged unresolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cmdb.domain.classes import check_class, is_a
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.relationships import get_type

# The standard CI fields a record may carry in ``fields``; anything else is an attribute.
STANDARD_FIELDS = frozenset(
    {
        "description",
        "version",
        "environment",
        "owner",
        "location",
        "status",
        "criticality",
        "redundancy",
    }
)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscoveredCI(_Record):
    """A thing the source saw. ``key`` is adapter-local: relationships refer to it."""

    key: str = Field(min_length=1)
    ci_class: str
    name: str = Field(min_length=1)
    identifiers: tuple[Identifier, ...] = ()
    # Standard CI fields the source knows (description, version, environment, owner,
    # location, status, criticality; a Cluster's redundancy); anything else goes in
    # attributes.
    fields: dict[str, Any] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)
    # Set by ``collect`` for a CI that was referred to but never defined in the input.
    unresolved: bool = False
    where: str | None = Field(default=None, description="file and place it came from")

    @field_validator("ci_class")
    @classmethod
    def _known(cls, v: str) -> str:
        try:
            return check_class(v)
        except Exception as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("fields")
    @classmethod
    def _standard(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = set(v) - STANDARD_FIELDS
        if unknown:
            raise ValueError(f"not standard CI fields: {sorted(unknown)}; use attributes")
        return v

    @model_validator(mode="after")
    def _redundancy_on_clusters(self) -> DiscoveredCI:
        # Refused here, per record, rather than by the store when the run is applied.
        if "redundancy" in self.fields and not is_a(self.ci_class, "Cluster"):
            raise ValueError("only a Cluster declares redundancy (members that must be up)")
        return self


class Placeholder(_Record):
    """How to make a CI for a reference whose target the input never defines."""

    ci_class: str
    name: str
    identifiers: tuple[Identifier, ...] = ()


class DiscoveredRel(_Record):
    type: str
    source: str = Field(description="key of the source CI")
    target: str = Field(description="key of the target CI")
    confidence: float = Field(default=1.0, ge=0, le=1)
    attributes: dict[str, Any] = Field(default_factory=dict)
    # Used when ``target`` (or ``source``) is never defined: becomes an unresolved CI.
    target_placeholder: Placeholder | None = None
    source_placeholder: Placeholder | None = None
    where: str | None = None

    @field_validator("type")
    @classmethod
    def _registered(cls, v: str) -> str:
        try:
            return get_type(v).name
        except Exception as exc:
            raise ValueError(str(exc)) from exc


class Severity(StrEnum):
    ERROR = "error"  # this item is wrong; the rest proceeds
    WARNING = "warning"
    UNSUPPORTED = "unsupported"  # a construct the adapter does not model (yet)


class Problem(_Record):
    severity: Severity
    where: str
    message: str


class Stat(_Record):
    """A counter for the run report, e.g. ``hosts_down`` += 3."""

    name: str
    value: int = 1


Item = DiscoveredCI | DiscoveredRel | Problem | Stat

# The Stat an adapter counts for an input that carries only part of what its source knows
# of the things in it (a GLPI partial inventory sends only the sections that changed). Such
# a run says nothing of what it leaves out, so the reconciler marks nothing stale after it.
PARTIAL = "partial"


class Inventory(BaseModel):
    format: str
    cis: list[DiscoveredCI] = Field(default_factory=list)
    rels: list[DiscoveredRel] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    stats: dict[str, int] = Field(default_factory=dict)

    def ci(self, key: str) -> DiscoveredCI:
        return next(c for c in self.cis if c.key == key)

    @property
    def unresolved(self) -> list[DiscoveredCI]:
        return [c for c in self.cis if c.unresolved]


def placeholder_key(key: str) -> Identifier:
    return Identifier(kind=IdentifierKind.KEY, value=key)


def collect(fmt: str, items: Iterable[Item]) -> Inventory:
    """Gather an adapter's records; unknown relationship ends become unresolved CIs.

    A CI seen twice under one key is merged (later attributes win) rather than duplicated.
    A relationship end that is neither defined nor given a placeholder is a Problem.
    """
    inv = Inventory(format=fmt)
    by_key: dict[str, DiscoveredCI] = {}
    rels: list[DiscoveredRel] = []
    problems, stats = inv.problems, inv.stats
    for item in items:
        # By exact type first: a reader yields several records per resource, and these two
        # loops were a tenth of an importer's time.
        if type(item) is DiscoveredRel:
            rels.append(item)
        elif type(item) is DiscoveredCI:
            _add_ci(by_key, item)
        elif type(item) is Stat:
            stats[item.name] = stats.get(item.name, 0) + item.value
        elif type(item) is Problem:
            problems.append(item)
        elif isinstance(item, DiscoveredCI):
            _add_ci(by_key, item)
        elif isinstance(item, DiscoveredRel):
            rels.append(item)
        elif isinstance(item, Problem):
            problems.append(item)
        else:
            stats[item.name] = stats.get(item.name, 0) + item.value
    seen_rels: set[tuple[str, str, str]] = set()
    for rel in rels:
        source, target = rel.source, rel.target
        # Both ends are looked at, whatever becomes of the first: each missing one is a
        # placeholder CI or a problem of its own.
        source_ok = source in by_key or _end(rel, source, rel.source_placeholder, by_key, problems)
        target_ok = target in by_key or _end(rel, target, rel.target_placeholder, by_key, problems)
        sig = (rel.type, source, target)
        if source_ok and target_ok and sig not in seen_rels:
            seen_rels.add(sig)
            inv.rels.append(rel)
    inv.cis = list(by_key.values())
    inv.stats["cis"] = len(inv.cis)
    inv.stats["relationships"] = len(inv.rels)
    inv.stats["unresolved"] = len(inv.unresolved)
    return inv


def _add_ci(by_key: dict[str, DiscoveredCI], item: DiscoveredCI) -> None:
    old = by_key.get(item.key)
    if old is not None:
        item = old.model_copy(
            update={
                "identifiers": tuple(dict.fromkeys((*old.identifiers, *item.identifiers))),
                "fields": {**old.fields, **item.fields},
                "attributes": {**old.attributes, **item.attributes},
            }
        )
    by_key[item.key] = item


def _end(
    rel: DiscoveredRel,
    end: str,
    ph: Placeholder | None,
    by_key: dict[str, DiscoveredCI],
    problems: list[Problem],
) -> bool:
    """An end ``collect`` has no CI for: an unresolved CI from its placeholder, else a
    Problem (False)."""
    if ph is None:
        problems.append(
            Problem(
                severity=Severity.ERROR,
                where=rel.where or rel.source,
                message=f"{rel.type} refers to {end!r}, which the input never defines",
            )
        )
        return False
    by_key[end] = DiscoveredCI(
        key=end,
        ci_class=ph.ci_class,
        name=ph.name,
        identifiers=(*ph.identifiers, placeholder_key(end)),
        unresolved=True,
        where=rel.where,
    )
    return True
