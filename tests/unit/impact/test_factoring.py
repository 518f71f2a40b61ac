"""The incremental factoring (impact.factoring.factor) gives the specification's floats.

``impact.availability._factor`` re-walks the cone for every branch; ``factor`` derives each
branch from its parent. Both are run on the same structures with the same budgets, the
engine's own (which runs out on the generated estates: the answer is a bound) and others,
and must agree on every figure: value, lower, upper, steps and exactness.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.estate import DB, DEPENDS_ON, REL_TYPES, Estate, generate
from cmdb.domain.model import CI, Relationship
from cmdb.store.contract import Subgraph
from impact.availability import (
    FACTORING_WORK,
    MAX_FACTORINGS,
    _acyclic_members,
    _factor,
    _Structure,
    service_availability,
)
from impact.cone import cone_of
from impact.evidence import gather
from impact.factoring import factor
from impact.graph import ImpactGraph, build_impact_graph
from impact.spof import spof_indices
from tests.unit.impact.builders import rel
from tests.unit.impact.strategies import Topology, topologies


def _search_inputs(
    g: ImpactGraph, sid: str, budget: int | None = None
) -> tuple[_Structure, list[int], int]:
    """What service_availability hands the search (its structure, SPOFs and step budget)."""
    s = g.index(sid)
    assert s is not None
    cone = cone_of(g, s)
    evidence = gather((g.cis[i] for i in cone.nodes), None)
    p = [evidence[g.ids[i]].availability.value or 0.0 for i in cone.nodes]
    spofs = [cone.local[i] for i in spof_indices(g, s)]
    steps = min(MAX_FACTORINGS, max(16, FACTORING_WORK // max(1, cone.size)))
    return _Structure(cone, p), spofs, steps if budget is None else budget


def _same(g: ImpactGraph, sid: str, budget: int | None = None) -> tuple[float, float, float]:
    st_, spofs, steps = _search_inputs(g, sid, budget)
    want = _factor(st_, spofs, steps)
    got = factor(st_, spofs, steps)
    assert got[3:] == want[3:]  # steps taken, exact
    # The same operations in the same order: equal floats (1e-12 is the brief's bar).
    for a, b in zip(got[:3], want[:3], strict=True):
        assert a == pytest.approx(b, rel=0, abs=1e-12)
    assert got == want
    return got[:3]


# -- random small topologies, cycles allowed, every budget -----------------------------------


def _with_availabilities(t: Topology, values: list[float]) -> ImpactGraph:
    cis = [
        c.model_copy(update={"attributes": {"availability": values[i % len(values)]}})
        if c.ci_class in ("Server", "ApplicationInstance")
        else c
        for i, c in enumerate(t.cis())
    ]
    sub = Subgraph(roots=[cis[0].id], nodes={c.id: c for c in cis}, edges=t.rels(), depth_reached=1)
    return build_impact_graph(sub)


@settings(max_examples=150, deadline=None)
@given(
    topologies(max_n=12),
    st.lists(st.floats(0.5, 1.0), min_size=1, max_size=5),
    st.sampled_from([0, 1, 2, 3, 5, 8, 40, 4096]),
)
def test_factor_equals_the_specification_on_random_topologies(
    t: Topology, values: list[float], budget: int
) -> None:
    g = _with_availabilities(t, values)
    _same(g, t.name(len(t.classes) - 1), budget)


@settings(max_examples=100, deadline=None)
@given(topologies(max_n=12, acyclic=True))
def test_an_acyclic_cone_keeps_every_member(t: Topology) -> None:
    """_Structure skips the cycle-cutting walk when the cone has no cycle: what the walk
    would have kept is every member."""
    g = _with_availabilities(t, [0.9])
    cone = cone_of(g, g.pos[t.name(len(t.classes) - 1)])
    keep = _acyclic_members(cone)
    walked = [
        [
            (ms, min(grp.k, len(ms)))
            for i, grp in enumerate(gs)
            if (ms := tuple(m for m in grp.members if (v, i, m) in keep))
        ]
        for v, gs in enumerate(cone.groups)
    ]
    st_ = _Structure(cone, [0.9] * cone.size)
    assert st_.groups == walked and not st_.cycles_cut


# -- generated estates (bench/estate.py), before and after a proposal's kind of edit ---------


Edit = tuple[list[CI], list[Relationship], set[str]]  # CIs and edges added, edge ids dropped


def _estate_graph(est: Estate, edit: Edit = ([], [], set())) -> ImpactGraph:
    added_cis, added, dropped = edit
    cis = [
        CI.model_validate(
            {
                "id": f"c{i}",
                **est.upsert(i, est.identifier(i)).model_dump(by_alias=True, exclude_none=True),
            }
        )
        for i in range(est.n_cis)
    ]
    edges = [
        rel(f"c{s}", REL_TYPES[t], f"c{d}")
        for s, d, t in zip(est.src, est.dst, est.typ, strict=True)
    ]
    edges = [e for e in edges if e.id not in dropped] + added
    nodes = {c.id: c for c in [*cis, *added_cis]}
    return build_impact_graph(Subgraph(roots=[], nodes=nodes, edges=edges, depth_reached=1))


def _standby_pair(est: Estate) -> Edit:
    """bench/proposals.py's edit: the busiest database becomes one of a 1-of-2 pair, and
    one of its dependants depends on the pair instead."""
    users: dict[int, list[int]] = {i: [] for i, c in enumerate(est.cls) if c == DB}
    for s, d, t in zip(est.src, est.dst, est.typ, strict=True):
        if t == DEPENDS_ON and d in users:
            users[d].append(s)
    db = max(users, key=lambda d: len(users[d]))
    user = users[db][0]
    standby = CI.model_validate({"id": "standby", "class": "Database", "name": "standby"})
    pair = CI.model_validate(
        {"id": "pair", "class": "Cluster", "name": "pair", "redundancy": {"min_up": 1}}
    )
    moved = rel(f"c{user}", "DEPENDS_ON", f"c{db}")
    return (
        [standby, pair],
        [
            rel(f"c{db}", "MEMBER_OF", "pair"),
            rel("standby", "MEMBER_OF", "pair"),
            rel(f"c{user}", "DEPENDS_ON", "pair"),
        ],
        {moved.id},
    )


@pytest.mark.parametrize(("size", "seed"), [(1500, 42)])
def test_factor_equals_the_specification_on_generated_estates(size: int, seed: int) -> None:
    est = generate(size, seed)
    before = _estate_graph(est)
    after = _estate_graph(est, _standby_pair(est))
    services = [f"c{s}" for s in est.services]
    by_cone = sorted(services, key=lambda s: cone_of(before, before.pos[s]).size)
    # The smallest, the middle and the largest cone, at the engine's budget, where the
    # search runs out and the answer is a bound (the case the proposal diff meets).
    bounded = 0
    for sid in dict.fromkeys([by_cone[0], by_cone[len(by_cone) // 2], by_cone[-1]]):
        for g in (before, after):
            _same(g, sid)
            r = service_availability(g, sid)
            bounded += r.method == "bounds"
    assert bounded  # the generated estates do reach the bounded case
