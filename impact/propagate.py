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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cmdb.domain.relationships import REGISTRY, ImpactFlow
from impact._arrays import IntArray, unique
from impact.graph import TYPE_NAMES, GroupKind, ImpactGraph
from impact.severity import FailureMode, Severity


@dataclass(frozen=True)
class Propagation:
    """Severity per CI of ``graph`` after the given failures."""

    graph: ImpactGraph
    sev: IntArray  # Severity value per node
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

    def group_reason(self, g: int) -> str:
        """Why a group grades its CI as it does, in words (for clusters and replicas)."""
        gr = self.graph
        n, k = int(gr.gsize[g]), int(gr.gk[g])
        d, dg = int(self.down_count[g]), int(self.degraded_count[g])
        what = "members" if gr.gkind[g] == GroupKind.CLUSTER else "replicas"
        up = n - d
        text = f"{up} of {n} {what} up, {k} needed"
        if dg:
            text += f" ({dg} degraded)"
        if up < k:
            return text + ": below quorum"
        if up - dg < k:
            return text + ": quorum needs degraded members"
        if d:
            return text + ": redundancy reduced"
        if dg or self.any_count[g]:
            return text + ": members at risk"
        return text

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
            self.sev.tolist(),
        )

    def reason(self, v: int) -> str:
        """The worst group of CI v explained, or what failed it directly."""
        if v in self.causes:
            return "failed" if self.graph.ids[v] in self.failed else "down in an open incident"
        gr = self.graph
        ptr, items, egroup, grades, kinds, sev = self._lists
        worst, best_edge = -1, -1
        for e in items[ptr[v] : ptr[v + 1]]:
            grade = grades[egroup[e]]
            if grade > worst:
                worst, best_edge = grade, e
        if best_edge < 0:
            return ""
        g = egroup[best_edge]
        if kinds[g] != GroupKind.HARD:
            return f"{gr.name(v)}: {self.group_reason(g)}"
        member = int(gr.src[best_edge])
        label = Severity(sev[member]).label
        return f"{phrase(gr, best_edge)} {gr.name(member)} ({label})"


# How the CI an impact edge points at relates to its cause, per type code: "runs on"
# (instance -> host), "has member" (cluster -> member): the registry's own words.
_PHRASES: tuple[str, ...] = tuple(
    t.forward if t.impact is ImpactFlow.TARGET_TO_SOURCE else t.reverse
    for t in (REGISTRY[name] for name in TYPE_NAMES)
)


def phrase(graph: ImpactGraph, edge: int) -> str:
    return _PHRASES[int(graph.etype[edge])]


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
        sev=sev,
        causes=causes,
        failed=known_failed,
        already_down=frozenset(down_before),
        unknown=sorted(unknown),
        down_count=down,
        degraded_count=degraded,
        any_count=anyc,
    )
