"""As-of reads: the graph as it was at an instant, rebuilt from history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmdb.domain.changeset import CIUpsert, RelUpsert
from cmdb.domain.errors import CmdbError, NotFound
from cmdb.domain.model import LifecycleStatus, RelationshipStatus, relationship_id
from cmdb.store.contract import Direction, GraphStore
from tests.contract.builders import all_cis, all_rels, cs, rel, rel_retire, retire, up
from tests.contract.conftest import MakeStore
from tests.fakes import FakeClock


class Timeline:
    """A small history written at known instants t0 < t1 < t2 < t3 (db's withdrawal at t2
    retires its DEPENDS_ON edge in the same write)."""

    def __init__(self, store: GraphStore, clock: FakeClock) -> None:
        self.t0 = clock()
        res = store.apply(
            cs(
                up("ApplicationInstance", "app", owner="a"),
                up("VirtualMachine", "vm"),
                up("Server", "srv"),
                rel("RUNS_ON", "app", "vm"),
                rel("HOSTED_ON", "vm", "srv"),
            )
        )
        self.app, self.vm, self.srv = res.ci_ids
        self.runs_on, self.hosted_on = res.rel_ids
        self.t1 = clock.advance(10)
        res = store.apply(
            cs(
                up("ApplicationInstance", "app", owner="b", attributes={"x": 1}),
                up("Database", "db"),
                rel("DEPENDS_ON", "app", "db"),
            )
        )
        self.db = res.ci_ids[1]
        self.depends_on = res.rel_ids[0]
        self.t2 = clock.advance(10)
        store.apply(
            cs(
                rel_retire("RUNS_ON", "app", "vm"),
                retire("db", LifecycleStatus.WITHDRAWN),
                up("ApplicationInstance", "app", attributes={"x": None}),
            )
        )
        self.t3 = clock.advance(10)
        store.apply(cs(rel("RUNS_ON", "app", "vm", confidence=0.5)))
        clock.advance(10)


@pytest.fixture
def tl(store: GraphStore, clock: FakeClock) -> Timeline:
    return Timeline(store, clock)


def _half(t: datetime) -> datetime:
    return t + timedelta(seconds=5)


def test_before_anything_existed(store: GraphStore, tl: Timeline) -> None:
    early = tl.t0 - timedelta(microseconds=1)
    for ci_id in (tl.app, tl.vm, tl.srv, tl.db):
        with pytest.raises(NotFound):
            store.get_ci(ci_id, as_of=early)
    with pytest.raises(NotFound):
        store.get_relationship(tl.runs_on, as_of=early)
    with pytest.raises(NotFound):
        store.neighbours(tl.app, as_of=early)
    with pytest.raises(NotFound):
        store.subgraph([tl.app], as_of=early)


def test_ci_fields_at_each_instant(store: GraphStore, tl: Timeline) -> None:
    at0 = store.get_ci(tl.app, as_of=tl.t0)
    assert (at0.owner, at0.attributes) == ("a", {})
    assert store.get_ci(tl.app, as_of=_half(tl.t0)) == at0
    at1 = store.get_ci(tl.app, as_of=tl.t1)
    assert (at1.owner, at1.attributes) == ("b", {"x": 1})
    assert at1.created_at == tl.t0 and at1.updated_at == tl.t1
    at2 = store.get_ci(tl.app, as_of=tl.t2)
    assert (at2.owner, at2.attributes) == ("b", {})
    now = store.get_ci(tl.app)
    assert store.get_ci(tl.app, as_of=tl.t3 + timedelta(days=1)).field_values() == (
        now.field_values()
    )


def test_a_ci_that_did_not_exist_yet(store: GraphStore, tl: Timeline) -> None:
    with pytest.raises(NotFound):
        store.get_ci(tl.db, as_of=_half(tl.t0))
    assert store.get_ci(tl.db, as_of=tl.t1).status is LifecycleStatus.LIVE
    assert store.get_ci(tl.db, as_of=tl.t2).status is LifecycleStatus.WITHDRAWN


def test_relationship_at_each_instant(store: GraphStore, tl: Timeline) -> None:
    assert store.get_relationship(tl.runs_on, as_of=tl.t1).status is RelationshipStatus.ACTIVE
    assert store.get_relationship(tl.runs_on, as_of=tl.t2).status is RelationshipStatus.RETIRED
    back = store.get_relationship(tl.runs_on, as_of=tl.t3)
    assert back.status is RelationshipStatus.ACTIVE and back.confidence == 0.5
    assert store.get_relationship(tl.runs_on, as_of=tl.t1).confidence == 1.0
    with pytest.raises(NotFound):
        store.get_relationship(tl.depends_on, as_of=tl.t0)


def test_neighbours_at_each_instant(store: GraphStore, tl: Timeline) -> None:
    def names(at: datetime) -> set[tuple[str, str]]:
        return {
            (n.ci.name, n.relationship.type)
            for n in store.neighbours(tl.app, direction=Direction.OUT, as_of=at)
        }

    assert names(tl.t0) == {("vm", "RUNS_ON")}
    assert names(tl.t1) == {("vm", "RUNS_ON"), ("db", "DEPENDS_ON")}
    # At t2 RUNS_ON was retired, and db withdrawn (which retired DEPENDS_ON with it): not
    # followed then, but followed before. RUNS_ON came back at t3; db did not.
    assert names(tl.t2) == set()
    assert names(tl.t3) == {("vm", "RUNS_ON")}
    # The neighbour is shown as it was then, too.
    (db_then,) = [
        n for n in store.neighbours(tl.app, as_of=tl.t1) if n.relationship.id == tl.depends_on
    ]
    assert db_then.ci.status is LifecycleStatus.LIVE
    with pytest.raises(NotFound):
        store.neighbours(tl.db, as_of=tl.t0)


def test_subgraph_at_each_instant(store: GraphStore, tl: Timeline) -> None:
    def nodes(at: datetime) -> set[str]:
        g = store.subgraph([tl.app], direction=Direction.OUT, as_of=at)
        for e in g.edges:
            assert e.source_id in g.nodes and e.target_id in g.nodes
        return set(g.nodes)

    assert nodes(tl.t0) == {tl.app, tl.vm, tl.srv}
    assert nodes(_half(tl.t1)) == {tl.app, tl.vm, tl.srv, tl.db}
    assert nodes(tl.t2) == {tl.app}  # the edges retired then are not followed
    assert nodes(tl.t3) == {tl.app, tl.vm, tl.srv}
    g1 = store.subgraph([tl.app], as_of=tl.t1)
    assert {e.id for e in g1.edges} == {tl.runs_on, tl.hosted_on, tl.depends_on}
    assert g1.nodes[tl.app].owner == "b"
    assert store.subgraph([tl.app], as_of=tl.t0).nodes[tl.app].owner == "a"
    with pytest.raises(NotFound):
        store.subgraph([tl.db], as_of=tl.t0)


def test_current_reads_are_unchanged_by_as_of(store: GraphStore, tl: Timeline) -> None:
    assert store.get_ci(tl.app).owner == "b"
    assert store.get_relationship(tl.runs_on).active
    assert {n.ci.name for n in store.neighbours(tl.app)} == {"vm"}
    assert not store.get_relationship(tl.depends_on).active  # retired with db


# -- the property: every CI and relationship rebuilt as of every past instant ---------------

_KEYS = ("k0", "k1", "k2", "k3", "k4")
_CLASS = {
    "k0": "Server",
    "k1": "Server",
    "k2": "ApplicationInstance",
    "k3": "Database",
    "k4": "Cluster",
}
_TYPES = ("DEPENDS_ON", "CONNECTS_TO")

_field_values = st.fixed_dictionaries(
    {},
    optional={
        "owner": st.sampled_from(["ops", "dba", None]),
        "environment": st.sampled_from(["prod", "test"]),
        "status": st.sampled_from(
            [LifecycleStatus.LIVE, LifecycleStatus.UNDER_CHANGE, LifecycleStatus.IN_TEST]
        ),
        "description": st.sampled_from(["", "first", "second"]),
        "attributes": st.dictionaries(
            st.sampled_from(["a", "b", "c"]),
            st.one_of(
                st.none(),
                st.integers(0, 2),
                st.booleans(),
                st.sampled_from([0.0, 1.0, 1.5]),
                st.lists(st.one_of(st.integers(0, 1), st.booleans()), max_size=2),
            ),
            max_size=3,
        ),
    },
)


@st.composite
def _change_set(
    draw: st.DrawFn, known: frozenset[str], edges: frozenset[tuple[str, str, str]]
) -> list[Any]:
    """1-4 operations, mostly valid for what exists (``known``, ``edges``), now and then not."""
    ops: list[Any] = []
    will_exist = set(known)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["upsert", "upsert", "rel", "rel", "rel_retire", "retire"]))
        sound = draw(st.integers(0, 9)) > 0  # one in ten may refer to what does not exist
        if kind == "upsert":
            k = draw(st.sampled_from(_KEYS))
            name = draw(st.sampled_from([k, f"{k}-renamed"]))
            ops.append(up(_CLASS[k], k, name=name, **draw(_field_values)))
            will_exist.add(k)
            continue
        if kind == "rel_retire" and sound and edges:
            typ, s, t = draw(st.sampled_from(sorted(edges)))
            ops.append(rel_retire(typ, s, t))
            continue
        pool = sorted(will_exist) if sound else list(_KEYS)
        if kind == "retire" and pool:
            status = draw(st.sampled_from([LifecycleStatus.WITHDRAWN, LifecycleStatus.DISPOSED]))
            ops.append(retire(draw(st.sampled_from(pool)), status))
            continue
        if len(pool) < 2:
            continue
        s, t = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2, unique=True))
        typ = draw(st.sampled_from(_TYPES))
        if kind == "rel":
            ops.append(rel(typ, s, t, confidence=draw(st.sampled_from([None, 0.5, 1.0]))))
        else:
            ops.append(rel_retire(typ, s, t))
    return ops


def _state(store: GraphStore) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    cis = {c.id: _probe(c) for c in all_cis(store)}
    rels = {r.id: _probe(r) for r in all_rels(store, include_retired=True)}
    return cis, rels


def _probe(c: Any) -> dict[str, Any]:
    return {**c.field_values(), "created_at": c.created_at, "updated_at": c.updated_at}


def _json(values: Any) -> bytes:
    """Type-exact comparison: in Python 1 == 1.0 == True, in the stored JSON they differ."""
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


@pytest.mark.slow
def test_rebuild_as_of_every_instant_equals_what_was_seen(store_factory: MakeStore) -> None:
    stats = {"examples": 0, "applied": 0, "refused": 0}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        clock = FakeClock()
        store = store_factory(clock)
        try:
            _one_history(store, clock, data, stats)
        finally:
            store.close()

    run()
    # The property says little unless most batches were accepted and some refused.
    assert stats["applied"] >= 2 * stats["examples"], stats
    assert stats["refused"] > 0, stats


def _one_history(
    store: GraphStore, clock: FakeClock, data: st.DataObject, stats: dict[str, int]
) -> None:
    stats["examples"] += 1
    start = clock()
    snapshots: dict[datetime, tuple[dict[str, Any], dict[str, Any]]] = {}
    known: set[str] = set()
    edges: set[tuple[str, str, str]] = set()
    for _ in range(data.draw(st.integers(1, 7), label="steps")):
        ops = data.draw(_change_set(frozenset(known), frozenset(edges)), label="ops")
        before = _state(store)
        try:
            store.apply(cs(*ops))
            stats["applied"] += 1
            known |= {o.identifiers[0].value for o in ops if isinstance(o, CIUpsert)}
            edges |= {
                (o.type, str(o.source.identifier.value), str(o.target.identifier.value))
                for o in ops
                if isinstance(o, RelUpsert) and o.source.identifier and o.target.identifier
            }
        except CmdbError:
            stats["refused"] += 1
            assert _state(store) == before  # a refused batch leaves no trace
        snapshots[clock()] = _state(store)
        clock.advance(data.draw(st.sampled_from([0, 1, 7]), label="advance"))
    final_cis, final_rels = _state(store)
    for ci_id in final_cis:
        with pytest.raises(NotFound):
            store.get_ci(ci_id, as_of=start - timedelta(seconds=1))
    for at, (cis, rels) in snapshots.items():
        for probe in (at, at + timedelta(microseconds=500)):
            for ci_id in final_cis:
                if ci_id in cis:
                    got = _probe(store.get_ci(ci_id, as_of=probe))
                    assert _json(got) == _json(cis[ci_id]), (ci_id, probe, got, cis[ci_id])
                else:
                    with pytest.raises(NotFound):
                        store.get_ci(ci_id, as_of=probe)
            for rel_id in final_rels:
                if rel_id in rels:
                    got = _probe(store.get_relationship(rel_id, as_of=probe))
                    assert _json(got) == _json(rels[rel_id]), (rel_id, probe, got, rels[rel_id])
                else:
                    with pytest.raises(NotFound):
                        store.get_relationship(rel_id, as_of=probe)
        # Traversals as of the instant follow exactly the edges that were active then.
        for ci_id in cis:
            expected = {
                (r_id, Direction.OUT if r["source_id"] == ci_id else Direction.IN)
                for r_id, r in rels.items()
                if r["status"] == "active" and ci_id in (r["source_id"], r["target_id"])
            }
            got_n = {(n.relationship.id, n.direction) for n in store.neighbours(ci_id, as_of=at)}
            assert got_n == expected, (ci_id, at)
            reach = store.subgraph([ci_id], direction=Direction.BOTH, as_of=at)
            component, todo = {ci_id}, [ci_id]
            while todo:
                here = todo.pop()
                for r in rels.values():
                    ends = (r["source_id"], r["target_id"])
                    if r["status"] == "active" and here in ends:
                        for other in set(ends) - component:
                            component.add(other)
                            todo.append(other)
            assert set(reach.nodes) == component, (ci_id, at)
            assert {e.id for e in reach.edges} == {
                r_id
                for r_id, r in rels.items()
                if r["status"] == "active" and {r["source_id"], r["target_id"]} <= component
            }
    for r_id, r in final_rels.items():
        assert r_id == relationship_id(r["type"], r["source_id"], r["target_id"])
