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

from cmdb.domain.built import builder
from impact._arrays import BoolArray, IntArray, bfs
from impact.graph import TYPE_NAMES, GroupKind, ImpactGraph
from impact.propagate import GroupNote, Propagation, type_phrase

MAX_CAUSE_SEARCHES = 16
_HARD = int(GroupKind.HARD)  # a plain int: compared once per step


class ImpactPath(BaseModel):
    """``ci_ids[0]`` (a cause) to ``ci_ids[-1]``; ``types[i]`` joins ci i and ci i+1."""

    cause: str
    ci_ids: list[str]
    names: list[str]
    types: list[str]
    text: str
    groups: list[GroupNote] = []  # the quorums and groupings its steps go through


# Built without validation (strings and notes the engine made): see cmdb.domain.built.
_path = builder(ImpactPath)

# A search tree's path to a CI, kept so that a longer path extends it instead of starting
# again: the ImpactPath (what :func:`path_of` gives for the same nodes and edges), the
# chain of its text before the groups' notes, and those notes. Its lists are never
# changed: a longer path copies them.
_Tree = tuple[ImpactPath, str, list[GroupNote]]


def _copy(path: ImpactPath) -> ImpactPath:
    """The same path in lists of its own (no two answers share a list)."""
    return _path(
        cause=path.cause,
        ci_ids=[*path.ci_ids],
        names=[*path.names],
        types=[*path.types],
        text=path.text,
        groups=[*path.groups],
    )


# The words of each type code's step into the CI it impacts, as the path's text shows it.
_STEPS: tuple[str, ...] = tuple(f" ({type_phrase(c)} it)" for c in range(len(TYPE_NAMES)))


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
        # Each search's tree paths, by CI, made once (paths of neighbouring CIs share all
        # but their last steps).
        self._memo: list[dict[int, _Tree]] = [{} for _ in self.searches]
        self._given: list[set[int]] = [set() for _ in self.searches]  # tree paths handed out
        self._one = len(self.searches) == 1
        # What a step reads, as lists: CI ids and names, edge types, edge groups, group
        # kinds (numpy scalars one at a time are slow).
        self._steps = (g.ids, g.type_codes[0], g.egroup.tolist(), g.gkind.tolist(), g.names)

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

    def _cause(self, si: int, v: int) -> str:
        """The id of the cause search ``si``'s tree path to ``v`` starts from."""
        s = self.searches[si]
        if len(s.causes) == 1:
            return self.prop.graph.ids[s.causes[0]]
        return self._tree(si, v)[0].cause

    def paths(self, v: int, k: int = 3, *, alternates: bool = True) -> list[ImpactPath]:
        """Up to ``k`` carrying paths from causes to CI ``v`` (none for a cause itself);
        without ``alternates`` only the shortest path per cause."""
        if v in self.prop.causes:
            return []
        if self.prop.is_grouped(v):
            return [self._out(*p) for p in self._grouping_paths(v, k)]
        if self._one and not alternates and k > 0:  # one cause: its tree path, if any
            return [self._hand(0, v)] if self.searches[0].dists[v] > 0 else []
        # (length, cause id, search) of each search's tree path to v: the searches' causes
        # differ, so no two are the same path and (length, cause) orders them all.
        found = [
            (d, self._cause(si, v), si)
            for si, s in enumerate(self.searches)
            if (d := s.dists[v]) > 0
        ]
        found.sort()
        chosen = found[:k]
        out = [self._hand(si, v) for _d, _c, si in chosen]
        if alternates and len(chosen) < k:
            # Paths arriving through another last step (the other arm of a diamond): each
            # is a tree path to the step's source, the first search that reaches it.
            g = self.prop.graph
            carry, src = self._carry, g.src_list
            firsts = {self.searches[si].parents[v] for _d, _c, si in chosen}
            extra: list[tuple[int, str, int, int, int]] = []
            for e in g.inc.of(v).tolist():
                if not carry[e] or e in firsts:
                    continue
                u = src[e]
                for si, s in enumerate(self.searches):
                    if s.dists[u] >= 0:
                        extra.append((s.dists[u] + 1, self._cause(si, u), si, u, e))
                        break
            extra.sort(key=lambda p: (p[0], p[1]))  # stable: ties stay in edge order
            for _d, _c, si, u, e in extra[: k - len(chosen)]:
                out.append(self._then(self._tree(si, u), e, v)[0])
        return out

    @cached_property
    def _carry(self) -> list[bool]:
        out: list[bool] = self.carry.tolist()
        return out

    def _hand(self, si: int, v: int) -> ImpactPath:
        """Search ``si``'s tree path to ``v``, for an answer: a copy if one was given."""
        path = self._tree(si, v)[0]
        given = self._given[si]
        if v in given:
            return _copy(path)
        given.add(v)
        return path

    def _then(self, at: _Tree, e: int, v: int) -> _Tree:
        """The path ``at`` and one more impact edge ``e``, into CI ``v``."""
        ids, etype, egroup, kinds, names = self._steps
        path, body, notes = at
        code, grp, name = etype[e], egroup[e], names[v]
        if kinds[grp] != _HARD:  # a quorum behind the step: its note
            notes = [*notes, self.prop.group_note(grp)]
        body = f"{body} -> {name}{_STEPS[code]}"
        text = body + "".join(f"; {note.text}" for note in notes) if notes else body
        made = _path(  # in new lists
            cause=path.cause,
            ci_ids=[*path.ci_ids, ids[v]],
            names=[*path.names, name],
            types=[*path.types, TYPE_NAMES[code]],
            text=text,
            groups=[*notes],
        )
        return made, body, notes

    def _tree(self, si: int, v: int) -> _Tree:
        """The path of search ``si``'s tree from its cause to ``v``, built once per CI from
        its parent's."""
        memo = self._memo[si]
        got = memo.get(v)
        if got is not None:
            return got
        parents, src = self.searches[si].parents, self.prop.graph.src_list
        chain: list[int] = []
        x = v
        while x not in memo and (e := parents[x]) >= 0:
            chain.append(x)
            x = src[e]
        base = memo.get(x)
        if base is None:  # x is the cause
            ci_id, name = self.prop.graph.ids[x], self.prop.graph.names[x]
            start = _path(
                cause=ci_id,
                ci_ids=[ci_id],
                names=[name],
                types=[],
                text=name,
                groups=[],
            )
            base = memo[x] = (start, name, [])
        for y in reversed(chain):
            base = memo[y] = self._then(base, parents[y], y)
        return base

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
