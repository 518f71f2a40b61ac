"""Asking the store for the part of the graph an impact question needs.

**Which direction, and why BOTH.** A failure travels *against* DEPENDS_ON, RUNS_ON,
HOSTED_ON, CONTAINS, CONNECTS_TO, LOCATED_IN and SUPPLIED_BY (from target to source: the
store's ``Direction.IN``) but *along* MEMBER_OF and SERVES (source to target: ``OUT``). A
real impact path alternates: a VM fails, the cluster it is a member of (OUT) loses a
member, the instances that run on the cluster (IN) are hit. With one ``direction`` per
call, the only single call that contains every impact path is ``Direction.BOTH``
("one-call"); ``walk`` (below) gives each type its own direction instead. BOTH also
brings what quorum needs: the *other* members of a cluster (one step IN from the cluster
along MEMBER_OF). Its undirected depth is never more than the directed impact depth, so a
depth cap of D keeps every CI within D impact steps.

The price is over-fetching: BOTH also walks *up* from every impacted CI to what it depends
on, and from there down to everything else that depends on that (a shared database, a
switch, a location pulls in its whole estate). Two things keep it down:

* **types pruned by class**: from the registry's allowed class pairs we derive which CI
  classes an impact starting at the roots' classes can ever reach, and ask only for the
  relationship types whose impact *origin* is such a class. A Location or a Supplier is
  never impacted by a server (nothing flows into them except from another Location), so
  LOCATED_IN and SUPPLIED_BY, the two great hubs, are left out unless a root is one;
* the caps: ``max_nodes`` bounds the answer and the subgraph says when it cut.

``fetch(..., strategy="walk")`` (the default of ``impact.queries.Limits``) asks for the
exact closure in ONE call: ``GraphStore.subgraph(walk=..., leaves=...)`` follows each type
in its own impact direction (IN for the target-to-source types, OUT for MEMBER_OF and
SERVES; upstream the other way round) and adds, as leaves that are not walked from, the
other members of every reached group: each member of a reached cluster (quorum counts all
of them) and what a reached CI CONTAINS (the other replicas of an application, the other
members of a namespace or a site, which its count of members hit needs). It reads what
"rounds" reads and nothing more, in one round trip.

``fetch(..., strategy="rounds")`` is the older exact alternative, for a store without
``walk``: it alternates IN walks over the
target-to-source types with OUT walks over the source-to-target ones, from the newly reached
CIs only, and fetches the other members of reached groups in a last step per direction.
It reads only what the impact reaches (plus those members) at the cost of a few round trips (about
three per cluster hop on the longest path). See bench/impact.py for all three measured.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal

from cmdb.domain.classes import all_classes, descendants
from cmdb.domain.model import CI, Relationship
from cmdb.domain.relationships import REGISTRY, ImpactFlow
from cmdb.store.contract import Direction, GraphStore, Subgraph

DEFAULT_MAX_DEPTH = 12
DEFAULT_MAX_NODES = 20_000

Strategy = Literal["walk", "one-call", "rounds"]
CIOrId = CI | str


@dataclass(frozen=True)
class Fetched:
    """A subgraph and how it was obtained."""

    subgraph: Subgraph
    calls: int
    strategy: Strategy
    # CIs whose neighbours a cap may have cut off (None: derive from the subgraph).
    frontier: frozenset[str] | None = None


# -- which relationship types can carry an impact from given classes --------------------


@cache
def _class_flows() -> tuple[tuple[str, str, str], ...]:
    """(type, origin class, receiver class) for every allowed pair that carries impact."""
    flows: set[tuple[str, str, str]] = set()
    for rtype in REGISTRY.values():
        if rtype.impact is ImpactFlow.NONE:
            continue
        for sources, targets in rtype.allowed:
            s = {c for group in sources for c in descendants(group)}
            t = {c for group in targets for c in descendants(group)}
            origins, receivers = (t, s) if rtype.impact is ImpactFlow.TARGET_TO_SOURCE else (s, t)
            flows.update((rtype.name, o, r) for o in origins for r in receivers)
    return tuple(sorted(flows))


@cache
def impact_types(root_classes: frozenset[str], upstream: bool) -> tuple[str, ...]:
    """Relationship types an impact can travel along, starting from (or, upstream, ending
    at) CIs of ``root_classes``: what a walk from those roots needs to ask for."""
    flows = _class_flows()
    step: dict[str, set[str]] = {}
    for _t, o, r in flows:
        a, b = (r, o) if upstream else (o, r)
        step.setdefault(a, set()).add(b)
    seen = set(root_classes)
    todo = deque(root_classes)
    while todo:
        c = todo.popleft()
        for nxt in step.get(c, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    names = {t for t, o, r in flows if (r if upstream else o) in seen}
    return tuple(name for name in REGISTRY if name in names)


def _types_for(cis: Sequence[CIOrId], upstream: bool) -> tuple[str, ...]:
    if all(isinstance(c, CI) for c in cis):
        classes = frozenset(c.ci_class for c in cis if isinstance(c, CI))
    else:  # an id alone does not say its class: every class is possible
        classes = frozenset(all_classes())
    return impact_types(classes, upstream)


def _ids(cis: Sequence[CIOrId]) -> list[str]:
    return list(dict.fromkeys(c.id if isinstance(c, CI) else c for c in cis))


# -- one call ----------------------------------------------------------------------------


def impact_subgraph(
    store: GraphStore,
    cis: Sequence[CIOrId],
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
    as_of: datetime | None = None,
) -> Subgraph:
    """Everything a failure of ``cis`` can reach, in ONE store call (BOTH, pruned types)."""
    return store.subgraph(
        _ids(cis),
        direction=Direction.BOTH,
        types=_types_for(cis, upstream=False),
        max_depth=max_depth,
        max_nodes=max_nodes,
        as_of=as_of,
    )


def dependency_subgraph(
    store: GraphStore,
    cis: Sequence[CIOrId],
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
    as_of: datetime | None = None,
) -> Subgraph:
    """Everything whose failure can reach ``cis`` (what they depend on), in ONE call."""
    return store.subgraph(
        _ids(cis),
        direction=Direction.BOTH,
        types=_types_for(cis, upstream=True),
        max_depth=max_depth,
        max_nodes=max_nodes,
        as_of=as_of,
    )


# The other members of a reached group, one step from it: a cluster's members (IN along
# MEMBER_OF), and what a CI CONTAINS (OUT): the other replicas of an application, the other
# members of a namespace or a site. A failure reaches a group through one member only.
MEMBERS: dict[str, Direction] = {
    **{t.name: Direction.IN for t in REGISTRY.values() if t.redundancy_membership},
    "CONTAINS": Direction.OUT,
}


# -- the choice of strategy --------------------------------------------------------------


def fetch(
    store: GraphStore,
    cis: Sequence[CIOrId],
    *,
    upstream: bool = False,
    strategy: Strategy = "one-call",
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
    as_of: datetime | None = None,
    brief: bool = False,
) -> Fetched:
    """Downstream (what a failure of ``cis`` reaches) or upstream (what ``cis`` need).

    ``brief``: the caller only builds the impact view, so the walk may answer with a
    brief subgraph (``GraphStore.subgraph(brief=True)``: links, CIs without sources,
    provenance, identifiers and agreements); the other strategies answer in full."""
    if strategy == "walk":
        return _walk(store, cis, upstream, max_depth, max_nodes, as_of, brief)
    if strategy == "one-call":
        get = dependency_subgraph if upstream else impact_subgraph
        sub = get(store, cis, max_depth=max_depth, max_nodes=max_nodes, as_of=as_of)
        return Fetched(subgraph=sub, calls=1, strategy="one-call")
    return _rounds(store, cis, upstream, max_depth, max_nodes, as_of)


def impact_walk(
    cis: Sequence[CIOrId], upstream: bool
) -> tuple[dict[str, Direction], dict[str, Direction] | None]:
    """The per-type walk of an impact (downstream: against target-to-source types, along
    the others; upstream the other way round) and, downstream, the leaves quorum and
    member counts need (:data:`MEMBERS`)."""
    against, along = (Direction.OUT, Direction.IN) if upstream else (Direction.IN, Direction.OUT)
    walk = {
        t: against if REGISTRY[t].impact is ImpactFlow.TARGET_TO_SOURCE else along
        for t in _types_for(cis, upstream)
    }
    if upstream:
        return walk, None
    return walk, dict(MEMBERS)


def _walk(
    store: GraphStore,
    cis: Sequence[CIOrId],
    upstream: bool,
    max_depth: int,
    max_nodes: int,
    as_of: datetime | None,
    brief: bool = False,
) -> Fetched:
    """The exact closure and the members of its clusters: ONE store call."""
    walk, leaves = impact_walk(cis, upstream)
    sub = store.subgraph(
        _ids(cis),
        walk=walk,
        leaves=leaves,
        max_depth=max_depth,
        max_nodes=max_nodes,
        as_of=as_of,
        brief=brief,
    )
    frontier: frozenset[str] = frozenset()
    if sub.truncated_by_depth:
        dist = _directed_distances(sub, walk)
        frontier = frozenset(i for i, d in dist.items() if d >= max_depth)
    return Fetched(subgraph=sub, calls=1, strategy="walk", frontier=frontier)


def _directed_distances(sub: Subgraph, walk: dict[str, Direction]) -> dict[str, int]:
    """Steps from the roots to each walked CI, each edge taken the way the walk took it."""
    step: dict[str, list[str]] = {}
    for e in sub.ends():
        way = walk.get(e.type)
        if way is Direction.OUT:
            step.setdefault(e.source_id, []).append(e.target_id)
        elif way is Direction.IN:
            step.setdefault(e.target_id, []).append(e.source_id)
    out = dict.fromkeys(sub.roots, 0)
    todo = deque(sub.roots)
    while todo:
        a = todo.popleft()
        for b in step.get(a, ()):
            if b not in out:
                out[b] = out[a] + 1
                todo.append(b)
    return out


def _rounds(
    store: GraphStore,
    cis: Sequence[CIOrId],
    upstream: bool,
    max_depth: int,
    max_nodes: int,
    as_of: datetime | None,
) -> Fetched:
    roots = _ids(cis)
    allowed = set(_types_for(cis, upstream))
    t2s = [t for t in allowed if REGISTRY[t].impact is ImpactFlow.TARGET_TO_SOURCE]
    s2t = [t for t in allowed if REGISTRY[t].impact is ImpactFlow.SOURCE_TO_TARGET]
    # Downstream walks against target-to-source edges (IN) and along the others (OUT);
    # upstream the other way round.
    phases: list[tuple[list[str], Direction]] = [
        (t2s, Direction.OUT if upstream else Direction.IN),
        (s2t, Direction.IN if upstream else Direction.OUT),
    ]
    nodes: dict[str, CI] = {}
    edges: dict[str, Relationship] = {}
    dist: dict[str, int] = dict.fromkeys(roots, 0)
    frontier: set[str] = set()
    pending = [set(roots), set(roots)]  # CIs not yet walked from, per phase
    calls = 0
    by_depth = by_nodes = False
    phase = 0
    idle = 0
    while idle < 2 and not by_nodes:
        types, direction = phases[phase]
        seeds = sorted(s for s in pending[phase] if dist[s] < max_depth)
        pending[phase].clear()
        if not types or not seeds:
            idle += 1
            phase = 1 - phase
            continue
        budget = max(1, max_nodes - len(nodes))
        depth = max_depth - min(dist[s] for s in seeds)
        sub = store.subgraph(
            seeds, direction=direction, types=types, max_depth=depth, max_nodes=budget, as_of=as_of
        )
        calls += 1
        by_nodes |= sub.truncated_by_nodes
        new = [i for i in sub.nodes if i not in nodes]
        nodes.update(sub.nodes)
        edges.update((e.id, e) for e in sub.edges)
        for ci_id, d in _walk_distances(sub, direction, dist).items():
            if d < dist.get(ci_id, max_depth + 1):
                dist[ci_id] = d
        if sub.truncated_by_depth:
            by_depth = True
            frontier.update(i for i, d in dist.items() if d >= max_depth)
        for i in new:
            dist.setdefault(i, max_depth)
        # The walk already went as far as it could from what it found in this phase; the
        # new CIs continue in the other phase (a VM reached IN goes OUT to its cluster).
        pending[1 - phase].update(new)
        idle = 0 if new else idle + 1
        phase = 1 - phase
    if not upstream and not by_nodes:
        calls += _add_members(store, nodes, edges, max_nodes, as_of)
    merged = Subgraph(
        roots=roots,
        nodes=nodes,
        edges=sorted(edges.values(), key=lambda e: e.id),
        depth_reached=max(dist.values(), default=0),
        truncated_by_depth=by_depth,
        truncated_by_nodes=by_nodes,
    )
    return Fetched(subgraph=merged, calls=calls, strategy="rounds", frontier=frozenset(frontier))


def _add_members(
    store: GraphStore,
    nodes: dict[str, CI],
    edges: dict[str, Relationship],
    max_nodes: int,
    as_of: datetime | None,
) -> int:
    """One more step from every reached CI along :data:`MEMBERS` (what ``walk`` adds as
    leaves): the other members of every reached group. A call per direction."""
    calls = 0
    reached = sorted(nodes)
    for way in (Direction.IN, Direction.OUT):
        types = sorted(t for t, d in MEMBERS.items() if d is way)
        if not types:
            continue
        sub = store.subgraph(
            reached,
            direction=way,
            types=types,
            max_depth=1,
            max_nodes=max(len(reached), max_nodes),
            as_of=as_of,
        )
        nodes.update(sub.nodes)
        edges.update((e.id, e) for e in sub.edges)
        calls += 1
    return calls


def _walk_distances(sub: Subgraph, direction: Direction, known: dict[str, int]) -> dict[str, int]:
    """Steps from the walk's roots to each CI, along the walk's direction."""
    step: dict[str, list[str]] = {}
    for e in sub.ends():
        a, b = (
            (e.source_id, e.target_id) if direction is Direction.OUT else (e.target_id, e.source_id)
        )
        step.setdefault(a, []).append(b)
    out = {r: known.get(r, 0) for r in sub.roots}
    todo = deque(sorted(sub.roots, key=lambda r: out[r]))
    while todo:
        a = todo.popleft()
        for b in step.get(a, ()):
            if b not in out or out[a] + 1 < out[b]:
                out[b] = out[a] + 1
                todo.append(b)
    return out
