"""Per-request DataLoaders: store round trips grow with the query's depth, not its size.

Every relationship field of one level of a query asks the ``related`` loader for its
parent CI; the loader gathers those keys and makes one ``store.subgraph`` call per
distinct (direction, types, depth, as-of) over all the parents as roots, then splits the
answer per parent locally. A multi-root walk to depth d holds each root's own d-ball
(a node reached nearer from another root is expanded at least as far), and the stores
return every edge among the reached nodes, so the split is exact.

Changes, incidents and problems are read once per request and filtered in memory. History has no
batched store call, so it costs one call per CI (in one worker-thread hop per level).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from cmdb.app.scope import Visibility
from cmdb.domain.errors import CmdbError, NotFound
from cmdb.domain.history import HistoryEntry
from cmdb.domain.model import CI, Relationship
from cmdb.domain.records import Change, Incident, Problem
from cmdb.store.contract import Direction, GraphStore, Subgraph

if TYPE_CHECKING:
    from cmdb.gql.context import GqlContext

# Nodes one batched traversal may read; beyond it the answer would be partial.
RELATED_MAX_NODES = 200_000

TypesKey = tuple[str, ...] | None
GroupKey = tuple[Direction, TypesKey, int, datetime | None]
RelKey = tuple[str, Direction, TypesKey, int, datetime | None]


@dataclass(frozen=True)
class Hop:
    """A CI reached from a root: the edge it was reached by, which way, how far."""

    relationship: Relationship
    ci: CI
    direction: Direction  # OUT: ``ci`` is the edge's target; IN: its source
    distance: int


class TraversalTooLarge(CmdbError):
    """A batched traversal would read more nodes than one request may."""


def _adjacency(sub: Subgraph, direction: Direction) -> dict[str, list[tuple[Relationship, str]]]:
    adj: dict[str, list[tuple[Relationship, str]]] = {}
    for rel in sub.edges:
        if direction in (Direction.OUT, Direction.BOTH):
            adj.setdefault(rel.source_id, []).append((rel, rel.target_id))
        if direction in (Direction.IN, Direction.BOTH):
            adj.setdefault(rel.target_id, []).append((rel, rel.source_id))
    return adj


def walk(
    sub: Subgraph,
    adj: dict[str, list[tuple[Relationship, str]]],
    root: str,
    depth: int,
    vis: Visibility,
) -> list[Hop]:
    """Breadth first from ``root`` through visible CIs only (a path through a hidden CI
    would reveal it). Distance 1 keeps one hop per edge (two edges to one CI are two
    neighbours); farther hops keep the first edge that reached each CI."""
    hops: list[Hop] = []
    seen = {root}
    frontier = [root]
    for distance in range(1, depth + 1):
        nxt: list[str] = []
        for node in frontier:
            for rel, other in adj.get(node, ()):
                if other == node or not vis.allows(other) or other not in sub.nodes:
                    continue
                if distance > 1 and other in seen:
                    continue
                way = Direction.OUT if rel.source_id == node else Direction.IN
                hops.append(Hop(rel, sub.nodes[other], way, distance))
                if other not in seen:
                    seen.add(other)
                    nxt.append(other)
        frontier = nxt
        if not frontier:
            break
    hops.sort(key=lambda h: (h.distance, h.ci.name, h.ci.id, h.relationship.type))
    return hops


class Loaders:
    def __init__(self, ctx: GqlContext) -> None:
        self.ctx = ctx
        self.related: DataLoader[RelKey, list[Hop]] = DataLoader(load_fn=self._load_related)
        self.history: DataLoader[str, list[HistoryEntry]] = DataLoader(load_fn=self._load_history)
        self.ci: DataLoader[tuple[str, datetime | None], CI | None] = DataLoader(
            load_fn=self._load_cis
        )
        # A CI's incidents, by (CI id, open only): through the store's links, where every
        # incident ever recorded (years of a service desk's) was read to find them.
        self.incidents_naming: DataLoader[tuple[str, bool], list[Incident]] = DataLoader(
            load_fn=self._load_incidents_naming
        )
        self._changes: list[Change] | None = None
        self._incidents: list[Incident] | None = None
        self._problems: list[Problem] | None = None

    async def _load_related(self, keys: Sequence[RelKey]) -> list[list[Hop]]:
        groups: dict[GroupKey, list[str]] = {}
        for ci_id, direction, types, depth, as_of in keys:
            roots = groups.setdefault((direction, types, depth, as_of), [])
            if ci_id not in roots:
                roots.append(ci_id)
        vis = await self.ctx.visibility()
        subs = await self.ctx.call(_fetch_groups, self.ctx.store, groups)
        adjs = {g: _adjacency(sub, g[0]) for g, sub in subs.items()}
        out: list[list[Hop]] = []
        for ci_id, direction, types, depth, as_of in keys:
            g = (direction, types, depth, as_of)
            out.append(walk(subs[g], adjs[g], ci_id, depth, vis))
        return out

    async def _load_cis(self, keys: Sequence[tuple[str, datetime | None]]) -> list[CI | None]:
        """CIs by id, one ``subgraph(max_depth=0)`` call per as-of instant; hidden or
        missing ones are None."""
        by_time: dict[datetime | None, list[str]] = {}
        for ci_id, as_of in keys:
            by_time.setdefault(as_of, []).append(ci_id)
        vis = await self.ctx.visibility()
        found = await self.ctx.call(_fetch_cis, self.ctx.store, by_time)
        return [found[as_of].get(ci_id) if vis.allows(ci_id) else None for ci_id, as_of in keys]

    async def _load_incidents_naming(
        self, keys: Sequence[tuple[str, bool]]
    ) -> list[list[Incident]]:
        store = self.ctx.store
        return await self.ctx.call(
            lambda: [store.list_incidents(ci_id=c, open_only=o) for c, o in keys]
        )

    async def _load_history(self, keys: Sequence[str]) -> list[list[HistoryEntry]]:
        store = self.ctx.store
        return await self.ctx.call(lambda: [store.history(k) for k in keys])

    async def changes(self) -> list[Change]:
        if self._changes is None:
            self._changes = await self.ctx.call(self.ctx.store.list_changes)
        return self._changes

    async def incidents(self) -> list[Incident]:
        if self._incidents is None:
            self._incidents = await self.ctx.call(self.ctx.store.list_incidents)
        return self._incidents

    async def problems(self) -> list[Problem]:
        if self._problems is None:
            self._problems = await self.ctx.call(self.ctx.store.list_problems)
        return self._problems


def _fetch_groups(store: GraphStore, groups: dict[GroupKey, list[str]]) -> dict[GroupKey, Subgraph]:
    """One ``subgraph`` call per group (runs in a worker thread)."""
    out: dict[GroupKey, Subgraph] = {}
    for (direction, types, depth, as_of), roots in groups.items():
        try:
            sub = _subgraph(store, roots, direction, types, depth, as_of)
        except NotFound:
            # A root that did not exist at as_of (a field asked further back than its
            # parent): it has no neighbours then.
            alive = [r for r in roots if _exists(store, r, as_of)]
            sub = (
                _subgraph(store, alive, direction, types, depth, as_of)
                if alive
                else Subgraph(roots=[], nodes={}, edges=[], depth_reached=0)
            )
        if sub.truncated_by_nodes:
            raise TraversalTooLarge(
                f"the traversal reaches more than {RELATED_MAX_NODES} CIs; ask for less depth",
                where="depth",
            )
        out[(direction, types, depth, as_of)] = sub
    return out


def _fetch_cis(
    store: GraphStore, by_time: dict[datetime | None, list[str]]
) -> dict[datetime | None, dict[str, CI]]:
    out: dict[datetime | None, dict[str, CI]] = {}
    for as_of, ids in by_time.items():
        roots = list(dict.fromkeys(ids))
        try:
            out[as_of] = store.subgraph(roots, max_depth=0, max_nodes=len(roots), as_of=as_of).nodes
        except NotFound:
            alive = [r for r in roots if _exists(store, r, as_of)]
            out[as_of] = (
                store.subgraph(alive, max_depth=0, max_nodes=len(alive), as_of=as_of).nodes
                if alive
                else {}
            )
    return out


def _subgraph(
    store: GraphStore,
    roots: list[str],
    direction: Direction,
    types: TypesKey,
    depth: int,
    as_of: datetime | None,
) -> Subgraph:
    return store.subgraph(
        roots,
        direction=direction,
        types=list(types) if types is not None else None,
        max_depth=depth,
        max_nodes=RELATED_MAX_NODES,
        as_of=as_of,
    )


def _exists(store: GraphStore, ci_id: str, as_of: datetime | None) -> bool:
    try:
        store.get_ci(ci_id, as_of=as_of)
    except NotFound:
        return False
    return True
