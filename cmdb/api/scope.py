"""A token scoped to services sees those services and what they depend on, nothing else.

"What they depend on" is the impact engine's upstream walk (impact.fetch, "walk"): every
CI whose failure can reach one of the services. Out-of-scope objects answer 404, as if
they did not exist, so a scoped caller cannot probe for ids.

A change or incident record is read when it names at least one CI or service in view
(:func:`readable`, the rule the reports apply too), and shown with only the ids in view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cmdb.auth.tokens import Principal
from cmdb.domain.errors import NotFound
from cmdb.domain.model import Relationship
from cmdb.domain.records import Record
from cmdb.practice.reports import named, reads
from cmdb.store.contract import GraphStore
from impact.fetch import DEFAULT_MAX_DEPTH, fetch

# ``named`` is re-exported: the routers take the record rules from here.
__all__ = ["SCOPE_MAX_NODES", "Visibility", "named", "readable"]

SCOPE_MAX_NODES = 200_000


@dataclass(frozen=True)
class Visibility:
    """``ids is None``: the caller sees everything."""

    ids: frozenset[str] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.ids is None

    def allows(self, ci_id: str) -> bool:
        return self.ids is None or ci_id in self.ids

    def allows_rel(self, rel: Relationship) -> bool:
        return self.allows(rel.source_id) and self.allows(rel.target_id)

    def check(self, ci_id: str, *, where: str = "ci") -> None:
        """NotFound for an id outside the scope (the same answer as a missing one)."""
        if not self.allows(ci_id):
            raise NotFound(f"no CI {ci_id!r}", where=where)

    def keep(self, ci_ids: Iterable[str]) -> list[str]:
        return [i for i in ci_ids if self.allows(i)]

    @classmethod
    def for_principal(
        cls, store: GraphStore, principal: Principal, *, as_of: datetime | None = None
    ) -> Visibility:
        if not principal.scoped:
            return cls(None)
        services = [s for s in principal.services if _exists(store, s)]
        if not services:
            return cls(frozenset())
        got = fetch(
            store,
            services,
            upstream=True,
            strategy="walk",
            max_depth=DEFAULT_MAX_DEPTH,
            max_nodes=SCOPE_MAX_NODES,
            as_of=as_of,
        )
        return cls(frozenset(got.subgraph.nodes) | frozenset(services))


def readable(vis: Visibility, rec: Record) -> bool:
    """Unscoped callers see every record; a scoped one those naming something it sees (the
    reports' rule: one rule, so a report counts exactly what the lists show)."""
    return reads(vis.ids, rec)


def _exists(store: GraphStore, ci_id: str) -> bool:
    try:
        store.get_ci(ci_id)
    except NotFound:
        return False
    return True
