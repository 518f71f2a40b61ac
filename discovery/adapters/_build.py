"""Building records: references with their placeholders, edges checked early, problems."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cmdb.domain.identifiers import Identifier
from cmdb.domain.relationships import check_allowed
from discovery.records import DiscoveredRel, Placeholder, Problem, Severity


@dataclass(frozen=True)
class Ref:
    """One end of a relationship, with what a placeholder for it would be."""

    key: str
    ci_class: str
    name: str
    identifiers: tuple[Identifier, ...] = ()

    def placeholder(self) -> Placeholder:
        return _placeholder(self.ci_class, self.name, self.identifiers)


@functools.lru_cache(maxsize=1 << 16)
def _placeholder(ci_class: str, name: str, identifiers: tuple[Identifier, ...]) -> Placeholder:
    # Every edge carries one for each end, and most ends (a namespace, a Service, a
    # ConfigMap, a network) are the ends of many edges: one frozen record per end is enough.
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
    check_allowed(rtype, source.ci_class, target.ci_class)
    return DiscoveredRel(
        type=rtype,
        source=source.key,
        target=target.key,
        confidence=confidence,
        attributes=attributes or {},
        source_placeholder=source.placeholder(),
        target_placeholder=target.placeholder(),
        where=where,
    )


def problem(severity: Severity, where: str, message: str) -> Problem:
    return Problem(severity=severity, where=where, message=message)
