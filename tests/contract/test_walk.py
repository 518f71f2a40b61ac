"""subgraph(walk=..., leaves=...): each relationship type followed its own way, in one call.

The shape of an impact: a failure goes along MEMBER_OF (a VM to its cluster) and against
RUNS_ON/DEPENDS_ON (a cluster to what runs on it, an app to what depends on it); the other
members of a reached cluster come as leaves (quorum needs them; they are not walked from).
"""

from __future__ import annotations

import pytest

from cmdb.domain.errors import CmdbError, NotFound
from cmdb.store.contract import Direction, GraphStore, Subgraph
from tests.contract.builders import all_rels, cs, rel, rel_retire, up
from tests.fakes import FakeClock

IMPACT = {
    "DEPENDS_ON": Direction.IN,
    "RUNS_ON": Direction.IN,
    "HOSTED_ON": Direction.IN,
    "MEMBER_OF": Direction.OUT,
}
MEMBERS = {"MEMBER_OF": Direction.IN}


def _names(g: Subgraph) -> set[str]:
    return {ci.name for ci in g.nodes.values()}


def _edges(g: Subgraph) -> set[tuple[str, str, str]]:
    name = {i: c.name for i, c in g.nodes.items()}
    return {(name[e.source_id], e.type, name[e.target_id]) for e in g.edges}


def _check_edges(store: GraphStore, g: Subgraph, types: set[str]) -> None:
    """The edges are exactly the active ones of the walked types between returned CIs."""
    expected = {
        r.id
        for r in all_rels(store, include_retired=False)
        if r.source_id in g.nodes and r.target_id in g.nodes and r.type in types
    }
    assert {e.id for e in g.edges} == expected
    assert set(g.roots) <= set(g.nodes)


@pytest.fixture
def estate(store: GraphStore) -> dict[str, str]:
    """vm1..vm3 member of cluster c; app runs on c and depends on db; lb depends on app;
    vm1 hosted on host; app2 runs on vm2."""
    names = ["vm1", "vm2", "vm3", "c", "app", "db", "lb", "host", "app2"]
    res = store.apply(
        cs(
            up("VirtualMachine", "vm1"),
            up("VirtualMachine", "vm2"),
            up("VirtualMachine", "vm3"),
            up("Cluster", "c"),
            up("ApplicationInstance", "app"),
            up("Database", "db"),
            up("LoadBalancer", "lb"),
            up("Server", "host"),
            up("ApplicationInstance", "app2"),
            rel("MEMBER_OF", "vm1", "c"),
            rel("MEMBER_OF", "vm2", "c"),
            rel("MEMBER_OF", "vm3", "c"),
            rel("RUNS_ON", "app", "c"),
            rel("DEPENDS_ON", "app", "db"),
            rel("DEPENDS_ON", "lb", "app"),
            rel("HOSTED_ON", "vm1", "host"),
            rel("RUNS_ON", "app2", "vm2"),
        )
    )
    return dict(zip(names, res.ci_ids, strict=True))


def test_mixed_directions_exactly(store: GraphStore, estate: dict[str, str]) -> None:
    g = store.subgraph([estate["vm1"]], walk=IMPACT)
    # Along MEMBER_OF to the cluster, against RUNS_ON and DEPENDS_ON from there; never up
    # to what vm1 or app depend on (host, db).
    assert _names(g) == {"vm1", "c", "app", "lb"}
    assert _edges(g) == {
        ("vm1", "MEMBER_OF", "c"),
        ("app", "RUNS_ON", "c"),
        ("lb", "DEPENDS_ON", "app"),
    }
    assert g.depth_reached == 3
    assert not g.truncated_by_depth and not g.truncated_by_nodes
    _check_edges(store, g, set(IMPACT))
    # direction and types are ignored when a walk is given
    same = store.subgraph(
        [estate["vm1"]], walk=IMPACT, direction=Direction.BOTH, types=["OWNED_BY"]
    )
    assert same == g
    # and callers without a walk see the old behaviour (BOTH over-reaches)
    both = store.subgraph([estate["vm1"]], direction=Direction.BOTH, types=list(IMPACT))
    assert {"db", "host", "app2"} <= _names(both)


def test_leaves_bring_the_other_members(store: GraphStore, estate: dict[str, str]) -> None:
    g = store.subgraph([estate["vm1"]], walk=IMPACT, leaves=MEMBERS)
    assert _names(g) == {"vm1", "c", "app", "lb", "vm2", "vm3"}
    # vm2 is not walked from: app2, which runs on it, is not impacted by vm1
    assert ("vm2", "MEMBER_OF", "c") in _edges(g) and ("vm3", "MEMBER_OF", "c") in _edges(g)
    assert g.depth_reached == 3
    assert not g.truncated_by_depth and not g.truncated_by_nodes
    _check_edges(store, g, set(IMPACT))


def test_direction_per_type_from_the_other_end(store: GraphStore, estate: dict[str, str]) -> None:
    # Upstream of lb: along DEPENDS_ON/RUNS_ON/HOSTED_ON, against MEMBER_OF.
    up_walk = {t: Direction.IN if d is Direction.OUT else Direction.OUT for t, d in IMPACT.items()}
    g = store.subgraph([estate["lb"]], walk=up_walk)
    assert _names(g) == {"lb", "app", "db", "c", "vm1", "vm2", "vm3", "host"}
    assert g.depth_reached == 4  # lb -> app -> c -> vm1 -> host
    _check_edges(store, g, set(IMPACT))
    both = store.subgraph([estate["app"]], walk={"DEPENDS_ON": Direction.BOTH})
    assert _names(both) == {"app", "db", "lb"}


def test_depth_cap(store: GraphStore, estate: dict[str, str]) -> None:
    g = store.subgraph([estate["vm1"]], walk=IMPACT, max_depth=2)
    assert _names(g) == {"vm1", "c", "app"}
    assert g.depth_reached == 2 and g.truncated_by_depth and not g.truncated_by_nodes
    _check_edges(store, g, set(IMPACT))
    exact = store.subgraph([estate["vm1"]], walk=IMPACT, max_depth=3)
    assert exact.depth_reached == 3 and not exact.truncated_by_depth
    # Leaves come from every walked CI, also those at the cap, and add no depth.
    one = store.subgraph([estate["vm1"]], walk=IMPACT, leaves=MEMBERS, max_depth=1)
    assert _names(one) == {"vm1", "c", "vm2", "vm3"}
    assert one.depth_reached == 1 and one.truncated_by_depth
    zero = store.subgraph([estate["vm1"]], walk=IMPACT, max_depth=0)
    assert _names(zero) == {"vm1"} and zero.truncated_by_depth and zero.edges == []


def test_node_cap(store: GraphStore, estate: dict[str, str]) -> None:
    g = store.subgraph([estate["vm1"]], walk=IMPACT, max_nodes=3)
    assert _names(g) == {"vm1", "c", "app"}  # nearest first
    assert g.truncated_by_nodes
    _check_edges(store, g, set(IMPACT))
    # Leaves fill only what the walk leaves of the cap, in id order, and say so when cut.
    g5 = store.subgraph([estate["vm1"]], walk=IMPACT, leaves=MEMBERS, max_nodes=5)
    first = min(estate["vm2"], estate["vm3"])
    assert set(g5.nodes) == {estate[n] for n in ("vm1", "c", "app", "lb")} | {first}
    assert g5.truncated_by_nodes and not g5.truncated_by_depth
    _check_edges(store, g5, set(IMPACT))
    g6 = store.subgraph([estate["vm1"]], walk=IMPACT, leaves=MEMBERS, max_nodes=6)
    assert len(g6.nodes) == 6 and not g6.truncated_by_nodes


def test_cycles(store: GraphStore) -> None:
    res = store.apply(
        cs(
            up("ApplicationInstance", "a"),
            up("ApplicationInstance", "b"),
            up("ApplicationInstance", "x"),
            up("VirtualMachine", "vm"),
            up("Cluster", "c"),
            rel("DEPENDS_ON", "a", "b"),
            rel("DEPENDS_ON", "b", "x"),
            rel("DEPENDS_ON", "x", "a"),
            rel("MEMBER_OF", "vm", "c"),
            rel("RUNS_ON", "a", "c"),
        )
    )
    a, _b, _x, vm, _c = res.ci_ids
    g = store.subgraph([a], walk={"DEPENDS_ON": Direction.IN}, max_depth=50)
    assert _names(g) == {"a", "b", "x"} and g.depth_reached == 2 and len(g.edges) == 3
    assert not g.truncated_by_depth
    m = store.subgraph([vm], walk=IMPACT, leaves=MEMBERS, max_depth=50)
    assert _names(m) == {"vm", "c", "a", "b", "x"}
    assert m.depth_reached == 4  # vm -> c -> a -> x -> b
    assert not m.truncated_by_depth and not m.truncated_by_nodes
    _check_edges(store, m, set(IMPACT))


def test_as_of_after_a_relationship_is_retired(store: GraphStore, clock: FakeClock) -> None:
    res = store.apply(
        cs(
            up("VirtualMachine", "vm1"),
            up("Cluster", "c"),
            up("ApplicationInstance", "app"),
            up("LoadBalancer", "lb"),
            rel("MEMBER_OF", "vm1", "c"),
            rel("RUNS_ON", "app", "c"),
            rel("DEPENDS_ON", "lb", "app"),
        )
    )
    vm1 = res.ci_ids[0]
    t0 = clock()
    clock.advance(10)
    store.apply(cs(up("VirtualMachine", "vm2"), rel("MEMBER_OF", "vm2", "c")))
    t1 = clock()
    clock.advance(10)
    store.apply(cs(rel_retire("RUNS_ON", "app", "c")))
    clock.advance(10)
    then = store.subgraph([vm1], walk=IMPACT, leaves=MEMBERS, as_of=t0)
    assert _names(then) == {"vm1", "c", "app", "lb"}  # vm2 had not joined yet
    assert then.depth_reached == 3
    assert _edges(then) == {
        ("vm1", "MEMBER_OF", "c"),
        ("app", "RUNS_ON", "c"),
        ("lb", "DEPENDS_ON", "app"),
    }
    mid = store.subgraph([vm1], walk=IMPACT, leaves=MEMBERS, as_of=t1)
    assert _names(mid) == {"vm1", "c", "app", "lb", "vm2"}
    capped = store.subgraph([vm1], walk=IMPACT, leaves=MEMBERS, as_of=t1, max_depth=2)
    assert _names(capped) == {"vm1", "c", "app", "vm2"} and capped.truncated_by_depth
    assert store.subgraph([vm1], walk=IMPACT, as_of=t1, max_nodes=2).truncated_by_nodes
    now = store.subgraph([vm1], walk=IMPACT, leaves=MEMBERS)
    assert _names(now) == {"vm1", "c", "vm2"}  # the retired RUNS_ON is not followed
    assert _edges(now) == {("vm1", "MEMBER_OF", "c"), ("vm2", "MEMBER_OF", "c")}
    assert now.depth_reached == 1 and not now.truncated_by_depth


def test_bad_input(store: GraphStore, estate: dict[str, str]) -> None:
    with pytest.raises(NotFound):
        store.subgraph(["nope"], walk=IMPACT)
    with pytest.raises(CmdbError):
        store.subgraph([estate["vm1"]], walk={"NOT_A_TYPE": Direction.IN})
    alone = store.subgraph([estate["vm1"], estate["db"]], walk={})
    assert _names(alone) == {"vm1", "db"} and alone.edges == [] and alone.depth_reached == 0
