"""Single points of failure: known answers, brute force, and the dominator funnel."""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from impact.cone import cone_of
from impact.dominators import immediate_dominators
from impact.graph import build_impact_graph
from impact.propagate import propagate
from impact.severity import FailureMode, Severity
from impact.spof import funnels, single_points_of_failure, spof_indices
from tests.unit.impact.builders import topo
from tests.unit.impact.strategies import Topology, topologies

# The sample's shape: instances on a 2-of-3 cluster whose VMs 1 and 2 share host h1,
# and a database with no standby.
ESTATE = topo(
    "svc:Service app:Application i1:ApplicationInstance i2:ApplicationInstance c:Cluster "
    "v1:VirtualMachine v2:VirtualMachine v3:VirtualMachine h1:Server h2:Server db:Database "
    "team:Team",
    "svc CONTAINS app, app CONTAINS i1, app CONTAINS i2, i1 RUNS_ON c, i2 RUNS_ON c, "
    "v1 MEMBER_OF c, v2 MEMBER_OF c, v3 MEMBER_OF c, v1 HOSTED_ON h1, v2 HOSTED_ON h1, "
    "v3 HOSTED_ON h2, i1 DEPENDS_ON db, i2 DEPENDS_ON db, db OWNED_BY team",
    extra={"c": {"redundancy": {"min_up": 2}}},
)


def names(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {s.name for s in result.spofs}


def test_known_answer_with_redundancy() -> None:
    r = single_points_of_failure(ESTATE, "svc")
    # The shared host tips the quorum; a single VM or instance does not.
    assert names(r) == {"app", "c", "db", "h1"}
    assert {s.name: s.funnel for s in r.spofs} == {"app": None, "c": "app", "db": "app", "h1": "c"}
    assert r.cone_size == 11 and not r.already_down


def test_an_open_incident_turns_the_remaining_members_into_spofs() -> None:
    r = single_points_of_failure(ESTATE, "svc", already_down=["v3"])
    assert {"v1", "v2", "h1"} <= names(r)
    assert "h2" not in names(r)  # its only VM is already down
    assert single_points_of_failure(ESTATE, "svc", already_down=["db"]).already_down


def test_one_of_n_needs_a_common_cause() -> None:
    g = topo(
        "s:Service c:Cluster a:Server b:Server sw:NetworkDevice",
        "s DEPENDS_ON c, a MEMBER_OF c, b MEMBER_OF c, a CONNECTS_TO sw, b CONNECTS_TO sw",
        extra={"c": {"redundancy": {"min_up": 1}}},
    )
    assert names(single_points_of_failure(g, "s")) == {"c", "sw"}


def test_cycles() -> None:
    g = topo(
        "s:Service a:Server b:Server c:Cluster m1:Server m2:Server",
        "s DEPENDS_ON a, a DEPENDS_ON b, b DEPENDS_ON a, a DEPENDS_ON c, "
        "m1 MEMBER_OF c, m2 MEMBER_OF c, m1 DEPENDS_ON s",
        extra={"c": {"redundancy": {"min_up": 1}}},
    )
    assert names(single_points_of_failure(g, "s")) == {"a", "b", "c"}


def brute_force(graph, s: int, down: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    if propagate(graph, {}, already_down=down).sev[s] == Severity.DOWN:
        return []
    cone = cone_of(graph, s)
    out = []
    for i in cone.nodes:
        if i == s:
            continue
        p = propagate(graph, {graph.ids[i]: FailureMode.DOWN}, already_down=down)
        if p.sev[s] == Severity.DOWN:
            out.append(i)
    return sorted(out)


@settings(max_examples=200, deadline=None)
@given(topologies(max_n=9), st.data())
def test_spof_equals_brute_force(t: Topology, data: st.DataObject) -> None:
    g = build_impact_graph(t.subgraph())
    s = data.draw(st.integers(0, g.n - 1))
    down = data.draw(st.lists(st.sampled_from(g.ids), max_size=2, unique=True))
    assert sorted(spof_indices(g, s, already_down=down)) == brute_force(g, s, down)


@settings(max_examples=100, deadline=None)
@given(topologies(max_n=9))
def test_funnel_of_a_spof_is_the_service_or_another_spof(t: Topology) -> None:
    g = build_impact_graph(t.subgraph())
    s = g.n - 1
    cone = cone_of(g, s)
    spofs = {cone.local[i] for i in spof_indices(g, s)}
    idom = funnels(cone)
    for v in spofs:
        assert idom[v] == cone.root or idom[v] in spofs


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=40))
def test_dominators_match_networkx(n: int, pairs: list[tuple[int, int]]) -> None:
    edges = sorted({(a % n, b % n) for a, b in pairs if a % n != b % n})
    src = np.array([a for a, _ in edges], dtype=np.int64)
    dst = np.array([b for _, b in edges], dtype=np.int64)
    got = immediate_dominators(n, src, dst, 0)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    want = nx.immediate_dominators(g, 0)
    want[0] = 0  # networkx 3.6 leaves the root out; ours maps it to itself
    for v in range(n):
        assert got[v] == want.get(v, -1), (v, got.tolist(), want)
