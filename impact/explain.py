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

**Groups behind a step.** A path goes through one member of a cluster or a replica set,
but a quorum falls to all the members it lost: each such step adds a :class:`GroupNote`
("harbour-app-cluster: 2 of 3 members needed, 1 left (vm-app-01, vm-app-02 down)"), in
``groups`` and after the chain in ``text``. A grouping (a namespace, a site) is explained
by the path to a hit member and the step into the grouping, with the count of its members
hit; one path per member, the worst and nearest members first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pydantic import BaseModel

from cmdb.domain.built import built
from impact._arrays import BoolArray, IntArray, bfs
from impact.graph import TYPE_NAMES, ImpactGraph
from impact.propagate import GroupNote, Propagation, type_phrase

MAX_CAUSE_SEARCHES = 16


class ImpactPath(BaseModel):
    """``ci_ids[0]`` (a cause) to ``ci_ids[-1]``; ``types[i]`` joins ci i and ci i+1."""

    cause: str
    ci_ids: list[str]
    names: list[str]
    types: list[str]
    text: str
    groups: list[GroupNote] = []  # the quorums and groupings its steps go through


@dataclass(frozen=True)
class _Parts:
    """A path being built one step at a time: what :func:`path_of` gives for the same
    nodes and edges, kept so that a longer path extends it instead of starting again.
    Never mutated: the lists are shared by the paths that extend it."""

    ids: list[str]
    names: list[str]
    types: list[str]
    body: str  # the chain of the text, before the groups' notes
    notes: list[GroupNote]

    @staticmethod
    def start(g: ImpactGraph, v: int) -> _Parts:
        name = g.name(v)
        return _Parts([g.ids[v]], [name], [], name, [])

    def then(self, prop: Propagation, e: int, v: int) -> _Parts:
        """One more impact edge ``e``, into CI ``v``."""
        g = prop.graph
        code = g.type_codes[0][e]
        name = g.name(v)
        note = prop.edge_note(e)
        return _Parts(
            [*self.ids, g.ids[v]],
            [*self.names, name],
            [*self.types, TYPE_NAMES[code]],
            f"{self.body} -> {name} ({type_phrase(code)} it)",
            self.notes if note is None else [*self.notes, note],
        )

    def path(self) -> ImpactPath:
        text = self.body + "".join(f"; {note.text}" for note in self.notes)
        # Built without validation (strings and notes the engine made), in new lists: the
        # parts' own lists are shared by the paths that extend them.
        return built(
            ImpactPath,
            cause=self.ids[0],
            ci_ids=[*self.ids],
            names=[*self.names],
            types=[*self.types],
            text=text,
            groups=[*self.notes],
        )


@dataclass(frozen=True)
class _Search:
    causes: tuple[int, ...]
    dist: IntArray
    parent: IntArray
    # The same as lists: paths read them one element at a time (numpy scalars are slow).
    dists: list[int]
    parents: list[int]


class Explainer:
    """Paths for any impacted CI of one propagation (searches run once, paths on demand)."""

    def __init__(self, prop: Propagation) -> None:
        self.prop = prop
        g = prop.graph
        # What a grouping gets from its members goes no further, so it carries nothing.
        sev = prop.spread
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
        return _Search(causes, dist, parent, dist.tolist(), parent.tolist())

    def _walk_back(self, search: _Search, v: int) -> tuple[list[int], list[int]]:
        src = self.prop.graph.src_list
        parents = search.parents
        nodes, edges = [v], []
        while (e := parents[nodes[-1]]) >= 0:
            edges.append(e)
            nodes.append(src[e])
        return nodes[::-1], edges[::-1]

    def paths(self, v: int, k: int = 3, *, alternates: bool = True) -> list[ImpactPath]:
        """Up to ``k`` carrying paths from causes to CI ``v`` (none for a cause itself);
        without ``alternates`` only the shortest path per cause."""
        if v in self.prop.causes:
            return []
        if self.prop.is_grouped(v):
            return [self._out(*p) for p in self._grouping_paths(v, k)]
        g = self.prop.graph
        # (length, cause id, edges, the search and CI whose tree path it is, and the last
        # edge when it is an alternate that leaves the tree there)
        found: list[tuple[int, str, list[int], int, int, int]] = []
        seen: set[tuple[int, ...]] = set()
        for si, s in enumerate(self.searches):
            if s.dists[v] > 0:
                nodes, edges = self._walk_back(s, v)
                key = tuple(edges)
                if key not in seen:
                    seen.add(key)
                    found.append((len(edges), g.ids[nodes[0]], edges, si, v, -1))
        found.sort(key=lambda p: (p[0], p[1]))
        chosen = found[:k]
        if alternates and len(chosen) < k:
            firsts = {p[2][-1] for p in chosen}
            extra: list[tuple[int, str, list[int], int, int, int]] = []
            for e in g.inc.of(v).tolist():
                if not self.carry[e] or e in firsts:
                    continue
                u = g.src_list[e]
                for si, s in enumerate(self.searches):
                    if s.dists[u] >= 0:
                        nodes, edges = self._walk_back(s, u)
                        key = (*edges, e)
                        if key not in seen:
                            seen.add(key)
                            extra.append((len(edges) + 1, g.ids[nodes[0]], [*edges, e], si, u, e))
                        break
            extra.sort(key=lambda p: (p[0], p[1]))
            chosen += extra[: k - len(chosen)]
        out: list[ImpactPath] = []
        for *_, si, x, last in chosen:
            parts = self._tree(si, x)
            if last >= 0:
                parts = parts.then(self.prop, last, v)
            out.append(parts.path())
        return out

    def _tree(self, si: int, v: int) -> _Parts:
        """The path of search ``si``'s tree from its cause to ``v``, built once per CI from
        its parent's (paths of neighbouring CIs share all but their last steps)."""
        memo = self._memo
        got = memo.get((si, v))
        if got is not None:
            return got
        s, src = self.searches[si], self.prop.graph.src_list
        chain: list[int] = []
        x = v
        while (si, x) not in memo and (e := s.parents[x]) >= 0:
            chain.append(x)
            x = src[e]
        base = memo.get((si, x))
        if base is None:  # x is the cause
            base = memo[si, x] = _Parts.start(self.prop.graph, x)
        for y in reversed(chain):
            base = memo[si, y] = base.then(self.prop, s.parents[y], y)
        return base

    @cached_property
    def _memo(self) -> dict[tuple[int, int], _Parts]:
        return {}

    @cached_property
    def _near(self) -> IntArray:
        """Steps from the nearest cause to each CI (a large number where none reaches)."""
        g = self.prop.graph
        near = np.full(g.n, np.iinfo(np.int64).max, dtype=np.int64)
        for s in self.searches:
            hit = s.dist >= 0
            near[hit] = np.minimum(near[hit], s.dist[hit])
        return near

    def _shortest(self, v: int) -> tuple[list[int], list[int]] | None:
        """The shortest carrying path to ``v`` as (nodes, edges); [v] for a cause."""
        if v in self.prop.causes:
            return [v], []
        best: tuple[int, str, list[int], list[int]] | None = None
        g = self.prop.graph
        for s in self.searches:
            if s.dists[v] > 0:
                nodes, edges = self._walk_back(s, v)
                cand = (len(edges), g.ids[nodes[0]], nodes, edges)
                if best is None or cand[:2] < best[:2]:
                    best = cand
        return None if best is None else (best[2], best[3])

    def _grouping_paths(
        self, v: int, k: int
    ) -> list[tuple[list[int], list[int], list[tuple[int, int]]]]:
        """Up to ``k`` paths into grouping ``v``, each through another hit member: the
        nodes, the impact edges, and the grouping steps as (position, membership)."""
        prop, g = self.prop, self.prop.graph
        sev = prop.sev
        joins = [j for j in g.grouped(v) if sev[g.grp_src[j]] > 0]
        near = self._near
        joins.sort(key=lambda j: (-int(sev[g.grp_src[j]]), near[g.grp_src[j]], g.ids[g.grp_src[j]]))
        out: list[tuple[list[int], list[int], list[tuple[int, int]]]] = []
        for j in joins:
            u = int(g.grp_src[j])
            if prop.is_grouped(u):  # a grouping of groupings (a site of a room)
                inner = self._grouping_paths(u, 1)
                if not inner:
                    continue
                nodes, edges, steps = inner[0]
            else:
                found = self._shortest(u)
                if found is None:
                    continue
                (nodes, edges), steps = found, []
            out.append(([*nodes, v], edges, [*steps, (len(nodes) - 1, j)]))
            if len(out) == k:
                break
        return out

    def _out(
        self, nodes: list[int], edges: list[int], steps: list[tuple[int, int]] | None = None
    ) -> ImpactPath:
        return path_of(self.prop.graph, nodes, edges, self.prop, steps or [])


def path_of(
    g: ImpactGraph,
    nodes: list[int],
    edges: list[int],
    prop: Propagation | None = None,
    steps: list[tuple[int, int]] | None = None,
) -> ImpactPath:
    """A path of graph nodes joined by impact edges, in ids, names, types and words.

    ``steps`` are grouping steps (a member into its grouping), as (the position in
    ``nodes`` of the member, the membership number into ``g.grp_*``); the impact edges
    fill the other steps in order. With ``prop``, each quorum and grouping a step goes
    through adds its note (what the quorum lost, how many members are hit)."""
    into = dict(steps or [])
    codes: list[int] = []
    notes: list[GroupNote] = []
    rest = iter(edges)
    etype, grp_type = g.type_codes
    for i in range(len(nodes) - 1):
        if i in into:
            j = into[i]
            codes.append(grp_type[j])
            if prop is not None:
                notes.append(prop.grouping_note(nodes[i + 1]))
            continue
        e = next(rest)
        codes.append(etype[e])
        if prop is not None and (note := prop.edge_note(e)) is not None:
            notes.append(note)
    names = [g.name(n) for n in nodes]
    text = names[0]
    for code, name in zip(codes, names[1:], strict=True):
        text += f" -> {name} ({type_phrase(code)} it)"
    for note in notes:
        text += f"; {note.text}"
    return ImpactPath(
        cause=g.ids[nodes[0]],
        ci_ids=[g.ids[n] for n in nodes],
        names=names,
        types=[TYPE_NAMES[c] for c in codes],
        text=text,
        groups=notes,
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
