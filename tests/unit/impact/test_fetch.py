"""What the engine asks the store for: types pruned by class, one call or a few rounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmdb.sample.load import load_sample
from cmdb.store.contract import Direction, GraphStore, Subgraph
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.refs import resolve_ci
from impact.fetch import fetch, impact_subgraph, impact_types
from impact.graph import build_impact_graph
from impact.propagate import propagate
from impact.severity import FailureMode


def test_types_an_impact_can_travel_from_given_classes() -> None:
    from_vm = impact_types(frozenset({"VirtualMachine"}), upstream=False)
    # Nothing flows from a VM into a Location or a Supplier: the hubs are left out.
    assert "LOCATED_IN" not in from_vm and "SUPPLIED_BY" not in from_vm
    assert {"MEMBER_OF", "RUNS_ON", "DEPENDS_ON", "CONTAINS", "SERVES"} <= set(from_vm)
    assert "OWNED_BY" not in from_vm
    assert "LOCATED_IN" in impact_types(frozenset({"Location"}), upstream=False)
    assert "SUPPLIED_BY" in impact_types(frozenset({"Supplier"}), upstream=False)
    up = impact_types(frozenset({"Service"}), upstream=True)
    assert {"LOCATED_IN", "SUPPLIED_BY", "MEMBER_OF"} <= set(up) and "SERVES" not in up
    assert impact_types(frozenset({"Customer"}), upstream=False) == ()


class CountingStore:
    """A real store that counts ``subgraph`` calls (a fake wrapper, not a mock)."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner = inner
        self.calls: list[tuple[Direction, tuple[str, ...] | None]] = []
        self.walks: list[dict[str, Direction] | None] = []

    def subgraph(self, roots, **kw):  # type: ignore[no-untyped-def]
        types = kw.get("types")
        direction = kw.get("direction", Direction.OUT)
        self.calls.append((direction, tuple(types) if types is not None else None))
        self.walks.append(kw.get("walk"))
        result: Subgraph = self.inner.subgraph(roots, **kw)
        return result

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


@pytest.fixture
def sample(tmp_path: Path) -> CountingStore:
    store = EmbeddedStore(tmp_path / "cmdb.db")
    load_sample(store, actor="tester")
    return CountingStore(store)


def test_one_call_walks_both_ways(sample: CountingStore) -> None:
    vm = resolve_ci(sample.inner, "vm-app-03")
    sub = impact_subgraph(sample, [vm])  # type: ignore[arg-type]
    assert len(sample.calls) == 1 and sample.calls[0][0] is Direction.BOTH
    assert "LOCATED_IN" not in (sample.calls[0][1] or ())
    g = build_impact_graph(sub)
    p = propagate(g, {vm.id: FailureMode.DOWN})
    assert p.severity(resolve_ci(sample.inner, "harbour-app-cluster").id).name == "AT_RISK"


def test_rounds_read_only_what_the_impact_reaches(sample: CountingStore) -> None:
    db = resolve_ci(sample.inner, "bookings-db")
    got = fetch(sample, [db], strategy="rounds")  # type: ignore[arg-type]
    one = fetch(sample, [db])  # type: ignore[arg-type]
    assert got.calls >= 2 and one.calls == 1
    assert set(got.subgraph.nodes) < set(one.subgraph.nodes)
    for f in (got, one):
        g = build_impact_graph(f.subgraph, frontier=f.frontier)
        p = propagate(g, {db.id: FailureMode.DOWN})
        assert {g.name(i) for i in p.impacted().tolist()} >= {
            "Online Ferry Booking",
            "Boarding Pass App API",
        }


def test_caps_are_reported(sample: CountingStore) -> None:
    sw = resolve_ci(sample.inner, "core-sw-01")
    f = fetch(sample, [sw], max_depth=2)  # type: ignore[arg-type]
    assert f.subgraph.truncated_by_depth
    g = build_impact_graph(f.subgraph)
    assert g.truncated_by_depth and g.frontier.any()
    f2 = fetch(sample, [sw], max_nodes=5)  # type: ignore[arg-type]
    assert f2.subgraph.truncated_by_nodes
    r = fetch(sample, [sw], strategy="rounds", max_depth=2)  # type: ignore[arg-type]
    assert r.subgraph.truncated_by_depth and r.frontier


def test_walk_is_the_exact_closure_in_one_call(sample: CountingStore) -> None:
    for name in ("bookings-db", "vm-app-03", "core-sw-01"):
        ci = resolve_ci(sample.inner, name)
        sample.calls.clear()
        w = fetch(sample, [ci], strategy="walk")  # type: ignore[arg-type]
        assert w.calls == 1 and len(sample.calls) == 1 and sample.walks[-1]
        r = fetch(sample, [ci], strategy="rounds")  # type: ignore[arg-type]
        one = fetch(sample, [ci])  # type: ignore[arg-type]
        # What rounds reads in several calls (closure and cluster members), nothing more.
        assert set(w.subgraph.nodes) == set(r.subgraph.nodes) <= set(one.subgraph.nodes)
        found = []
        for f in (w, r):
            g = build_impact_graph(f.subgraph, frontier=f.frontier)
            p = propagate(g, {ci.id: FailureMode.DOWN})
            found.append({(g.name(i), p.severity(g.ids[i]).name) for i in p.impacted().tolist()})
        assert found[0] == found[1] and found[0]


def test_walk_caps_are_reported(sample: CountingStore) -> None:
    sw = resolve_ci(sample.inner, "core-sw-01")
    w = fetch(sample, [sw], strategy="walk", max_depth=2)  # type: ignore[arg-type]
    assert w.subgraph.truncated_by_depth and w.frontier
    g = build_impact_graph(w.subgraph, frontier=w.frontier)
    assert g.truncated_by_depth and g.frontier.any()
    w5 = fetch(sample, [sw], strategy="walk", max_nodes=5)  # type: ignore[arg-type]
    assert w5.subgraph.truncated_by_nodes and len(w5.subgraph.nodes) == 5
