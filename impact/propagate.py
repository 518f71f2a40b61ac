"""Propagation: from failed CIs to the severity of everything their failure reaches.

**The rule, per group** (see :mod:`impact.graph` for groups). With n members, k of them
needed, d members down and g members degraded:

* ``n - d < k``: the group cannot make quorum -> **down**;
* ``n - d - g < k``: quorum holds only by counting degraded members -> **degraded**;
* any member down, degraded or at risk -> **at risk** ("redundancy reduced");
* otherwise up.

A CI's severity is the worst of its own failure (if it is a cause) and its groups. A plain
dependency is a group with n = k = 1, so the rule gives the obvious: a dependency down ->
down, degraded -> degraded, at risk -> at risk. A degraded member of a cluster *with
slack* counts as up for quorum and makes the cluster at risk, not degraded: the cluster
can shed it and still serve at full quality; only when the quorum needs the degraded
member does the cluster's quality drop. This choice also keeps the rule monotone (a member
going from degraded to down never makes the cluster look better), which is what makes a
fixpoint exist and be unique.

**Cycles**: severities only rise, through four grades, so iterating to the least fixpoint
ends after at most three rises per CI; a cycle no failure touches stays up.

**Open incidents**: CIs already down in open incidents are extra causes with mode down, so
a second failure can tip a quorum the first one dented. ``baseline`` is the same
propagation from those alone, so each answer can say what is new.

The loop is vectorised: each wave updates per-group counters for the CIs whose severity
changed in the previous wave, re-grades only the groups they belong to, and raises the
owners of those groups.

**Groupings** (a namespace, a compose project, a Terraform module, a site: see
:mod:`impact.graph`) are graded after the fixpoint, from their members: the worst member,
but never worse than **degraded** ("affected": some of what it groups is hit), and what
a grouping gets this way goes no further (the servers in a data centre are not hit because
a room of it is). ``spread`` is the severity each CI passes on; ``sev`` adds the
groupings' grades. Nested groupings (a site of a room) take one vectorised pass a level.

**Explanations** name the whole group behind a step (:class:`GroupNote`): "harbour-app-
cluster: 2 of 3 members needed, 1 left (vm-app-01, vm-app-02 down)", "default: 9 of 24
members hit (...)", so a quorum two members lost together never reads as one member's
doing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import BaseModel

from cmdb.domain.built import builder
from cmdb.domain.relationships import REGISTRY, ImpactFlow
from impact._arrays import IntArray, unique
from impact.graph import TYPE_NAMES, GroupKind, ImpactGraph
from impact.severity import FailureMode, Severity

# A note names at most this many members per state, then says how many more.
NAMED = 5
_WHAT = {GroupKind.CLUSTER: "members", GroupKind.REPLICAS: "replicas"}
# A plain int: comparing a numpy or list element with the IntEnum member goes through the
# enum machinery (~1 us a time, ~13k times in a 100k-CI change impact).
_HARD = int(GroupKind.HARD)
_DOWN = int(Severity.DOWN)


class GroupNote(BaseModel):
    """The group behind a step: a quorum (a cluster, a replica set) and what it lost, or
    a grouping (a namespace, a site) and how many of its members are hit."""

    ci_id: str  # the cluster, the replicated application, the grouping
    name: str
    kind: Literal["cluster", "replicas", "grouping"]
    members: int
    needed: int  # members that must be up (0 for a grouping: it needs none of them)
    left: int  # members not down
    down: int
    degraded: int
    at_risk: int
    hit: int  # members not up: down, degraded or at risk
    named: list[str]  # ids of the members the text names
    text: str


_note = builder(GroupNote)  # see cmdb.domain.built


@dataclass(frozen=True)
class Propagation:
    """Severity per CI of ``graph`` after the given failures."""

    graph: ImpactGraph
    sev: IntArray  # Severity value per node, groupings' grades included
    spread: IntArray  # what each node passes on: ``sev`` without the groupings' grades
    causes: dict[int, Severity]  # node -> the severity it was failed with (incl. incidents)
    failed: dict[str, FailureMode]  # the failures asked for (CIs of the graph only)
    already_down: frozenset[str]  # open-incident CIs that were taken as down
    unknown: list[str]  # failures asked for CIs not in the graph (retired or not fetched)
    down_count: IntArray  # per group: members down
    degraded_count: IntArray  # per group: members degraded
    any_count: IntArray  # per group: members not up

    def severity(self, ci_id: str) -> Severity:
        i = self.graph.index(ci_id)
        return Severity.UP if i is None else Severity(int(self.sev[i]))

    def impacted(self) -> IntArray:
        """Nodes worse than up, causes included."""
        return np.flatnonzero(self.sev > 0)

    def is_grouped(self, v: int) -> bool:
        """Is CI v graded by what it groups (worse than what it passes on)?"""
        return v not in self.causes and self._sevs[v] > self._lists[5][v]

    @cached_property
    def _sevs(self) -> list[int]:
        out: list[int] = self.sev.tolist()
        return out

    def _states(self, members: list[int], sev: list[int]) -> tuple[list[list[int]], str]:
        """Members by state (down, degraded, at risk) and the words naming them."""
        by: list[list[int]] = [[], [], []]
        for u in members:
            s = sev[u]
            if s:
                by[_DOWN - s].append(u)
        parts: list[str] = []
        for state, us in zip(("down", "degraded", "at risk"), by, strict=True):
            if not us:
                continue
            names = self._names(us)
            shown = ", ".join(names[:NAMED])
            if len(names) > NAMED:
                shown += f" and {len(names) - NAMED} more"
            parts.append(f"{shown} {state}")
        return by, "; ".join(parts)

    def _names(self, members: list[int]) -> list[str]:
        """Distinct names (a Deployment and its Service share one), what failed first."""
        names = self.graph.names
        first = sorted({names[u] for u in members if u in self.causes})
        return first + sorted({names[u] for u in members} - set(first))

    def _named(self, by: list[list[int]]) -> list[str]:
        ids, all_names = self.graph.ids, self.graph.names
        out: list[str] = []
        for us in by:
            names = self._names(us)[:NAMED]
            out += sorted(ids[u] for u in us if all_names[u] in names)
        return out

    @cached_property
    def _notes(self) -> dict[tuple[bool, int], GroupNote]:
        """Notes made so far: many paths go through one cluster (one note each)."""
        return {}

    def group_note(self, g: int) -> GroupNote:
        """A k-of-n group (cluster or replicas) of CI ``gnode[g]``, and what it lost."""
        note = self._notes.get((False, g))
        if note is None:
            note = self._notes[False, g] = self._group_note(g)
        return note

    def grouping_note(self, v: int) -> GroupNote:
        """What grouping ``v`` groups, and how much of it is hit."""
        note = self._notes.get((True, v))
        if note is None:
            note = self._notes[True, v] = self._grouping_note(v)
        return note

    def _group_note(self, g: int) -> GroupNote:
        gr = self.graph
        v = int(gr.gnode[g])
        n, k = int(gr.gsize[g]), int(gr.gk[g])
        src = gr.src_list
        by, states = self._states([src[e] for e in gr.gmem.of(g).tolist()], self._lists[5])
        d, dg, ar = (len(us) for us in by)
        kind = GroupKind(int(gr.gkind[g]))
        text = f"{gr.name(v)}: {k} of {n} {_WHAT.get(kind, 'members')} needed, {n - d} left"
        if states:
            text += f" ({states})"
        if n - d < k:
            text += ": below quorum"
        elif n - d - dg < k:
            text += ": quorum needs degraded members"
        elif d:
            text += ": redundancy reduced"
        elif dg or ar:
            text += ": members at risk"
        return _note(  # plain ints and strings, made here
            ci_id=gr.ids[v], name=gr.name(v),
            kind="cluster" if kind == GroupKind.CLUSTER else "replicas",
            members=n, needed=k, left=n - d, down=d, degraded=dg, at_risk=ar, hit=d + dg + ar,
            named=self._named(by), text=text,
        )  # fmt: skip

    def _grouping_note(self, v: int) -> GroupNote:
        gr = self.graph
        members = gr.grp_src[gr.grouped(v)].tolist()
        by, states = self._states(members, self._sevs)
        d, dg, ar = (len(us) for us in by)
        n = len(members)
        text = f"{gr.name(v)}: {d + dg + ar} of {n} members hit"
        if states:
            text += f" ({states})"
        return _note(  # as _group_note
            ci_id=gr.ids[v], name=gr.name(v), kind="grouping",
            members=n, needed=0, left=n - d, down=d, degraded=dg, at_risk=ar, hit=d + dg + ar,
            named=self._named(by), text=text,
        )  # fmt: skip

    def edge_note(self, e: int) -> GroupNote | None:
        """The note of the k-of-n group impact edge ``e`` is a member of (None: a plain
        dependency, which its step says all about)."""
        _ptr, _items, egroup, _grades, kinds, _sev = self._lists
        g = egroup[e]
        if kinds[g] == _HARD:
            return None
        return self.group_note(g)

    @cached_property
    def _lists(self) -> tuple[list[int], list[int], list[int], list[int], list[int], list[int]]:
        """Plain lists of what ``reason`` reads per CI (numpy scalars are slow one by one)."""
        gr = self.graph
        grades = _grade(gr.gsize, gr.gk, self.down_count, self.degraded_count, self.any_count)
        return (
            gr.inc.ptr.tolist(),
            gr.inc.items.tolist(),
            gr.egroup.tolist(),
            grades.tolist(),
            gr.gkind.tolist(),
            self.spread.tolist(),
        )

    def worst_group(self, v: int) -> tuple[int, int]:
        """(group, an edge of it) that grades CI v worst; (-1, -1) if none is hit."""
        best_edge = self._worst_edges[v]
        return (self._lists[2][best_edge], best_edge) if best_edge >= 0 else (-1, -1)

    @cached_property
    def _worst_edges(self) -> list[int]:
        """Per CI, the first edge into it (by edge number) of a group that grades it worst,
        -1 where no group is hit: for every CI at once (a loop per CI over its edges cost
        a fifth of explaining 9k CIs)."""
        gr = self.graph
        grades = _grade(gr.gsize, gr.gk, self.down_count, self.degraded_count, self.any_count)
        edge_grade = grades[gr.egroup]
        hit = np.flatnonzero(edge_grade > 0)  # edge numbers, ascending
        # By CI, worst grade first, then the lowest edge number: the first of each CI.
        order = hit[np.lexsort((hit, -edge_grade[hit], gr.dst[hit]))]
        dst = gr.dst[order]
        first = np.ones(len(order), dtype=np.bool_)
        first[1:] = dst[1:] != dst[:-1]
        out = np.full(gr.n, -1, dtype=np.int64)
        out[dst[first]] = order[first]
        worst: list[int] = out.tolist()
        return worst

    def note(self, v: int) -> GroupNote | None:
        """The group behind CI v's grade, when that is a quorum or what v groups."""
        return self.explain(v)[1]

    def reason(self, v: int) -> str:
        """The worst group of CI v explained, or what failed it directly."""
        return self.explain(v)[0]

    def explain(self, v: int) -> tuple[str, GroupNote | None]:
        """:meth:`reason` and :meth:`note` of CI v at once (an answer gives both per CI)."""
        if v in self.causes:
            failed = self.graph.ids[v] in self.failed
            return ("failed" if failed else "down in an open incident"), None
        _ptr, _items, egroup, _grades, kinds, sev = self._lists
        if self._sevs[v] > sev[v]:  # graded by what it groups (is_grouped)
            note = self.grouping_note(v)
            return note.text, note
        best_edge = self._worst_edges[v]
        if best_edge < 0:
            return "", None
        g = egroup[best_edge]
        if kinds[g] != _HARD:
            note = self.group_note(g)
            return note.text, note
        gr = self.graph
        member = gr.src_list[best_edge]
        step = _PHRASES[gr.type_codes[0][best_edge]]
        return f"{step} {gr.names[member]} ({_LABELS[sev[member]]})", None


# How the CI an impact edge points at relates to its cause, per type code: "runs on"
# (instance -> host), "has member" (cluster -> member): the registry's own words.
_PHRASES: tuple[str, ...] = tuple(
    t.forward if t.impact is ImpactFlow.TARGET_TO_SOURCE else t.reverse
    for t in (REGISTRY[name] for name in TYPE_NAMES)
)


_LABELS: dict[int, str] = {int(s): s.label for s in Severity}


def phrase(graph: ImpactGraph, edge: int) -> str:
    return _PHRASES[int(graph.etype[edge])]


def type_phrase(code: int) -> str:
    """The words of a type code (an impact edge's or a grouping membership's)."""
    return _PHRASES[code]


def _group(graph: ImpactGraph, sev: IntArray) -> IntArray:
    """``sev`` with each grouping graded by its worst member, capped at degraded, nested
    groupings included (a pass per level: grades only rise, so it ends)."""
    if not len(graph.grp_src):
        return sev
    out = sev.copy()
    dst = graph.grp_dst
    while True:
        grade = np.minimum(out[graph.grp_src], int(Severity.DEGRADED))
        rise = grade > out[dst]
        if not rise.any():
            return out
        np.maximum.at(out, dst[rise], grade[rise])


_MODE_SEVERITY = {FailureMode.DOWN: Severity.DOWN, FailureMode.DEGRADED: Severity.DEGRADED}


def _grade(n: IntArray, k: IntArray, d: IntArray, g: IntArray, anyc: IntArray) -> IntArray:
    out = np.where(anyc > 0, int(Severity.AT_RISK), int(Severity.UP))
    out = np.where(n - d - g < k, int(Severity.DEGRADED), out)
    out = np.where(n - d < k, int(Severity.DOWN), out)
    return out.astype(np.int64)


def propagate(
    graph: ImpactGraph,
    failures: Mapping[str, FailureMode],
    *,
    already_down: Iterable[str] = (),
) -> Propagation:
    """Severity of every CI after ``failures`` on top of ``already_down`` (least fixpoint)."""
    n, n_groups = graph.n, graph.n_groups
    sev = np.zeros(n, dtype=np.int64)
    causes: dict[int, Severity] = {}
    known_failed: dict[str, FailureMode] = {}
    unknown: list[str] = []
    down_before: set[str] = set()
    for ci_id in already_down:
        i = graph.index(ci_id)
        if i is None:
            continue
        causes[i] = Severity.DOWN
        down_before.add(ci_id)
    for ci_id, mode in failures.items():
        i = graph.index(ci_id)
        if i is None:
            unknown.append(ci_id)
            continue
        known_failed[ci_id] = mode
        causes[i] = max(causes.get(i, Severity.UP), _MODE_SEVERITY[mode])
    for i, s in causes.items():
        sev[i] = int(s)

    down = np.zeros(n_groups, dtype=np.int64)
    degraded = np.zeros(n_groups, dtype=np.int64)
    anyc = np.zeros(n_groups, dtype=np.int64)
    counted = np.zeros(n, dtype=np.int64)  # the severity the counters hold for each CI
    changed = unique(np.fromiter(causes, dtype=np.int64, count=len(causes)))
    out, egroup, gnode = graph.out, graph.egroup, graph.gnode
    while len(changed):
        edges, owner = out.gather(changed)
        if not len(edges):
            counted[changed] = sev[changed]
            break
        old = counted[changed][owner]
        new = sev[changed][owner]
        groups = egroup[edges]
        np.add.at(down, groups, (new == 3).astype(np.int64) - (old == 3))
        np.add.at(degraded, groups, (new == 2).astype(np.int64) - (old == 2))
        np.add.at(anyc, groups, (new >= 1).astype(np.int64) - (old >= 1))
        counted[changed] = sev[changed]
        touched = unique(groups)
        grades = _grade(graph.gsize[touched], graph.gk[touched], down[touched],
                        degraded[touched], anyc[touched])  # fmt: skip
        owners = gnode[touched]
        before = sev[owners].copy()
        np.maximum.at(sev, owners, grades)
        changed = unique(owners[sev[owners] > before])
    return Propagation(
        graph=graph,
        sev=_group(graph, sev),
        spread=sev,
        causes=causes,
        failed=known_failed,
        already_down=frozenset(down_before),
        unknown=sorted(unknown),
        down_count=down,
        degraded_count=degraded,
        any_count=anyc,
    )
