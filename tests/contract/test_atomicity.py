"""All or nothing, and the same batch twice is a no-op; plus the model's governance errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.errors import CmdbError, ForbiddenRelationship, InvalidInput, NotFound
from cmdb.domain.model import LifecycleStatus
from cmdb.domain.records import Change, Incident
from cmdb.store.contract import GraphStore
from tests.contract.builders import (
    all_cis,
    all_rels,
    by_id,
    ci_by_key,
    cs,
    history_len,
    ident,
    key,
    rel,
    rel_retire,
    retire,
    up,
)
from tests.fakes import FakeClock


def _snapshot(store: GraphStore) -> dict[str, Any]:
    """Everything a reader can see, to compare before and after a refused batch."""
    return {
        "cis": {c.id: c.model_dump() for c in all_cis(store)},
        "rels": {r.id: r.model_dump() for r in all_rels(store)},
        "history": [h.model_dump() for h in store.iter_history()],
        "counts": store.counts().model_dump(),
        "changes": [c.model_dump() for c in store.list_changes()],
        "incidents": [i.model_dump() for i in store.list_incidents()],
        "problems": [p.model_dump() for p in store.list_problems()],
    }


_NEW = (
    up("Server", "n1", identifiers=[ident("serial", "SN-N1"), ident("hostname", "n1")]),
    up("ApplicationInstance", "n2", attributes={"x": 1}),
)


def _failing_last(kind: str) -> ChangeSet:
    ops: list[Any] = [*_NEW, rel("RUNS_ON", "n2", "n1")]
    records: dict[str, Any] = {}
    if kind == "forbidden":
        ops.append(rel("RUNS_ON", "n1", "n2"))
    elif kind == "missing_endpoint":
        ops.append(rel("DEPENDS_ON", "n1", "ghost"))
    elif kind == "retire_missing":
        ops.append(retire("ghost"))
    elif kind == "rel_retire_missing":
        ops.append(rel_retire("CONNECTS_TO", "n1", "n2"))
    elif kind == "self_loop":
        ops.append(rel("DEPENDS_ON", "n1", "n1"))
    elif kind == "change_links_missing_ci":
        records["changes"] = [Change(id="RFC-1", title="t", ci_ids=["ci_ghost"])]
    elif kind == "incident_links_missing_ci":
        records["incidents"] = [
            Incident(id="INC-1", title="t", ci_ids=["ci_ghost"], opened_at=datetime.now(UTC))
        ]
    elif kind == "class_change":
        ops.append(up("VirtualMachine", "n1"))
    elif kind == "abstract_class":
        ops.append(up("Compute", "n3"))
    return cs(*ops, **records)


FAILURES = [
    "forbidden",
    "missing_endpoint",
    "retire_missing",
    "rel_retire_missing",
    "self_loop",
    "change_links_missing_ci",
    "incident_links_missing_ci",
    "class_change",
    "abstract_class",
]


@pytest.mark.parametrize("kind", FAILURES)
def test_failing_last_op_leaves_an_empty_store_empty(store: GraphStore, kind: str) -> None:
    with pytest.raises(CmdbError):
        store.apply(_failing_last(kind))
    assert store.is_empty()
    assert store.find_by_identifier(key("n1")) == []
    assert store.find_by_identifier(ident("serial", "SN-N1")) == []
    assert store.find_by_identifier(ident("hostname", "n1")) == []
    assert history_len(store) == 0
    assert all_cis(store) == [] and all_rels(store) == []
    counts = store.counts()
    assert counts.by_class == {} and counts.relationships_by_type == {}


@pytest.mark.parametrize("kind", FAILURES)
def test_failing_last_op_leaves_existing_data_untouched(
    store: GraphStore, clock: FakeClock, kind: str
) -> None:
    store.apply(
        cs(
            up("Server", "old", owner="a", attributes={"k": 1}),
            up("Server", "old2"),
            rel("DEPENDS_ON", "old", "old2"),
        )
    )
    before = _snapshot(store)
    clock.advance(30)
    batch = _failing_last(kind)
    # The refused batch also updates, retires and relates what already exists.
    batch.ci_upserts.insert(0, up("Server", "old", owner="b", attributes={"k": None}))
    batch.ci_retires.insert(0, retire("old2"))
    batch.rel_retires.insert(0, rel_retire("DEPENDS_ON", "old", "old2"))
    with pytest.raises(CmdbError):
        store.apply(batch)
    assert _snapshot(store) == before
    # And the store still takes a good batch afterwards.
    assert store.apply(cs(*_NEW, rel("RUNS_ON", "n2", "n1"))).created == 2


def test_same_batch_twice_adds_nothing(store: GraphStore, clock: FakeClock) -> None:
    batch = cs(
        up("Server", "a", owner="o", attributes={"x": 1}, identifiers=[ident("serial", "S1")]),
        up("ApplicationInstance", "b", environment="prod"),
        up("Cluster", "c", redundancy={"min_up": 1}),
        rel("RUNS_ON", "b", "a"),
        rel("MEMBER_OF", "a", "c", attributes={"w": 1}),
        retire("c", LifecycleStatus.WITHDRAWN),
        run_id="run-1",
        changes=[Change(id="RFC-1", title="patch", ci_ids=[])],
    )
    first = store.apply(batch)
    assert (first.created, first.rels_created, first.retired) == (3, 2, 1)
    counts, n_hist = store.counts(), history_len(store)
    cis = {c.id: c.field_values() for c in all_cis(store)}
    clock.advance(60)
    second = store.apply(batch)
    assert second.ci_ids == first.ci_ids and second.rel_ids == first.rel_ids
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    assert (second.rels_created, second.rels_updated, second.rels_retired, second.retired) == (
        0,
        0,
        0,
        0,
    )
    assert second.history_rows == 0
    assert history_len(store) == n_hist
    assert store.counts() == counts
    assert {c.id: c.field_values() for c in all_cis(store)} == cis
    # Only the sighting moved on.
    a = ci_by_key(store, "a")
    assert a.sources["manual"].last_seen == clock() and a.sources["manual"].run_id == "run-1"


def test_unknown_class_is_invalid(store: GraphStore) -> None:
    with pytest.raises(InvalidInput, match="unknown CI class"):
        store.apply(cs(up("Mainframe", "m")))


def test_redundancy_only_on_clusters(store: GraphStore) -> None:
    with pytest.raises(InvalidInput, match="Cluster"):
        store.apply(cs(up("Server", "s", redundancy={"min_up": 2})))
    ci = store.apply(cs(up("Cluster", "c", redundancy={"min_up_percent": 50})))
    assert store.get_ci(ci.ci_ids[0]).redundancy is not None


def test_service_details_only_on_services(store: GraphStore) -> None:
    with pytest.raises(InvalidInput, match="Service"):
        store.apply(cs(up("Server", "s", service={"kind": "customer_facing"})))
    sid = store.apply(cs(up("Service", "svc"))).ci_ids[0]
    assert store.get_ci(sid).service is not None  # defaulted for a Service


def test_change_may_only_name_services_as_services(store: GraphStore) -> None:
    srv = store.apply(cs(up("Server", "s"))).ci_ids[0]
    with pytest.raises(InvalidInput, match="not a Service"):
        store.apply(cs(changes=[Change(id="RFC-9", title="t", service_ids=[srv])]))
    with pytest.raises(NotFound):
        store.get_change("RFC-9")


def test_governance_error_says_where(store: GraphStore) -> None:
    store.apply(cs(up("Server", "a"), up("ApplicationInstance", "b")))
    with pytest.raises(ForbiddenRelationship) as err:
        store.apply(cs(rel("DEPENDS_ON", "a", "b"), rel("RUNS_ON", "a", "b")))
    assert err.value.where is not None and "rel_upserts[1]" in err.value.where
    with pytest.raises(InvalidInput) as err2:
        store.apply(cs(up("Server", "ok"), up("Nope", "x")))
    assert err2.value.where is not None and "ci_upserts[1]" in err2.value.where


def test_retire_by_id_of_ci_made_in_same_batch(store: GraphStore) -> None:
    res = store.apply(
        cs(
            CIUpsert.model_validate({"id": "ci_fixed", "class": "Server", "name": "s"}),
            retire(by_id("ci_fixed"), LifecycleStatus.DISPOSED),
        )
    )
    assert (res.created, res.retired) == (1, 1)
    assert store.get_ci("ci_fixed").status is LifecycleStatus.DISPOSED
