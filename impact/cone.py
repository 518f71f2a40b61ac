"""A service's dependency cone: every CI whose failure can reach it, with local numbering.

SPOF, availability and recovery all reason over the same cone: the CIs from which an
impact path leads to the service, each with its groups (members and quorum), in an order
where what a CI needs comes before it. Cycles are kept together as strongly connected
components, so callers can treat each component as one step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from impact._arrays import IntArray, reach, strongly_connected, topological_order
from impact.graph import GroupKind, ImpactGraph


class Group(NamedTuple):  # a tuple: cones make thousands of these per question
    members: tuple[int, ...]  # local numbers
    k: int
    kind: GroupKind
    gid: int  # the group's number in the impact graph


@dataclass(frozen=True)
class Cone:
    graph: ImpactGraph
    root: int  # local number of the service
    nodes: list[int]  # graph node per local number
    local: dict[int, int]
    groups: list[list[Group]]  # per local node
    comps: list[list[int]]  # strongly connected components, dependencies first
    src: IntArray  # local edges member -> owner (a failure of src impacts dst)
    dst: IntArray

    @property
    def size(self) -> int:
        return len(self.nodes)

    def ci_id(self, v: int) -> str:
        return self.graph.ids[self.nodes[v]]


_KINDS = list(GroupKind)


def cone_of(graph: ImpactGraph, service: int) -> Cone:
    mask = reach(graph.inc, np.array([service], dtype=np.int64), graph.n)
    nodes_a = np.flatnonzero(mask)
    nodes = nodes_a.tolist()
    local_a = np.full(graph.n, -1, dtype=np.int64)
    local_a[nodes_a] = np.arange(len(nodes))
    # Every impact edge into the cone comes from inside it (the cone is closed upstream).
    edges, owner = graph.inc.gather(nodes_a)
    src_a = local_a[graph.src[edges]]
    dst_a = owner
    gids = graph.egroup[edges]
    order = np.lexsort((src_a, gids))
    gids_o = gids[order]
    cuts = (np.flatnonzero(gids_o[1:] != gids_o[:-1]) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, len(gids_o)]
    members_s = src_a[order].tolist()
    first = order[starts].tolist() if len(order) else []
    owners, gid_l = owner[first].tolist(), gids[first].tolist()
    gk, gkind = graph.gk[gid_l].tolist(), graph.gkind[gid_l].tolist()
    groups: list[list[Group]] = [[] for _ in nodes]
    if len(order):
        for a, b, o, g, k, kind in zip(starts, ends, owners, gid_l, gk, gkind, strict=True):
            groups[o].append(Group(tuple(members_s[a:b]), k, _KINDS[kind], g))
    topo = topological_order(len(nodes), src_a, dst_a)
    if topo is not None:
        comps = [[v] for v in topo.tolist()]
    else:
        comp = strongly_connected(len(nodes), src_a, dst_a)
        # Tarjan numbers a component after everything it reaches: owners (downstream) get
        # lower numbers than their members, so the highest numbers come first.
        buckets: dict[int, list[int]] = {}
        for v, c in enumerate(comp.tolist()):
            buckets.setdefault(c, []).append(v)
        comps = [buckets[c] for c in sorted(buckets, reverse=True)]
    return Cone(
        graph=graph,
        root=int(local_a[service]),
        nodes=nodes,
        local={g: i for i, g in enumerate(nodes)},
        groups=groups,
        comps=comps,
        src=src_a,
        dst=dst_a,
    )
