"""apply() for relationships: create, deterministic id, governance, retire, reactivate, and
retirement with a retired CI."""

from __future__ import annotations

import pytest

from cmdb.domain.errors import ForbiddenRelationship, InvalidInput, NotFound
from cmdb.domain.history import EntityKind, HistoryOp
from cmdb.domain.model import LifecycleStatus, RelationshipStatus, relationship_id
from cmdb.store.contract import GraphStore
from tests.contract.builders import (
    all_rels,
    by_id,
    ci_by_key,
    cs,
    history_len,
    ident,
    ref,
    rel,
    rel_retire,
    retire,
    up,
)
from tests.fakes import FakeClock


@pytest.fixture
def app_on_server(store: GraphStore) -> tuple[str, str]:
    ids = store.apply(cs(up("ApplicationInstance", "app"), up("Server", "srv"))).ci_ids
    return ids[0], ids[1]


def test_create_by_identifier_refs(
    store: GraphStore, clock: FakeClock, app_on_server: tuple[str, str]
) -> None:
    app, srv = app_on_server
    res = store.apply(cs(rel("RUNS_ON", "app", "srv", confidence=0.8, attributes={"port": 443})))
    assert (res.rels_created, res.rels_updated) == (1, 0)
    r = store.get_relationship(res.rel_ids[0])
    assert (r.type, r.source_id, r.target_id) == ("RUNS_ON", app, srv)
    assert r.status is RelationshipStatus.ACTIVE and r.active
    assert r.confidence == 0.8 and r.attributes == {"port": 443}
    assert r.created_at == clock() and "manual" in r.sources
    assert [x.id for x in all_rels(store)] == [r.id]
    assert store.counts().relationships_by_type == {"RUNS_ON": 1}


def test_id_is_deterministic_and_upsert_idempotent(
    store: GraphStore, app_on_server: tuple[str, str]
) -> None:
    app, srv = app_on_server
    first = store.apply(cs(rel("RUNS_ON", "app", "srv")))
    n = history_len(store)
    # The same edge by ids, with the type spelt as a phrase: the same one edge.
    again = store.apply(cs(rel("runs on", by_id(app), by_id(srv))))
    assert first.rel_ids == again.rel_ids == [relationship_id("RUNS_ON", app, srv)]
    assert (again.rels_created, again.rels_updated, again.history_rows) == (0, 0, 0)
    assert history_len(store) == n
    assert len(all_rels(store)) == 1


def test_two_types_between_the_same_pair_are_two_edges(store: GraphStore) -> None:
    store.apply(cs(up("Server", "a"), up("Server", "b")))
    res = store.apply(cs(rel("DEPENDS_ON", "a", "b"), rel("CONNECTS_TO", "a", "b")))
    assert res.rels_created == 2 and len(set(res.rel_ids)) == 2
    assert store.counts().relationships_by_type == {"DEPENDS_ON": 1, "CONNECTS_TO": 1}


def test_forbidden_pair_names_the_classes(
    store: GraphStore, app_on_server: tuple[str, str]
) -> None:
    with pytest.raises(ForbiddenRelationship) as err:
        store.apply(cs(rel("RUNS_ON", "srv", "app")))
    msg = str(err.value)
    assert "Server" in msg and "ApplicationInstance" in msg and "RUNS_ON" in msg
    assert all_rels(store) == []


def test_forbidden_pairs_by_inherited_class(store: GraphStore) -> None:
    store.apply(cs(up("Team", "t"), up("Server", "s"), up("Customer", "c"), up("Service", "svc")))
    store.apply(cs(rel("OWNED_BY", "s", "t"), rel("SERVES", "svc", "c")))
    for bad in (rel("OWNED_BY", "t", "s"), rel("SERVES", "s", "c"), rel("DEPENDS_ON", "s", "t")):
        with pytest.raises(ForbiddenRelationship):
            store.apply(cs(bad))
    assert len(all_rels(store)) == 2


def test_unknown_type_is_refused(store: GraphStore, app_on_server: tuple[str, str]) -> None:
    with pytest.raises(InvalidInput, match="unknown relationship type"):
        store.apply(cs(rel("LOVES", "app", "srv")))


def test_self_loop_is_refused(store: GraphStore) -> None:
    store.apply(cs(up("Server", "a")))
    with pytest.raises(InvalidInput, match="itself"):
        store.apply(cs(rel("DEPENDS_ON", "a", "a")))
    assert all_rels(store) == []


def test_missing_endpoint_is_not_found(store: GraphStore) -> None:
    store.apply(cs(up("Server", "a")))
    with pytest.raises(NotFound):
        store.apply(cs(rel("DEPENDS_ON", "a", "ghost")))
    with pytest.raises(NotFound):
        store.apply(cs(rel("DEPENDS_ON", by_id("ci_ghost"), "a")))
    with pytest.raises(NotFound):
        store.apply(cs(rel("DEPENDS_ON", "a", ref(ident("serial", "nope")))))
    assert all_rels(store) == []


def test_endpoints_created_in_the_same_batch(store: GraphStore) -> None:
    res = store.apply(
        cs(
            up("ApplicationInstance", "app", identifiers=[ident("k8s_uid", "u-1")]),
            up("Server", "srv", identifiers=[ident("serial", "SN-9")]),
            rel("RUNS_ON", ref(ident("k8s_uid", "u-1")), ref(ident("serial", "SN-9"))),
        )
    )
    r = store.get_relationship(res.rel_ids[0])
    assert (r.source_id, r.target_id) == (res.ci_ids[0], res.ci_ids[1])


def test_retire_keeps_the_edge_and_reupsert_reactivates(
    store: GraphStore, clock: FakeClock, app_on_server: tuple[str, str]
) -> None:
    rid = store.apply(cs(rel("RUNS_ON", "app", "srv"))).rel_ids[0]
    clock.advance(10)
    res = store.apply(cs(rel_retire("RUNS_ON", "app", "srv")))
    assert res.rels_retired == 1
    r = store.get_relationship(rid)
    assert r.status is RelationshipStatus.RETIRED and r.updated_at == clock()
    assert all_rels(store, include_retired=False) == []
    assert [x.id for x in all_rels(store, include_retired=True)] == [rid]
    assert store.counts().relationships_by_type.get("RUNS_ON", 0) == 0
    # Retiring again changes nothing.
    n = history_len(store)
    assert store.apply(cs(rel_retire("RUNS_ON", "app", "srv"))).rels_retired == 0
    assert history_len(store) == n
    clock.advance(10)
    back = store.apply(cs(rel("RUNS_ON", "app", "srv")))
    assert back.rel_ids == [rid] and (back.rels_created, back.rels_updated) == (0, 1)
    assert store.get_relationship(rid).status is RelationshipStatus.ACTIVE
    rows = store.history(rid)
    assert [(h.op, h.field, h.before, h.after) for h in rows[1:]] == [
        (HistoryOp.RETIRE, "status", "active", "retired"),
        (HistoryOp.UPDATE, "status", "retired", "active"),
    ]
    assert all(h.entity_kind is EntityKind.REL for h in rows)


def test_retire_of_an_unknown_edge_is_not_found(
    store: GraphStore, app_on_server: tuple[str, str]
) -> None:
    with pytest.raises(NotFound):
        store.apply(cs(rel_retire("RUNS_ON", "app", "srv")))


def test_attribute_and_confidence_updates_are_recorded(
    store: GraphStore, app_on_server: tuple[str, str]
) -> None:
    rid = store.apply(cs(rel("RUNS_ON", "app", "srv", attributes={"a": 1, "b": 2}))).rel_ids[0]
    res = store.apply(cs(rel("RUNS_ON", "app", "srv", confidence=0.5, attributes={"a": None})))
    assert res.rels_updated == 1
    r = store.get_relationship(rid)
    assert r.attributes == {"b": 2} and r.confidence == 0.5
    changed = {(h.field, h.before, h.after) for h in store.history(rid)[1:]}
    assert changed == {("confidence", 1.0, 0.5), ("attributes.a", 1, None)}


def test_get_relationship_unknown(store: GraphStore) -> None:
    with pytest.raises(NotFound):
        store.get_relationship("rel_nope")


def test_list_relationships_by_type_and_pages(store: GraphStore) -> None:
    store.apply(cs(*(up("Server", f"s{i}") for i in range(12))))
    store.apply(
        cs(
            *(rel("DEPENDS_ON", f"s{i}", f"s{i + 1}") for i in range(11)),
            *(rel("CONNECTS_TO", f"s{i}", f"s{i + 2}") for i in range(4)),
        )
    )
    store.apply(cs(rel_retire("DEPENDS_ON", "s0", "s1")))
    assert {r.type for r in store.list_relationships(type_name="connects_to").items} == {
        "CONNECTS_TO"
    }
    assert len(store.list_relationships(type_name="DEPENDS_ON").items) == 10
    assert len(store.list_relationships(type_name="DEPENDS_ON", include_retired=True).items) == 11
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_relationships(include_retired=True, limit=4, cursor=cursor)
        assert len(page.items) <= 4
        seen += [r.id for r in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages >= 4 and len(seen) == len(set(seen)) == 15
    with pytest.raises(InvalidInput):
        store.list_relationships(limit=0)
    assert ci_by_key(store, "s0").status.value == "live"  # retiring an edge leaves its CIs


def test_retiring_a_ci_retires_its_relationships_in_the_same_write(
    store: GraphStore, clock: FakeClock
) -> None:
    store.apply(
        cs(
            up("ApplicationInstance", "app"),
            up("ApplicationInstance", "other"),
            up("Server", "srv"),
            up("Cluster", "cl", redundancy={"min_up": 1}),
            rel("RUNS_ON", "app", "srv"),
            rel("RUNS_ON", "other", "srv"),
            rel("MEMBER_OF", "srv", "cl"),
            rel("DEPENDS_ON", "app", "other"),
        )
    )
    keep = relationship_id("DEPENDS_ON", ci_by_key(store, "app").id, ci_by_key(store, "other").id)
    clock.advance(10)
    res = store.apply(cs(retire("srv"), request_id="q-retire"))
    assert (res.retired, res.rels_retired) == (1, 3)
    assert [r.id for r in all_rels(store, include_retired=False)] == [keep]
    srv = ci_by_key(store, "srv").id
    assert store.neighbours(srv) == []
    retired = [r for r in all_rels(store, include_retired=True) if r.id != keep]
    assert all(r.status is RelationshipStatus.RETIRED and r.updated_at == clock() for r in retired)
    for r in retired:  # each edge's history says it was retired by that request
        last = store.history(r.id)[-1]
        assert (last.op, last.field, last.request_id) == (HistoryOp.RETIRE, "status", "q-retire")
    # Retiring again (or further, to disposed) finds nothing left to retire.
    again = store.apply(cs(retire("srv", LifecycleStatus.DISPOSED)))
    assert (again.retired, again.rels_retired) == (1, 0)


def test_an_edge_made_with_a_retired_ci_in_one_batch_is_retired_with_it(
    store: GraphStore,
) -> None:
    res = store.apply(
        cs(up("ApplicationInstance", "app"), up("Server", "srv"), rel("RUNS_ON", "app", "srv"))
    )
    batch = cs(rel("RUNS_ON", "app", "srv", confidence=0.5), retire("app"))
    res = store.apply(batch)
    assert (res.rels_updated, res.rels_retired) == (0, 1)
    assert all_rels(store, include_retired=False) == []
    (kept,) = all_rels(store, include_retired=True)
    assert kept.confidence == 0.5  # what the upsert said is kept on the retired edge
    assert {(h.op, h.field) for h in store.history(kept.id)[1:]} == {
        (HistoryOp.RETIRE, "status"),  # recorded as a retirement, as the cascade records it
        (HistoryOp.UPDATE, "confidence"),
    }
    # The same batch again changes nothing, and an edge reported to a retired CI later
    # stays retired: the order of writes does not decide whether it is active.
    n = history_len(store)
    again = store.apply(batch)
    assert (again.rels_updated, again.rels_retired, again.rels_created) == (0, 0, 0)
    assert history_len(store) == n
    store.apply(cs(up("Server", "srv2"), rel("RUNS_ON", "app", "srv2")))
    assert all_rels(store, include_retired=False) == []
