"""The acyclic fast path of the SPOF pass (one kill-set pass and one dominator-set pass in
topological order) against brute force, the general cone algorithm and networkx."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from impact.cone import cone_of
from impact.graph import build_impact_graph
from impact.spof import SpofResult, _spofs, funnels, single_points_of_failure, spof_indices
from tests.unit.impact.builders import topo
from tests.unit.impact.strategies import Topology, clustered, topologies
from tests.unit.impact.test_spof import brute_force


@settings(max_examples=300, deadline=None)
@given(topologies(max_n=10, acyclic=True), st.data())
def test_acyclic_spofs_equal_brute_force(t: Topology, data: st.DataObject) -> None:
    g = build_impact_graph(t.subgraph())
    assert g.needs.rank is not None  # the fast path is the one under test
    s = data.draw(st.integers(0, g.n - 1))
    down = data.draw(st.lists(st.sampled_from(g.ids), max_size=2, unique=True))
    assert sorted(spof_indices(g, s, already_down=down)) == brute_force(g, s, down)


@settings(max_examples=200, deadline=None)
@given(clustered(max_n=8))
def test_acyclic_spofs_with_a_cluster_equal_brute_force(tc: tuple[Topology, int]) -> None:
    t, _cluster = tc
    g = build_impact_graph(t.subgraph())
    s = g.n - 1
    assert sorted(spof_indices(g, s)) == brute_force(g, s, [])


@settings(max_examples=300, deadline=None)
@given(topologies(max_n=12, acyclic=True), st.data())
def test_fast_path_equals_the_general_algorithm(t: Topology, data: st.DataObject) -> None:
    g = build_impact_graph(t.subgraph())
    s = data.draw(st.integers(0, g.n - 1))
    r = single_points_of_failure(g, g.ids[s])
    cone = cone_of(g, s)
    found, _ = _spofs(g, cone, set())
    assert {x.id for x in r.spofs} == {g.ids[i] for i in found}
    assert r.cone_size == cone.size
    idom = funnels(cone)
    want = {}
    for i in found:
        d = idom[cone.local[i]]
        want[g.ids[i]] = None if d == cone.root else cone.ci_id(d)
    assert {x.id: x.funnel_id for x in r.spofs} == want


@settings(max_examples=200, deadline=None)
@given(topologies(max_n=12, acyclic=True), st.data())
def test_funnels_are_networkx_immediate_dominators(t: Topology, data: st.DataObject) -> None:
    g = build_impact_graph(t.subgraph())
    s = data.draw(st.integers(0, g.n - 1))
    cone = cone_of(g, s)
    flow = nx.DiGraph()
    flow.add_nodes_from(cone.nodes)
    # From each CI to what it needs, rooted at the service.
    pairs = zip(cone.src.tolist(), cone.dst.tolist(), strict=True)
    flow.add_edges_from((cone.nodes[b], cone.nodes[a]) for a, b in pairs)
    want = nx.immediate_dominators(flow, s)
    r = single_points_of_failure(g, g.ids[s])
    for x in r.spofs:
        d = want[g.pos[x.id]]
        assert x.funnel_id == (None if d == s else g.ids[d])


def test_a_cycle_anywhere_takes_the_general_path() -> None:
    g = topo(
        "s:Service a:Server b:Server c:Cluster m1:Server m2:Server",
        "s DEPENDS_ON a, a DEPENDS_ON b, b DEPENDS_ON a, a DEPENDS_ON c, "
        "m1 MEMBER_OF c, m2 MEMBER_OF c",
        extra={"c": {"redundancy": {"min_up": 1}}},
    )
    assert g.needs.rank is None
    r = single_points_of_failure(g, "s")
    assert {x.name: x.funnel for x in r.spofs} == {"a": None, "b": "a", "c": "a"}


@settings(max_examples=100, deadline=None)
@given(topologies(max_n=12, acyclic=True), st.data())
def test_the_built_answer_equals_the_validated_model(t: Topology, data: st.DataObject) -> None:
    """The answer is built without validation (cmdb.domain.built): it must be what
    validating the same values gives, field for field, lists not shared between SPOFs."""
    g = build_impact_graph(t.subgraph())
    s = data.draw(st.integers(0, g.n - 1))
    r = single_points_of_failure(g, g.ids[s])
    again = SpofResult.model_validate(r.model_dump())
    assert r == again
    assert [x.__dict__ for x in r.spofs] == [x.__dict__ for x in again.spofs]
    assert list(r.__dict__) == list(again.__dict__)
    lists = [id(x.services_lost) for x in r.spofs] + [id(x.customers_lost) for x in r.spofs]
    assert len(set(lists)) == len(lists)
