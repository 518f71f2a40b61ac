"""neighbours() and subgraph(): types, directions, caps, cycles, retired edges."""

from __future__ import annotations

import pytest

from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.store.contract import Direction, GraphStore, Subgraph
from tests.contract.builders import all_rels, ci_by_key, cs, rel, rel_retire, up


def _check_shape(store: GraphStore, g: Subgraph, types: list[str] | None = None) -> None:
    """Every root is returned, and the edges are exactly the active ones (of the asked
    types) between returned nodes: none to outside, none left out."""
    assert set(g.roots) <= set(g.nodes)
    for node_id, ci in g.nodes.items():
        assert ci.id == node_id
    assert len({e.id for e in g.edges}) == len(g.edges)
    expected = {
        r.id
        for r in all_rels(store, include_retired=False)
        if r.source_id in g.nodes and r.target_id in g.nodes and (types is None or r.type in types)
    }
    assert {e.id for e in g.edges} == expected
    assert all(e.active for e in g.edges)


def _pairs(g: Subgraph) -> set[tuple[str, str]]:
    return {(e.source_id, e.target_id) for e in g.edges}


def _names(g: Subgraph) -> set[str]:
    return {ci.name for ci in g.nodes.values()}


@pytest.fixture
def hub(store: GraphStore) -> dict[str, str]:
    """app depends on db and cache, runs on vm; vm hosted on host; lb depends on app."""
    res = store.apply(
        cs(
            up("ApplicationInstance", "app"),
            up("Database", "db"),
            up("ApplicationInstance", "cache"),
            up("VirtualMachine", "vm"),
            up("Server", "host"),
            up("LoadBalancer", "lb"),
            rel("DEPENDS_ON", "app", "db"),
            rel("DEPENDS_ON", "app", "cache"),
            rel("RUNS_ON", "app", "vm"),
            rel("HOSTED_ON", "vm", "host"),
            rel("DEPENDS_ON", "lb", "app"),
        )
    )
    return dict(zip(["app", "db", "cache", "vm", "host", "lb"], res.ci_ids, strict=True))


def test_neighbours_by_direction(store: GraphStore, hub: dict[str, str]) -> None:
    out = store.neighbours(hub["app"], direction=Direction.OUT)
    assert {(n.ci.name, n.relationship.type, n.direction) for n in out} == {
        ("db", "DEPENDS_ON", Direction.OUT),
        ("cache", "DEPENDS_ON", Direction.OUT),
        ("vm", "RUNS_ON", Direction.OUT),
    }
    for n in out:
        assert n.relationship.source_id == hub["app"] and n.relationship.target_id == n.ci.id
    inn = store.neighbours(hub["app"], direction=Direction.IN)
    assert [(n.ci.name, n.direction) for n in inn] == [("lb", Direction.IN)]
    assert inn[0].relationship.target_id == hub["app"]
    both = store.neighbours(hub["app"])
    assert {n.ci.name for n in both} == {"db", "cache", "vm", "lb"}
    assert store.neighbours(hub["db"], direction=Direction.OUT) == []


def test_neighbours_by_type(store: GraphStore, hub: dict[str, str]) -> None:
    got = store.neighbours(hub["app"], types=["DEPENDS_ON"])
    assert {n.ci.name for n in got} == {"db", "cache", "lb"}
    got = store.neighbours(hub["app"], types=["runs on", "HOSTED_ON"])
    assert {n.ci.name for n in got} == {"vm"}
    assert store.neighbours(hub["app"], types=["CONTAINS"]) == []
    with pytest.raises(InvalidInput):
        store.neighbours(hub["app"], types=["NOPE"])


def test_neighbours_skip_retired_edges(store: GraphStore, hub: dict[str, str]) -> None:
    store.apply(cs(rel_retire("DEPENDS_ON", "app", "db")))
    assert {n.ci.name for n in store.neighbours(hub["app"], direction=Direction.OUT)} == {
        "cache",
        "vm",
    }
    assert store.neighbours(hub["db"]) == []


def test_neighbours_of_unknown_ci(store: GraphStore) -> None:
    with pytest.raises(NotFound):
        store.neighbours("ci_ghost")


def test_neighbours_in_both_directions_between_a_pair(store: GraphStore) -> None:
    store.apply(
        cs(
            up("Server", "a"),
            up("Server", "b"),
            rel("DEPENDS_ON", "a", "b"),
            rel("DEPENDS_ON", "b", "a"),
        )
    )
    a = ci_by_key(store, "a")
    got = store.neighbours(a.id)
    assert sorted((n.ci.name, n.direction.value) for n in got) == [("b", "in"), ("b", "out")]


@pytest.fixture
def chain(store: GraphStore) -> list[str]:
    """c0 -> c1 -> ... -> c5, all DEPENDS_ON."""
    res = store.apply(
        cs(
            *(up("Server", f"c{i}") for i in range(6)),
            *(rel("DEPENDS_ON", f"c{i}", f"c{i + 1}") for i in range(5)),
        )
    )
    return res.ci_ids


def test_depth_cap(store: GraphStore, chain: list[str]) -> None:
    g = store.subgraph([chain[0]], max_depth=2)
    _check_shape(store, g)
    assert set(g.nodes) == set(chain[:3])
    assert _pairs(g) == {(chain[0], chain[1]), (chain[1], chain[2])}
    assert g.truncated_by_depth and not g.truncated_by_nodes
    assert g.depth_reached == 2
    full = store.subgraph([chain[0]], max_depth=5)
    assert set(full.nodes) == set(chain) and len(full.edges) == 5
    assert not full.truncated_by_depth and full.depth_reached == 5
    roomy = store.subgraph([chain[0]], max_depth=50)
    assert set(roomy.nodes) == set(chain) and not roomy.truncated_by_depth
    assert roomy.depth_reached == 5


def test_depth_zero_is_the_roots(store: GraphStore, chain: list[str]) -> None:
    g = store.subgraph([chain[2]], max_depth=0)
    assert set(g.nodes) == {chain[2]} and g.edges == []
    assert g.truncated_by_depth and g.depth_reached == 0
    leaf = store.subgraph([chain[5]], max_depth=0)
    assert not leaf.truncated_by_depth


def test_directions(store: GraphStore, chain: list[str]) -> None:
    mid = chain[2]
    out = store.subgraph([mid], direction=Direction.OUT)
    assert set(out.nodes) == set(chain[2:])
    inn = store.subgraph([mid], direction=Direction.IN)
    assert set(inn.nodes) == set(chain[:3])
    assert _pairs(inn) == {(chain[0], chain[1]), (chain[1], chain[2])}
    both = store.subgraph([mid], direction=Direction.BOTH)
    assert set(both.nodes) == set(chain) and len(both.edges) == 5
    one = store.subgraph([mid], direction=Direction.BOTH, max_depth=1)
    assert set(one.nodes) == {chain[1], chain[2], chain[3]} and one.truncated_by_depth
    for g in (out, inn, both, one):
        _check_shape(store, g)
        assert g.roots == [mid]


def test_node_cap(store: GraphStore) -> None:
    res = store.apply(
        cs(
            up("Server", "hub"),
            *(up("Server", f"leaf{i}") for i in range(10)),
            *(rel("DEPENDS_ON", "hub", f"leaf{i}") for i in range(10)),
            *(rel("DEPENDS_ON", f"leaf{i}", f"leaf{i + 1}") for i in range(9)),
        )
    )
    hub_id = res.ci_ids[0]
    g = store.subgraph([hub_id], max_nodes=4)
    _check_shape(store, g)
    assert len(g.nodes) == 4 and hub_id in g.nodes
    assert g.truncated_by_nodes
    # Every returned edge joins returned nodes, and the hub reaches each node returned.
    assert {e.target_id for e in g.edges if e.source_id == hub_id} == set(g.nodes) - {hub_id}
    roomy = store.subgraph([hub_id], max_nodes=11)
    assert len(roomy.nodes) == 11 and not roomy.truncated_by_nodes
    assert len(roomy.edges) == 19


def test_type_filter(store: GraphStore, hub: dict[str, str]) -> None:
    g = store.subgraph([hub["lb"]], types=["DEPENDS_ON"])
    _check_shape(store, g, ["DEPENDS_ON"])
    assert _names(g) == {"lb", "app", "db", "cache"}
    assert {e.type for e in g.edges} == {"DEPENDS_ON"}
    g2 = store.subgraph([hub["lb"]], types=["DEPENDS_ON", "RUNS_ON", "HOSTED_ON"])
    assert _names(g2) == {"lb", "app", "db", "cache", "vm", "host"}
    g3 = store.subgraph([hub["lb"]], types=["HOSTED_ON"])
    assert _names(g3) == {"lb"} and g3.edges == []


def test_cycles_terminate_and_keep_every_edge(store: GraphStore) -> None:
    res = store.apply(
        cs(
            up("Server", "a"),
            up("Server", "b"),
            up("Server", "c"),
            up("Server", "d"),
            rel("DEPENDS_ON", "a", "b"),
            rel("DEPENDS_ON", "b", "c"),
            rel("DEPENDS_ON", "c", "a"),
            rel("DEPENDS_ON", "c", "d"),
        )
    )
    a, b, c, d = res.ci_ids
    for direction in Direction:
        g = store.subgraph([b], direction=direction, max_depth=10)
        _check_shape(store, g)
        assert not g.truncated_by_depth and not g.truncated_by_nodes
        expected = {a, b, c} | ({d} if direction is not Direction.IN else set())
        assert set(g.nodes) == expected, direction
        assert len(g.edges) == (4 if direction is not Direction.IN else 3)


def test_several_roots(store: GraphStore, chain: list[str]) -> None:
    g = store.subgraph([chain[4], chain[0], chain[4]], max_depth=1)
    _check_shape(store, g)
    assert set(g.nodes) == {chain[0], chain[1], chain[4], chain[5]}
    assert set(g.roots) == {chain[0], chain[4]} and len(g.roots) == 2


def test_unknown_roots(store: GraphStore, chain: list[str]) -> None:
    with pytest.raises(NotFound):
        store.subgraph(["ci_ghost"])
    with pytest.raises(NotFound):
        store.subgraph([chain[0], "ci_ghost"])


def test_retired_edges_are_not_followed(store: GraphStore, chain: list[str]) -> None:
    store.apply(cs(rel_retire("DEPENDS_ON", "c2", "c3")))
    g = store.subgraph([chain[0]])
    _check_shape(store, g)
    assert set(g.nodes) == set(chain[:3])
    assert not g.truncated_by_depth
    # Reactivated, it is followed again (the traversal sees writes immediately).
    store.apply(cs(rel("DEPENDS_ON", "c2", "c3")))
    assert set(store.subgraph([chain[0]]).nodes) == set(chain)


def test_traversal_sees_each_new_write(store: GraphStore, chain: list[str]) -> None:
    assert set(store.subgraph([chain[5]]).nodes) == {chain[5]}
    res = store.apply(cs(up("Server", "tail"), rel("DEPENDS_ON", "c5", "tail")))
    g = store.subgraph([chain[0]])
    assert set(g.nodes) == {*chain, res.ci_ids[0]}
    assert len(g.edges) == 6


def test_bad_caps(store: GraphStore, chain: list[str]) -> None:
    with pytest.raises(InvalidInput):
        store.subgraph([chain[0]], max_depth=-1)
    with pytest.raises(InvalidInput):
        store.subgraph([chain[0]], max_nodes=0)


def test_edges_between_returned_nodes_are_all_there(store: GraphStore) -> None:
    """Edges the walk did not need still join returned nodes: a cycle closed at the depth
    cap, roots side by side, leaves of one level linked to each other."""
    res = store.apply(
        cs(
            *(up("Server", k) for k in "abcd"),
            rel("DEPENDS_ON", "a", "b"),
            rel("DEPENDS_ON", "b", "c"),
            rel("DEPENDS_ON", "c", "a"),
            rel("DEPENDS_ON", "a", "d"),
            rel("DEPENDS_ON", "b", "d"),
            rel("CONNECTS_TO", "c", "b"),
        )
    )
    a, b, c, d = res.ci_ids
    g = store.subgraph([a], max_depth=2)
    assert set(g.nodes) == {a, b, c, d}
    assert _pairs(g) == {(a, b), (b, c), (c, a), (a, d), (b, d), (c, b)}
    assert not g.truncated_by_depth
    _check_shape(store, g)
    typed = store.subgraph([a], max_depth=2, types=["DEPENDS_ON"])
    _check_shape(store, typed, ["DEPENDS_ON"])
    assert (c, b) not in _pairs(typed) and (c, a) in _pairs(typed)
    roots_only = store.subgraph([a, b], max_depth=0)
    assert set(roots_only.nodes) == {a, b} and _pairs(roots_only) == {(a, b)}
    assert roots_only.truncated_by_depth
    inward = store.subgraph([d], direction=Direction.IN, max_depth=1)
    assert set(inward.nodes) == {a, b, d}
    assert _pairs(inward) == {(a, d), (b, d), (a, b)}
    _check_shape(store, inward)
