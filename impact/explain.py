"""Explanation: the paths from cause to effect, and who a service serves.

A path explains an impacted CI only if it *carries* its severity: every step goes from a
CI at least as bad as the next, and the next is impacted (``sev[u] >= sev[v] > 0``). So a
service that is down is explained by a chain of down CIs (or a member failure that tipped
a quorum), not by a merely at-risk detour. Such a path always exists for every impacted CI
(each grade is justified by a member at least as bad, back to a cause).

Per CI we give up to ``k`` paths: first the shortest carrying path from each cause that
reaches it (shortest first, then by cause), then, if fewer than ``k`` and alternates are
asked for (the report asks for services), the shortest paths that arrive through a
*different last step* (the other arm of a diamond). Each cause gets
one breadth-first search over the carrying edges; past ``MAX_CAUSE_SEARCHES`` causes the
rest share one multi-source search (the nearest of them explains).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from impact._arrays import BoolArray, IntArray, bfs
from impact.graph import ImpactGraph
from impact.propagate import Propagation, phrase

MAX_CAUSE_SEARCHES = 16


class ImpactPath(BaseModel):
    """``ci_ids[0]`` (a cause) to ``ci_ids[-1]``; ``types[i]`` joins ci i and ci i+1."""

    cause: str
    ci_ids: list[str]
    names: list[str]
    types: list[str]
    text: str


@dataclass(frozen=True)
class _Search:
    causes: tuple[int, ...]
    dist: IntArray
    parent: IntArray


class Explainer:
    """Paths for any impacted CI of one propagation (searches run once, paths on demand)."""

    def __init__(self, prop: Propagation) -> None:
        self.prop = prop
        g = prop.graph
        sev = prop.sev
        self.carry: BoolArray = (sev[g.src] >= sev[g.dst]) & (sev[g.dst] > 0)
        causes = sorted(prop.causes, key=lambda i: g.ids[i])
        self.searches: list[_Search] = []
        for c in causes[:MAX_CAUSE_SEARCHES]:
            self.searches.append(self._search((c,)))
        if len(causes) > MAX_CAUSE_SEARCHES:
            self.searches.append(self._search(tuple(causes[MAX_CAUSE_SEARCHES:])))

    def _search(self, causes: tuple[int, ...]) -> _Search:
        g = self.prop.graph
        dist, parent = bfs(g.out, np.array(causes, dtype=np.int64), g.n, edge_ok=self.carry)
        return _Search(causes=causes, dist=dist, parent=parent)

    def _walk_back(self, search: _Search, v: int) -> tuple[list[int], list[int]]:
        g = self.prop.graph
        nodes, edges = [v], []
        while search.parent[nodes[-1]] >= 0:
            e = int(search.parent[nodes[-1]])
            edges.append(e)
            nodes.append(int(g.src[e]))
        return nodes[::-1], edges[::-1]

    def paths(self, v: int, k: int = 3, *, alternates: bool = True) -> list[ImpactPath]:
        """Up to ``k`` carrying paths from causes to CI ``v`` (none for a cause itself);
        without ``alternates`` only the shortest path per cause."""
        if v in self.prop.causes:
            return []
        g = self.prop.graph
        found: list[tuple[int, str, list[int], list[int]]] = []
        seen: set[tuple[int, ...]] = set()
        for s in self.searches:
            if s.dist[v] > 0:
                nodes, edges = self._walk_back(s, v)
                key = tuple(edges)
                if key not in seen:
                    seen.add(key)
                    found.append((len(edges), g.ids[nodes[0]], nodes, edges))
        found.sort(key=lambda p: (p[0], p[1]))
        chosen = found[:k]
        if alternates and len(chosen) < k:
            firsts = {p[3][-1] for p in chosen}
            extra: list[tuple[int, str, list[int], list[int]]] = []
            for e in g.inc.of(v).tolist():
                if not self.carry[e] or e in firsts:
                    continue
                u = int(g.src[e])
                for s in self.searches:
                    if s.dist[u] >= 0:
                        nodes, edges = self._walk_back(s, u)
                        key = (*edges, e)
                        if key not in seen:
                            seen.add(key)
                            extra.append(
                                (len(edges) + 1, g.ids[nodes[0]], [*nodes, v], [*edges, e])
                            )
                        break
            extra.sort(key=lambda p: (p[0], p[1]))
            chosen += extra[: k - len(chosen)]
        return [self._out(nodes, edges) for _, _, nodes, edges in chosen]

    def _out(self, nodes: list[int], edges: list[int]) -> ImpactPath:
        return path_of(self.prop.graph, nodes, edges)


def path_of(g: ImpactGraph, nodes: list[int], edges: list[int]) -> ImpactPath:
    """A path of graph nodes joined by impact edges, in ids, names, types and words."""
    text = g.name(nodes[0])
    for e, n in zip(edges, nodes[1:], strict=True):
        text += f" -> {g.name(n)} ({phrase(g, e)} it)"
    return ImpactPath(
        cause=g.ids[nodes[0]],
        ci_ids=[g.ids[n] for n in nodes],
        names=[g.name(n) for n in nodes],
        types=[g.type_name(e) for e in edges],
        text=text,
    )


def customers_of(graph: ImpactGraph, v: int) -> list[str]:
    """Who a service serves: Customer CIs it SERVES, and the names in its details and SLA."""
    names: set[str] = set()
    for e in graph.out.of(v).tolist():
        if graph.type_name(e) == "SERVES":
            names.add(graph.name(int(graph.dst[e])))
    details = graph.cis[v].service
    if details is not None:
        names.update(details.customers)
        if details.sla is not None:
            names.update(details.sla.customers)
    return sorted(names)
