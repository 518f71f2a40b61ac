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

The brute-force check (fail each CI alone with :func:`impact.propagate.propagate`) is the
property test.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel

from impact.cone import Cone, cone_of
from impact.dominators import immediate_dominators
from impact.graph import ImpactGraph
from impact.propagate import propagate
from impact.severity import Severity


class Spof(BaseModel):
    id: str
    name: str
    ci_class: str
    funnel: str | None  # name of the nearest CI all its impact on the service flows through
    funnel_id: str | None


class SpofResult(BaseModel):
    service: str
    service_name: str
    cone_size: int
    already_down: bool  # the service is down before any new failure (open incidents)
    spofs: list[Spof]


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


def _killers(members: tuple[int, ...], tolerance: int, kill: list[int], everyone: int) -> int:
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
    cone = cone_of(graph, service)
    result, _ = _spofs(graph, cone, already_down)
    return result


def _spofs(graph: ImpactGraph, cone: Cone, already_down: Iterable[str]) -> tuple[list[int], bool]:
    pre = list(already_down)
    down: list[int] = []
    if pre:
        base = propagate(graph, {}, already_down=pre)
        gone = np.flatnonzero(base.sev == int(Severity.DOWN)).tolist()
        down = [cone.local[i] for i in gone if i in cone.local]
    if cone.root in down:
        return [], True
    mask = kill_sets(cone, down)[cone.root]
    found = [cone.nodes[v] for v in range(cone.size) if v != cone.root and mask >> v & 1]
    return sorted(found, key=lambda i: (graph.cis[i].ci_class, graph.ids[i])), False


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
    cone = cone_of(graph, s)
    found, is_down = _spofs(graph, cone, list(already_down))
    idom = funnels(cone)
    out: list[Spof] = []
    for i in found:
        d = idom[cone.local[i]]
        via = None if d < 0 or d == cone.root else cone.nodes[d]
        out.append(
            Spof(
                id=graph.ids[i],
                name=graph.name(i),
                ci_class=graph.cis[i].ci_class,
                funnel=None if via is None else graph.name(via),
                funnel_id=None if via is None else graph.ids[via],
            )
        )
    return SpofResult(
        service=service_id,
        service_name=graph.name(s),
        cone_size=cone.size,
        already_down=is_down,
        spofs=out,
    )
