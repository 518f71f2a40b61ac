"""The impact view of a subgraph: who fails when whom fails, and under which quorum.

Every relationship is turned into an *impact edge* ``u -> v`` ("a failure of u impacts v")
using the direction its type declares in the registry (``ImpactFlow``): for DEPENDS_ON,
RUNS_ON, HOSTED_ON, CONTAINS, CONNECTS_TO, LOCATED_IN and SUPPLIED_BY the target's failure
impacts the source; for MEMBER_OF and SERVES the source's failure impacts the target; types
with no flow (OWNED_BY, MEMBER_OF_TEAM) are dropped. Retired CIs (withdrawn, disposed) and
retired relationships take no part.

The edges into a CI are sorted into **groups**, each saying how many of its members must be
up for the CI to be up:

* a plain dependency is a group of one that needs its one member (``k = n = 1``);
* the members of a Cluster (a type with ``redundancy_membership``) form one group that
  needs ``Redundancy.required(n)`` of the n live members. A Cluster that declares no
  redundancy needs all of them: slack nobody declared cannot be assumed;
* **replica groups** (a documented reading of CONTAINS, on by default): an Application or
  KubernetesWorkload that contains several ApplicationInstances, Containers or Pods of the
  same class and the same ``attributes.tier`` (if they carry one) needs one of them (or
  ``attributes.min_replicas``), because they are copies of one another; different tiers
  (web, api, worker) are each needed. Without this reading every replica would be a single
  point of failure of its application, which no one running two copies believes.

A CI is up when every one of its groups has at least ``k`` members up. Everything else in
the engine (propagation, SPOF, availability, recovery) reads these arrays.

**Groupings are not made of their members.** What a CI of a grouping class
(:data:`cmdb.domain.classes.GROUPINGS`: a namespace, a compose project, a Terraform module,
a site) CONTAINS is kept apart, in the ``grp_*`` arrays, and is no impact edge: a grouping
needs none of its members, so no SPOF, availability or recovery answer runs through it.
Propagation reads them once the impact has settled, to say how many members of each
grouping are hit (:mod:`impact.propagate`). A Service, an Application or a workload keeps
"contains" as an impact edge: it is made of what it contains.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache, cached_property
from itertools import pairwise, repeat
from operator import attrgetter, itemgetter

import numpy as np

from cmdb.domain.classes import is_a, is_grouping
from cmdb.domain.model import CI, RETIRED_STATUSES
from cmdb.domain.relationships import REGISTRY, ImpactFlow
from cmdb.store.contract import Subgraph
from impact._arrays import BoolArray, Csr, IntArray, bfs, topological_order

TYPE_NAMES: tuple[str, ...] = tuple(REGISTRY)
TYPE_CODE: dict[str, int] = {name: i for i, name in enumerate(TYPE_NAMES)}

# Classes whose CONTAINS children of one replica class are copies of each other.
REPLICA_PARENTS: tuple[str, ...] = ("Application", "KubernetesWorkload")
REPLICA_CLASSES: frozenset[str] = frozenset({"ApplicationInstance", "Container", "Pod"})


class GroupKind(IntEnum):
    HARD = 0
    CLUSTER = 1
    REPLICAS = 2


Members = tuple[int, ...]


@dataclass(frozen=True)
class Needs:
    """What each node needs, as plain tuples: the SPOF passes read them node by node, and
    a tuple of ints is what a Python loop reads fastest (numpy scalars are slow one by one).
    """

    rank: IntArray | None  # position in a topological order (causes first); None: a cycle
    up: list[Members]  # every distinct member of the node's groups
    hard: list[Members]  # members needed alone (groups without slack)
    quorum: list[tuple[tuple[int, Members], ...]]  # (tolerance, members) of groups with slack
    by_class: IntArray  # position of each node in (class, id) order: how answers list CIs

    @classmethod
    def of(cls, g: ImpactGraph) -> Needs:
        n = g.n
        tolerance = g.gsize - g.gk
        alone = tolerance[g.egroup] == 0
        hard = _per_node(g.src[alone], g.dst[alone], n)
        none: tuple[tuple[int, Members], ...] = ()
        quorum = [none] * n
        up = list(hard)
        slack = np.flatnonzero(tolerance > 0)
        if len(slack):
            gm, src = g.gmem, g.src.tolist()
            ptr, items = gm.ptr.tolist(), gm.items.tolist()
            by_node: dict[int, list[tuple[int, Members]]] = {}
            for grp, v, t in zip(
                slack.tolist(), g.gnode[slack].tolist(), tolerance[slack].tolist(), strict=True
            ):
                members = tuple(src[e] for e in items[ptr[grp] : ptr[grp + 1]])
                by_node.setdefault(v, []).append((t, members))
            for v, groups in by_node.items():
                quorum[v] = tuple(groups)
                up[v] = tuple(sorted({*hard[v], *(u for _t, ms in groups for u in ms)}))
        order = topological_order(n, g.src, g.dst)
        rank: IntArray | None = None
        if order is not None:
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.arange(n, dtype=np.int64)
        # Node numbers follow the sorted ids, so a stable sort on the class breaks ties by id.
        classes = np.array([c.ci_class for c in g.cis], dtype=object)
        by_class = np.empty(n, dtype=np.int64)
        by_class[np.argsort(classes, kind="stable")] = np.arange(n, dtype=np.int64)
        return cls(rank=rank, up=up, hard=hard, quorum=quorum, by_class=by_class)


def _per_node(src: IntArray, dst: IntArray, n: int) -> list[Members]:
    """The sources of the edges into each node, sorted."""
    order = np.lexsort((src, dst))
    flat = src[order].tolist()
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=ptr[1:])
    bounds = ptr.tolist()
    return [tuple(flat[a:b]) for a, b in pairwise(bounds)]


@dataclass(frozen=True)
class ImpactGraph:
    """Live CIs, impact edges and quorum groups, as integer arrays (node = position)."""

    ids: list[str]
    pos: dict[str, int]
    cis: list[CI]
    src: IntArray  # edge e: a failure of src[e] ...
    dst: IntArray  # ... impacts dst[e]
    etype: IntArray  # code into TYPE_NAMES
    egroup: IntArray  # the group edge e makes its source a member of
    out: Csr  # edges by source
    inc: Csr  # edges by target
    gnode: IntArray  # the CI each group belongs to
    gk: IntArray  # members that must be up
    gsize: IntArray  # members
    gkind: IntArray  # GroupKind
    gmem: Csr  # edges by group: the members are src[edge]
    roots: list[str]
    ignored: list[str] = field(default_factory=list)  # retired CIs met in the subgraph
    warnings: list[str] = field(default_factory=list)
    depth_reached: int = 0
    truncated_by_depth: bool = False
    truncated_by_nodes: bool = False
    frontier: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    # Grouping membership (no impact edges): member grp_src[j] is grouped by grp_dst[j].
    grp_src: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    grp_dst: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    grp_type: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    grp_in: Csr | None = None  # memberships by grouping (far end: the member)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def n_groups(self) -> int:
        return len(self.gnode)

    def index(self, ci_id: str) -> int | None:
        return self.pos.get(ci_id)

    def name(self, i: int) -> str:
        return self.cis[i].name

    def members(self, g: int) -> list[int]:
        return [int(self.src[e]) for e in self.gmem.of(g).tolist()]

    def type_name(self, e: int) -> str:
        return TYPE_NAMES[int(self.etype[e])]

    @cached_property
    def names(self) -> list[str]:
        """Each node's name: an answer reads one per CI and per path step."""
        return [c.name for c in self.cis]

    @cached_property
    def src_list(self) -> list[int]:
        """``src`` as a list, for walks back along paths one edge at a time."""
        out: list[int] = self.src.tolist()
        return out

    @cached_property
    def type_codes(self) -> tuple[list[int], list[int]]:
        """``etype`` and ``grp_type`` as lists: a path reads them one element at a time,
        which is several times slower on a numpy array."""
        return self.etype.tolist(), self.grp_type.tolist()

    def grouped(self, v: int) -> list[int]:
        """Membership numbers (into ``grp_*``) of what grouping ``v`` groups."""
        if self.grp_in is None:
            return []
        out: list[int] = self.grp_in.of(v).tolist()
        return out

    def with_groupings(self, mask: BoolArray) -> BoolArray:
        """``mask`` and every grouping that groups a CI of it, nested groupings too (a
        site of a room of a server). One vectorised pass per level of nesting."""
        if not len(self.grp_src):
            return mask
        out = mask.copy()
        while True:
            add = self.grp_dst[out[self.grp_src] & ~out[self.grp_dst]]
            if not len(add):
                return out
            out[add] = True

    @cached_property
    def needs(self) -> Needs:
        """Per-node member tuples and a topological rank, built once per graph (a graph
        answers many questions: SPOF of each service, availability, recovery)."""
        return Needs.of(self)


def build_impact_graph(
    sub: Subgraph,
    *,
    replica_groups: bool = True,
    frontier: Iterable[str] | None = None,
) -> ImpactGraph:
    """Turn a store's subgraph into the impact view (see the module docstring)."""
    # Reads per CI and per link go through map() and C-level getters: no Python frame per
    # item (a 100k change impact reads ~1.5k CIs and ~2.3k links).
    nodes = sub.nodes
    if RETIRED_STATUSES.isdisjoint(map(_STATUS, nodes.values())):
        live = nodes
    else:
        live = {i: c for i, c in nodes.items() if c.status not in RETIRED_STATUSES}
    ids = sorted(live)
    n = len(ids)
    pos = dict(zip(ids, range(n), strict=True))
    cis = list(map(live.__getitem__, ids))
    # Each link's ends and type plan, then sorted into hard edges, cluster and replica
    # memberships and groupings with numpy.
    links = sub.ends()
    m = len(links)
    s = np.fromiter(map(pos.get, map(_SOURCE, links), repeat(-1, m)), dtype=np.int64, count=m)
    t = np.fromiter(map(pos.get, map(_TARGET, links), repeat(-1, m)), dtype=np.int64, count=m)
    row = np.fromiter(map(_PLAN_ROW.get, map(_TYPE, links), repeat(-1, m)), np.int64, count=m)
    ok = (row >= 0) & (s >= 0) & (t >= 0)
    s, t, row = s[ok], t[ok], row[ok]
    reverse = _PLAN_REVERSE[row]
    u, v = np.where(reverse, t, s), np.where(reverse, s, t)
    keep = u != v
    u, v, row = u[keep], v[keep], row[keep]
    code, contains = _PLAN_CODE[row], _PLAN_CONTAINS[row]
    kinds = np.fromiter(map(_class_kind, map(_CLASS, cis)), dtype=np.int64, count=n)
    v_kind = kinds[v]
    # Each link is the first of these that applies: a membership of a cluster, of a
    # grouping, of a replica set; else a hard edge.
    in_cluster = _PLAN_MEMBERSHIP[row] & ((v_kind & _CLUSTER) > 0)
    in_grouping = ~in_cluster & contains & ((v_kind & _GROUPING) > 0)
    replica = ~in_cluster & ~in_grouping & contains & ((v_kind & _REPLICA_PARENT) > 0)
    replica &= (kinds[u] & _REPLICA) > 0
    if not replica_groups:
        replica[:] = False
    hard_edge = ~(in_cluster | in_grouping | replica)

    # Where two links join one pair (or put one member in a group), the first wins: the
    # links come by type, and np.unique's first index is the first link.
    hu, hv, hc = _first_by_pair(u[hard_edge], v[hard_edge], code[hard_edge], n)
    warnings: list[str] = []
    # Cluster memberships by cluster, then member: one group per cluster.
    cv, cu, cc = _first_by_pair(v[in_cluster], u[in_cluster], code[in_cluster], n)
    c_first = _starts(cv)
    c_nodes = cv[c_first].tolist()
    c_size = np.diff(np.append(c_first, len(cv)))
    c_k = [
        _cluster_quorum(cis[x], size, warnings)
        for x, size in zip(c_nodes, c_size.tolist(), strict=True)
    ]
    # Replica memberships by parent, then the member's class and tier (strings, compared
    # as strings), then member: one group per (parent, class, tier).
    rv, ru, rc = _first_by_pair(v[replica], u[replica], code[replica], n)
    r_cls = _ranks([cis[x].ci_class for x in ru.tolist()])
    r_tier = _ranks([str(cis[x].attributes.get("tier", "")) for x in ru.tolist()])
    order = np.lexsort((ru, r_tier, r_cls, rv))
    rv, ru, rc, r_cls, r_tier = rv[order], ru[order], rc[order], r_cls[order], r_tier[order]
    new_group = np.ones(len(rv), dtype=np.bool_)
    new_group[1:] = (rv[1:] != rv[:-1]) | (r_cls[1:] != r_cls[:-1]) | (r_tier[1:] != r_tier[:-1])
    r_first = np.flatnonzero(new_group)
    r_nodes = rv[r_first].tolist()
    r_size = np.diff(np.append(r_first, len(rv)))
    r_k, r_kind = [], []
    for x, size in zip(r_nodes, r_size.tolist(), strict=True):
        if size == 1:  # a lone replica is needed as any dependency is
            r_k.append(1)
            r_kind.append(int(GroupKind.HARD))
        else:
            r_k.append(_replica_quorum(cis[x], size, warnings))
            r_kind.append(int(GroupKind.REPLICAS))

    # One group per hard edge, in (source, target) order, then the clusters', then the
    # replicas'; the edges in the same order.
    n_hard, n_clusters = len(hu), len(c_nodes)
    src = np.concatenate([hu, cu, ru])
    dst = np.concatenate([hv, cv, rv])
    etype = np.concatenate([hc, cc, rc])
    egroup = np.concatenate(
        [
            np.arange(n_hard, dtype=np.int64),
            n_hard + np.cumsum(_starts_mask(cv)) - 1,
            n_hard + n_clusters + np.cumsum(new_group) - 1,
        ]
    )
    gnode = np.concatenate([hv, cv[c_first], rv[r_first]])
    ones = np.ones(n_hard, dtype=np.int64)
    gk = np.concatenate([ones, np.array(c_k, dtype=np.int64), np.array(r_k, dtype=np.int64)])
    gsize = np.concatenate([ones, c_size, r_size])
    gkind = np.concatenate(
        [
            np.full(n_hard, int(GroupKind.HARD), dtype=np.int64),
            np.full(n_clusters, int(GroupKind.CLUSTER), dtype=np.int64),
            np.array(r_kind, dtype=np.int64),
        ]
    )
    # Grouping memberships by grouping, then member.
    grp_dst, grp_src, grp_type = _first_by_pair(
        v[in_grouping], u[in_grouping], code[in_grouping], n
    )
    front = np.zeros(n, dtype=np.bool_)
    if frontier is not None:
        front[[pos[f] for f in frontier if f in pos]] = True
    elif sub.truncated_by_depth:
        front = _undirected_frontier(sub, pos, n)
    return ImpactGraph(
        ids=ids,
        pos=pos,
        cis=cis,
        src=src,
        dst=dst,
        etype=etype,
        egroup=egroup,
        out=Csr.build(src, n, far=dst),
        inc=Csr.build(dst, n, far=src),
        gnode=gnode,
        gk=gk,
        gsize=gsize,
        gkind=gkind,
        gmem=Csr.build(egroup, len(gnode)),
        roots=list(sub.roots),
        ignored=sorted(set(nodes) - set(live)) if live is not nodes else [],
        warnings=warnings,
        depth_reached=sub.depth_reached,
        truncated_by_depth=sub.truncated_by_depth,
        truncated_by_nodes=sub.truncated_by_nodes,
        frontier=front,
        grp_src=grp_src,
        grp_dst=grp_dst,
        grp_type=grp_type,
        grp_in=Csr.build(grp_dst, n, far=grp_src),
    )


def _type_plan(name: str) -> tuple[bool, int, bool, bool] | None:
    """How an edge of type ``name`` enters the impact view: (impact flows from target
    to source, type code, makes its source a member of a cluster, is CONTAINS); None for
    a type that carries no impact."""
    rtype = REGISTRY[name]
    if rtype.impact is ImpactFlow.NONE:
        return None
    reverse = rtype.impact is ImpactFlow.TARGET_TO_SOURCE
    return reverse, TYPE_CODE[name], rtype.redundancy_membership, name == "CONTAINS"


_TYPE_PLANS = {name: plan for name in REGISTRY if (plan := _type_plan(name)) is not None}
# The same as arrays, by a row number per type: what the impact view reads per link.
_PLAN_ROW: dict[str, int] = {name: i for i, name in enumerate(_TYPE_PLANS)}
_PLAN_REVERSE = np.array([p[0] for p in _TYPE_PLANS.values()], dtype=np.bool_)
_PLAN_CODE = np.array([p[1] for p in _TYPE_PLANS.values()], dtype=np.int64)
_PLAN_MEMBERSHIP = np.array([p[2] for p in _TYPE_PLANS.values()], dtype=np.bool_)
_PLAN_CONTAINS = np.array([p[3] for p in _TYPE_PLANS.values()], dtype=np.bool_)

# What a CI's class makes of the links into it (bits): a cluster, a grouping, a replica
# parent; and of one from it: a replica.
_CLUSTER, _GROUPING, _REPLICA_PARENT, _REPLICA = 1, 2, 4, 8


@cache
def _class_kind(ci_class: str) -> int:
    return (
        _CLUSTER * _is_cluster(ci_class)
        | _GROUPING * is_grouping(ci_class)
        | _REPLICA_PARENT * _is_replica_parent(ci_class)
        | _REPLICA * (ci_class in REPLICA_CLASSES)
    )


_TYPE, _SOURCE, _TARGET = itemgetter(0), itemgetter(1), itemgetter(2)  # of a Link
_STATUS, _CLASS = attrgetter("status"), attrgetter("ci_class")  # of a CI


def _starts_mask(keys: IntArray) -> BoolArray:
    """Where each run of equal values of a sorted array starts."""
    out = np.ones(len(keys), dtype=np.bool_)
    out[1:] = keys[1:] != keys[:-1]
    return out


def _starts(keys: IntArray) -> IntArray:
    return np.flatnonzero(_starts_mask(keys))


def _ranks(values: list[str]) -> IntArray:
    """Each string's rank among the distinct ones: sorting by rank sorts by string."""
    rank = {x: i for i, x in enumerate(sorted(set(values)))}
    return np.fromiter(map(rank.__getitem__, values), dtype=np.int64, count=len(values))


def _first_by_pair(
    a: IntArray, b: IntArray, code: IntArray, n: int
) -> tuple[IntArray, IntArray, IntArray]:
    """The distinct pairs (a, b), sorted, each with the code of its first occurrence."""
    n = max(n, 1)
    keys, first = np.unique(a * n + b, return_index=True)
    return keys // n, keys % n, code[first]


@cache
def _is_cluster(ci_class: str) -> bool:
    return is_a(ci_class, "Cluster")


@cache
def _is_replica_parent(ci_class: str) -> bool:
    return any(is_a(ci_class, p) for p in REPLICA_PARENTS)


def _cluster_quorum(cluster: CI, members: int, warnings: list[str]) -> int:
    if cluster.redundancy is None:
        return members
    k = cluster.redundancy.required(members)
    if k > members:
        # A quorum the recorded members can never meet: flag the data, and read it as
        # "all members needed" rather than declaring the cluster down for ever.
        warnings.append(
            f"{cluster.name} needs {k} members up but has {members}: treated as needing all"
        )
        return members
    return k


def _replica_quorum(parent: CI, members: int, warnings: list[str]) -> int:
    raw = parent.attributes.get("min_replicas", 1)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        warnings.append(f"{parent.name}: attributes.min_replicas {raw!r} is not a count; using 1")
        return 1
    return min(raw, members)


def _undirected_frontier(sub: Subgraph, pos: dict[str, int], n: int) -> BoolArray:
    """Live CIs at the depth cap: the store may have left their neighbours out.

    Distances are counted over every fetched edge in either direction (the way a BOTH
    walk counts them), retired CIs included because the store walked through them.
    """
    every = sorted(sub.nodes)
    at = {ci_id: i for i, ci_id in enumerate(every)}
    pairs = [
        (at[r.source_id], at[r.target_id])
        for r in sub.ends()
        if r.source_id in at and r.target_id in at
    ]
    a = np.array([p[0] for p in pairs] + [p[1] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs] + [p[0] for p in pairs], dtype=np.int64)
    roots = np.array([at[r] for r in sub.roots if r in at], dtype=np.int64)
    dist, _ = bfs(Csr.build(a, len(every), far=b), roots, len(every))
    front = np.zeros(n, dtype=np.bool_)
    for ci_id, i in pos.items():
        if dist[at[ci_id]] >= sub.depth_reached:
            front[i] = True
    return front


# The store-facing helpers live in impact.fetch; they are re-exported here because an
# impact view is always built from what they return.
from impact.fetch import dependency_subgraph, impact_subgraph  # noqa: E402

__all__ = [
    "REPLICA_CLASSES",
    "REPLICA_PARENTS",
    "TYPE_NAMES",
    "GroupKind",
    "ImpactGraph",
    "build_impact_graph",
    "dependency_subgraph",
    "impact_subgraph",
]
