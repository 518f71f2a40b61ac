"""Single points of failure: the CIs whose failure alone takes a service down.

**Why not dominators alone.** A dominator tree answers "which CIs lie on *every* path",
the right test when a CI needs *any one* of what it points at. Our edges mostly mean the
opposite: an instance needs its host *and* its database, so either one alone takes it
down, though neither lies on every path. Read as a dominator problem, a database that every
instance needs would not be a SPOF. So the test is computed exactly, and the dominator tree
explains it:

* **kill sets** (exact): for each CI v of the cone, the set of CIs whose single failure
  takes v down, as a bitset over the cone, computed dependencies first:
  ``kill(v) = {v} | union over v's groups of killers(group)``, where a group with n members
  of which k are needed (tolerance ``t = n - k``) is killed by any CI that kills *more than
  t* of its members: for a plain dependency (t = 0) that is the union of the member's kill
  set, for a 1-of-n group the intersection, in between a count of members computed with
  bitwise counters. This is exact because a single failure's effect on each member is
  itself "killed or not": common-mode failures (one host under two of three cluster VMs)
  are found, and a member of a cluster with slack is not a SPOF unless it is behind one.
  Cycles iterate to the least fixpoint. Members already down in open incidents kill for
  everyone (``already_down``), so the remaining members of a dented quorum show up.
* **funnel** (dominator tree of the cone, rooted at the service, edges from a CI to what it
  needs): the immediate dominator of a SPOF is the nearest CI through which all of its
  impact flows; a SPOF's immediate dominator is always the service or another SPOF (any
  failure path to the service passes it, and what kills the funnel kills the service).

**How it runs.** When the impact graph has no cycle (the usual estate), both are one pass
each over the cone in a topological order kept per graph (``ImpactGraph.needs``): kill sets
causes first, dominator sets ``dom(v) = {v} | AND of dom(owner)`` from the service down,
where the immediate dominator is the highest bit (see :func:`_idoms`). With a cycle, the
cone's strongly connected components iterate to the fixpoint and the funnel comes from
:func:`impact.dominators.immediate_dominators` (Cooper-Harvey-Kennedy).

The brute-force check (fail each CI alone with :func:`impact.propagate.propagate`) is the
property test; another holds the acyclic passes to the general algorithm and to networkx.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from pydantic import BaseModel

from cmdb.domain.built import builder
from impact._arrays import reach
from impact.cone import Cone, cone_of
from impact.dominators import immediate_dominators
from impact.graph import ImpactGraph
from impact.propagate import propagate
from impact.severity import Severity


class LostService(BaseModel):
    """A service a single failure takes down (the one asked about, or another)."""

    id: str
    name: str
    customer_facing: bool
    criticality: str | None
    availability_target: float | None  # its SLA's, percent; None without an SLA
    customers: list[str]


class SpofCost(BaseModel):
    """What one failure costs, 0-100, and its parts (each 0-1): see impact/spof_rank.py."""

    value: float
    services: float
    customers: float
    sla_tightness: float
    failure: float
    formula: str = "100*(0.35S+0.25U+0.20T+0.20F)"


class Spof(BaseModel):
    id: str
    name: str
    ci_class: str
    funnel: str | None  # name of the nearest CI all its impact on the service flows through
    funnel_id: str | None
    # The ranking (impact/spof_rank.py); left at these values by single_points_of_failure.
    rank: int = 0  # 1 = costliest
    kind: str = "infrastructure"  # infrastructure, supplier or location
    cost: SpofCost | None = None
    services_lost: list[LostService] = []
    customers_lost: list[str] = []
    failure_rate: float = 0.0  # expected failures a year (see spof_rank.failure_rate)
    minutes_down: float = 0.0  # expected minutes down a year: failures x their length
    failure_rate_source: str = ""  # observed, declared or default
    failure_rate_basis: str = ""  # what it rests on, e.g. "2 failures over 12 months"
    remedy: str = ""  # what would stop it being a single point of failure


class SpofGroup(BaseModel):
    """The single points of failure of one kind: how many, and how many the limit hid."""

    kind: str
    found: int
    shown: int
    left_out: int
    costliest: str | None = None  # the name of its costliest, shown or not
    costliest_cost: float | None = None


class SpofResult(BaseModel):
    service: str
    service_name: str
    cone_size: int
    already_down: bool  # the service is down before any new failure (open incidents)
    spofs: list[Spof]  # costliest first once ranked
    total: int = 0  # single points of failure found (before a limit)
    left_out: int = 0  # of those, how many a limit left out
    groups: list[SpofGroup] = []
    warnings: list[str] = []


# Spof's ranking fields as single_points_of_failure leaves them (the model's defaults; the
# two lists are given fresh per SPOF).
_RANKING_DEFAULTS: dict[str, object] = {
    name: info.default
    for name, info in Spof.model_fields.items()
    if name
    not in ("id", "name", "ci_class", "funnel", "funnel_id", "services_lost", "customers_lost")
}
_spof = builder(Spof)
_result = builder(SpofResult)


def kill_sets(cone: Cone, down: Iterable[int] = ()) -> list[int]:
    """Per local CI, the bitset of local CIs whose single failure takes it down."""
    m = cone.size
    everyone = (1 << m) - 1
    pre = set(down)
    kill = [everyone if v in pre else 1 << v for v in range(m)]
    for comp in cone.comps:
        changed = True
        while changed:
            changed = False
            for v in comp:
                if v in pre:
                    continue
                acc = kill[v]
                for g in cone.groups[v]:
                    acc |= _killers(g.members, len(g.members) - g.k, kill, everyone)
                if acc != kill[v]:
                    kill[v] = acc
                    changed = len(comp) > 1
    return kill


def _killers(
    members: tuple[int, ...], tolerance: int, kill: Mapping[int, int] | list[int], everyone: int
) -> int:
    """CIs that kill more than ``tolerance`` of ``members``."""
    if tolerance <= 0:
        acc = 0
        for u in members:
            acc |= kill[u]
        return acc
    need = tolerance + 1
    if need == len(members):
        acc = everyone
        for u in members:
            acc &= kill[u]
        return acc
    # at_least[j]: CIs that kill at least j of the members seen so far.
    at_least = [everyone] + [0] * need
    for i, u in enumerate(members):
        mask = kill[u]
        for j in range(min(i + 1, need), 0, -1):
            at_least[j] |= at_least[j - 1] & mask
    return at_least[need]


def spof_indices(
    graph: ImpactGraph, service: int, *, already_down: Iterable[str] = ()
) -> list[int]:
    """Graph nodes whose failure alone takes ``service`` down (the service excluded)."""
    return spofs_of_each(graph, [service], already_down=already_down)[service]


def spofs_of_each(
    graph: ImpactGraph, services: Iterable[int], *, already_down: Iterable[str] = ()
) -> dict[int, list[int]]:
    """Per service node, the nodes whose failure alone takes it down (none when it is down
    already), with what is down before worked out once for all of them."""
    down = _down(graph, already_down)
    out: dict[int, list[int]] = {}
    for service in services:
        fast = _ordered_cone(graph, service)
        if fast is not None:
            found, _ = _kill_root(graph, fast, down)
        else:
            found, _ = _spofs(graph, cone_of(graph, service), down)
        out[service] = _by_class(graph, found)
    return out


def _down(graph: ImpactGraph, already_down: Iterable[str]) -> set[int]:
    """Nodes down before any new failure (open incidents and what they take down)."""
    pre = list(already_down)
    if not pre:
        return set()
    base = propagate(graph, {}, already_down=pre)
    return set(np.flatnonzero(base.sev == int(Severity.DOWN)).tolist())


def _by_class(graph: ImpactGraph, found: list[int]) -> list[int]:
    """``found`` in (class, id) order, without touching the CI objects."""
    if len(found) < 2:
        return list(found)
    nodes = np.array(found, dtype=np.int64)
    ordered: list[int] = nodes[np.argsort(graph.needs.by_class[nodes])].tolist()
    return ordered


def _ordered_cone(graph: ImpactGraph, service: int) -> list[int] | None:
    """The cone's nodes, causes first (the service last), when the graph has no cycle."""
    rank = graph.needs.rank
    if rank is None:
        return None
    nodes = np.flatnonzero(reach(graph.inc, np.array([service], dtype=np.int64), graph.n))
    ordered: list[int] = nodes[np.argsort(rank[nodes])].tolist()
    return ordered


def _kill_root(graph: ImpactGraph, order: list[int], down: set[int]) -> tuple[list[int], bool]:
    """The kill-set pass over an acyclic cone in causes-first order, bit j for ``order[j]``:
    the SPOFs of the service (``order[-1]``) and whether it is down already."""
    needs = graph.needs
    hard, quorum = needs.hard, needs.quorum
    m = len(order)
    if order[-1] in down:
        return [], True
    everyone = (1 << m) - 1
    kill: dict[int, int] = {}
    for j, v in enumerate(order):
        if v in down:
            kill[v] = everyone
            continue
        acc = 1 << j
        for u in hard[v]:
            acc |= kill[u]
        groups = quorum[v]
        if groups:
            for tolerance, members in groups:
                acc |= _killers(members, tolerance, kill, everyone)
        kill[v] = acc
    return [order[j] for j in _bits(kill[order[-1]]) if j != m - 1], False


def _bits(x: int) -> list[int]:
    """Positions of the set bits of ``x``, lowest first."""
    raw = np.frombuffer(x.to_bytes((x.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    found: list[int] = np.flatnonzero(np.unpackbits(raw, bitorder="little")).tolist()
    return found


def _idoms(graph: ImpactGraph, order: list[int]) -> dict[int, int]:
    """Immediate dominator per node of an acyclic cone (``order`` causes first), on edges
    from a CI to what it needs, rooted at the service; -1 for the service.

    In a DAG taken owners first, ``dom(v) = {v} | AND of dom(owner)`` is exact in one pass,
    and the dominators of v form a chain in that order: with bit i for the i-th node from
    the service, the immediate dominator is the highest bit of ``dom(v) - {v}``. A node's
    set is dropped once read, so only the sets still waiting for owners are held.
    """
    up = graph.needs.up
    m = len(order)
    dom: dict[int, int] = {}
    get = dom.get
    out: dict[int, int] = {}
    bit = 1
    for v in reversed(order):
        d = dom.pop(v, 0)
        j = d.bit_length() - 1
        out[v] = -1 if j < 0 else order[m - 1 - j]
        d |= bit
        for u in up[v]:
            dom[u] = get(u, d) & d
        bit <<= 1
    return out


def _spofs(graph: ImpactGraph, cone: Cone, down_nodes: set[int]) -> tuple[list[int], bool]:
    down = [cone.local[i] for i in down_nodes if i in cone.local]
    if cone.root in down:
        return [], True
    mask = kill_sets(cone, down)[cone.root]
    return [cone.nodes[v] for v in range(cone.size) if v != cone.root and mask >> v & 1], False


def funnels(cone: Cone) -> list[int]:
    """Immediate dominator (local) per local CI, on edges from a CI to what it needs."""
    idom: list[int] = immediate_dominators(cone.size, cone.dst, cone.src, cone.root).tolist()
    return idom


def single_points_of_failure(
    graph: ImpactGraph, service_id: str, *, already_down: Iterable[str] = ()
) -> SpofResult:
    s = graph.index(service_id)
    if s is None:
        raise KeyError(service_id)
    down = _down(graph, already_down)
    order = _ordered_cone(graph, s)
    if order is not None:
        found, is_down = _kill_root(graph, order, down)
        idom = _idoms(graph, order) if found else {}
        size = len(order)
    else:
        cone = cone_of(graph, s)
        found, is_down = _spofs(graph, cone, down)
        local = funnels(cone)
        nodes = cone.nodes
        idom = {i: -1 if local[v] < 0 else nodes[local[v]] for i, v in cone.local.items()}
        size = cone.size
    ids, cis = graph.ids, graph.cis
    out: list[Spof] = []
    # Built from the graph's own valid values (cmdb.domain.built), not validated again:
    # validating the rows was half of the answer (tests/unit/impact/test_spof_fast.py
    # holds the result equal to the validated model).
    for i in _by_class(graph, found):
        via = idom[i]
        far = via < 0 or via == s
        ci = cis[i]
        out.append(
            _spof(
                id=ids[i],
                name=ci.name,
                ci_class=ci.ci_class,
                funnel=None if far else cis[via].name,
                funnel_id=None if far else ids[via],
                **_RANKING_DEFAULTS,
                services_lost=[],
                customers_lost=[],
            )
        )
    return _result(
        service=service_id,
        service_name=graph.name(s),
        cone_size=size,
        already_down=is_down,
        spofs=out,
        total=len(out),
        left_out=0,
        groups=[],
        warnings=[],
    )
