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
from itertools import pairwise

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
    live = {i: c for i, c in sub.nodes.items() if c.status not in RETIRED_STATUSES}
    ids = sorted(live)
    pos = {ci_id: i for i, ci_id in enumerate(ids)}
    cis = [live[i] for i in ids]
    warnings: list[str] = []

    hard: dict[tuple[int, int], int] = {}
    clusters: dict[int, dict[int, int]] = {}
    replicas: dict[tuple[int, str, str], dict[int, int]] = {}
    grouping: dict[tuple[int, int], int] = {}
    classes = [c.ci_class for c in cis]
    # By ends alone (``Subgraph.ends``): a brief subgraph carries no documents.
    for rel in sub.ends():  # by type first: where two types join a pair, the first wins
        plan = _TYPE_PLANS.get(rel.type)
        if plan is None:
            continue
        s, t = pos.get(rel.source_id), pos.get(rel.target_id)
        if s is None or t is None:
            continue
        reverse, code, membership, contains = plan
        u, v = (t, s) if reverse else (s, t)
        if u == v:
            continue
        v_class = classes[v]
        if membership and _is_cluster(v_class):
            clusters.setdefault(v, {}).setdefault(u, code)
        elif contains and is_grouping(v_class):
            grouping.setdefault((u, v), code)
        elif (
            replica_groups
            and contains
            and _is_replica_parent(v_class)
            and classes[u] in REPLICA_CLASSES
        ):
            tier = str(cis[u].attributes.get("tier", ""))
            replicas.setdefault((v, classes[u], tier), {}).setdefault(u, code)
        else:
            hard.setdefault((u, v), code)

    # One group per hard edge, in (source, target) order, then the quorum groups.
    ordered = sorted(hard.items())
    e_src: list[int] = [u for (u, _v), _c in ordered]
    e_dst: list[int] = [v for (_u, v), _c in ordered]
    e_type: list[int] = [c for _uv, c in ordered]
    e_group: list[int] = list(range(len(ordered)))
    g_node: list[int] = e_dst.copy()
    g_k: list[int] = [1] * len(ordered)
    g_size: list[int] = [1] * len(ordered)
    g_kind: list[int] = [int(GroupKind.HARD)] * len(ordered)

    def add_group(v: int, members: dict[int, int], k: int, kind: GroupKind) -> None:
        g = len(g_node)
        g_node.append(v)
        g_k.append(k)
        g_size.append(len(members))
        g_kind.append(int(kind))
        for u, code in sorted(members.items()):
            e_src.append(u)
            e_dst.append(v)
            e_type.append(code)
            e_group.append(g)

    for v, members in sorted(clusters.items()):
        add_group(v, members, _cluster_quorum(cis[v], len(members), warnings), GroupKind.CLUSTER)
    for (v, _cls, _tier), members in sorted(replicas.items()):
        if len(members) == 1:
            add_group(v, members, 1, GroupKind.HARD)
        else:
            k = _replica_quorum(cis[v], len(members), warnings)
            add_group(v, members, k, GroupKind.REPLICAS)

    n = len(ids)
    memberships = sorted(grouping.items(), key=lambda m: (m[0][1], m[0][0]))
    grp_src = np.array([u for (u, _v), _c in memberships], dtype=np.int64)
    grp_dst = np.array([v for (_u, v), _c in memberships], dtype=np.int64)
    src = np.array(e_src, dtype=np.int64)
    dst = np.array(e_dst, dtype=np.int64)
    egroup = np.array(e_group, dtype=np.int64)
    gnode = np.array(g_node, dtype=np.int64)
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
        etype=np.array(e_type, dtype=np.int64),
        egroup=egroup,
        out=Csr.build(src, n, far=dst),
        inc=Csr.build(dst, n, far=src),
        gnode=gnode,
        gk=np.array(g_k, dtype=np.int64),
        gsize=np.array(g_size, dtype=np.int64),
        gkind=np.array(g_kind, dtype=np.int64),
        gmem=Csr.build(egroup, len(g_node)),
        roots=list(sub.roots),
        ignored=sorted(set(sub.nodes) - set(live)),
        warnings=warnings,
        depth_reached=sub.depth_reached,
        truncated_by_depth=sub.truncated_by_depth,
        truncated_by_nodes=sub.truncated_by_nodes,
        frontier=front,
        grp_src=grp_src,
        grp_dst=grp_dst,
        grp_type=np.array([c for _m, c in memberships], dtype=np.int64),
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
