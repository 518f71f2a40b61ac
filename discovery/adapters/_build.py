"""Building records: references with their placeholders, edges checked early, problems."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cmdb.domain.built import built
from cmdb.domain.identifiers import Identifier
from cmdb.domain.relationships import check_allowed
from discovery.records import DiscoveredRel, Placeholder, Problem, Severity, Stat


@dataclass(frozen=True)
class Ref:
    """One end of a relationship, with what a placeholder for it would be."""

    key: str
    ci_class: str
    name: str
    identifiers: tuple[Identifier, ...] = ()

    def placeholder(self) -> Placeholder:
        # Kept on the Ref, in its __dict__ (past the frozen dataclass's __setattr__): an end
        # named by several edges hashes its identifiers for the shared cache once, not per
        # edge (functools.cached_property takes a lock per read in Python 3.11).
        made: Placeholder | None = self.__dict__.get("_placeholder")
        if made is None:
            made = self.__dict__["_placeholder"] = _placeholder(
                self.ci_class, self.name, self.identifiers
            )
        return made


@functools.lru_cache(maxsize=1 << 16)
def _placeholder(ci_class: str, name: str, identifiers: tuple[Identifier, ...]) -> Placeholder:
    # Every edge carries one for each end, and most ends (a namespace, a Service, a
    # ConfigMap, a network) are the ends of many edges: one frozen record per end is enough.
    if (
        type(ci_class) is str
        and type(name) is str
        and type(identifiers) is tuple
        and all(type(i) is Identifier for i in identifiers)
    ):
        # What validation makes of these (a Placeholder checks no more than the types), at
        # about half its cost: an AWS instance or a NetBox device is the end of its own edges.
        return built(Placeholder, ci_class=ci_class, name=name, identifiers=identifiers)
    return Placeholder(ci_class=ci_class, name=name, identifiers=identifiers)


def edge(
    rtype: str,
    source: Ref,
    target: Ref,
    where: str,
    *,
    confidence: float = 1.0,
    attributes: dict[str, Any] | None = None,
) -> DiscoveredRel:
    """The relationship, with a placeholder for each end in case the input never defines it."""
    # Refuse here, per object, an edge the registry would refuse at apply time.
    kind = check_allowed(rtype, source.ci_class, target.ci_class)
    attrs = attributes or {}
    if (
        type(source.key) is str
        and type(target.key) is str
        and type(where) is str
        and type(confidence) is float
        and 0.0 <= confidence <= 1.0
        and type(attrs) is dict
        and (not attrs or all(type(k) is str for k in attrs))
    ):
        # Values of the plain shapes adapters give: built as validation would make it (the
        # type's registered name, a copy of the attributes) at half its cost, every field
        # in the model's order. Anything else is validated below, and refused in its words.
        return built(
            DiscoveredRel,
            type=kind.name,
            source=source.key,
            target=target.key,
            confidence=confidence,
            attributes=dict(attrs),
            target_placeholder=target.placeholder(),
            source_placeholder=source.placeholder(),
            where=where,
        )
    return DiscoveredRel(
        type=rtype,
        source=source.key,
        target=target.key,
        confidence=confidence,
        attributes=attrs,
        source_placeholder=source.placeholder(),
        target_placeholder=target.placeholder(),
        where=where,
    )


@functools.lru_cache(maxsize=256)
def stat(name: str) -> Stat:
    """``Stat(name=name)``: frozen, so one per counter name serves every record."""
    return Stat(name=name)


def problem(severity: Severity, where: str, message: str) -> Problem:
    return Problem(severity=severity, where=where, message=message)
