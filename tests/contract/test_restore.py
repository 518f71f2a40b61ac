"""restore(): exported rows land unchanged in an empty store; is_empty() tells it apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cmdb.domain.errors import CmdbError, NotFound
from cmdb.domain.history import HistoryEntry
from cmdb.domain.model import CI, LifecycleStatus, Relationship
from cmdb.domain.records import Change, Incident, Problem, ProblemState
from cmdb.store.contract import Direction, GraphStore, SnapshotBatch
from tests.contract.builders import (
    all_cis,
    all_rels,
    ci_by_key,
    cs,
    ident,
    rel,
    rel_retire,
    retire,
    up,
)
from tests.contract.conftest import MakeStore
from tests.fakes import FakeClock


def _fill(store: GraphStore, clock: FakeClock) -> list[datetime]:
    """A history with updates, retirements and records; returns the instants written."""
    instants = [clock()]
    store.apply(
        cs(
            up("Service", "shop", owner="biz"),
            up("ApplicationInstance", "app", identifiers=[ident("hostname", "app01")]),
            up("Server", "srv", identifiers=[ident("serial", "SN-1")], attributes={"os": "x"}),
            up("Cluster", "cl", redundancy={"min_up": 1}),
            rel("DEPENDS_ON", "shop", "app"),
            rel("RUNS_ON", "app", "srv"),
            rel("MEMBER_OF", "srv", "cl"),
            run_id="r1",
            request_id="q1",
        )
    )
    instants.append(clock.advance(60))
    shop = ci_by_key(store, "shop").id
    srv = ci_by_key(store, "srv").id
    store.apply(
        cs(
            up("Server", "srv", attributes={"os": None, "ram": 64}, owner="ops"),
            rel_retire("MEMBER_OF", "srv", "cl"),
            retire("cl", LifecycleStatus.DISPOSED),
            changes=[Change(id="RFC-1", title="move", ci_ids=[srv], service_ids=[shop])],
            incidents=[
                Incident(
                    id="INC-1",
                    title="slow",
                    ci_ids=[srv],
                    opened_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            ],
            problems=[
                Problem(
                    id="PRB-1",
                    title="slow disks",
                    state=ProblemState.KNOWN_ERROR,
                    ci_ids=[srv],
                    service_ids=[shop],
                    incident_ids=["INC-1"],
                    workaround="restart the cache",
                    opened_at=datetime(2026, 1, 2, tzinfo=UTC),
                )
            ],
            actor="bob",
            source="scanner",
        )
    )
    instants.append(clock.advance(60))
    return instants


def _export(store: GraphStore) -> SnapshotBatch:
    return SnapshotBatch(
        cis=all_cis(store),
        relationships=all_rels(store, include_retired=True),
        history=list(store.iter_history()),
        changes=store.list_changes(),
        incidents=store.list_incidents(),
        problems=store.list_problems(),
    )


def _observe(store: GraphStore, snap: SnapshotBatch, instants: list[datetime]) -> dict[str, Any]:
    """What readers see: every CI and edge now and as of each instant, history, traversals."""
    seen: dict[str, Any] = {
        "cis": {c.id: store.get_ci(c.id) for c in snap.cis},
        "rels": {r.id: store.get_relationship(r.id) for r in snap.relationships},
        "history": {c.id: store.history(c.id) for c in snap.cis},
        "rel_history": {r.id: store.history(r.id) for r in snap.relationships},
        "all_history": list(store.iter_history()),
        "counts": store.counts(),
        "changes": store.list_changes(),
        "incidents": store.list_incidents(open_only=True),
        "problems": store.list_problems(),
        "problems_of_shop": store.list_problems(ci_id=snap.problems[0].service_ids[0]),
        "problem_history": store.history("PRB-1"),
        "by_ident": store.find_by_identifier(ident("serial", "SN-1")),
        "by_host": store.find_by_identifier(ident("hostname", "app01")),
    }
    for at in instants:
        for c in snap.cis:
            try:
                seen[f"{c.id}@{at}"] = store.get_ci(c.id, as_of=at)
            except NotFound:
                seen[f"{c.id}@{at}"] = None
        root = next(c.id for c in snap.cis if c.name == "shop")
        g = store.subgraph([root], direction=Direction.BOTH, as_of=at)
        seen[f"graph@{at}"] = (set(g.nodes), {e.id for e in g.edges})
        seen[f"nb@{at}"] = {n.relationship.id for n in store.neighbours(root, as_of=at)}
    root = next(c.id for c in snap.cis if c.name == "shop")
    g = store.subgraph([root], direction=Direction.BOTH)
    seen["graph"] = (set(g.nodes), {e.id for e in g.edges})
    return seen


def test_restore_reproduces_everything(store_factory: MakeStore, clock: FakeClock) -> None:
    source = store_factory()
    instants = _fill(source, clock)
    snap = _export(source)
    before = _observe(source, snap, instants)
    source.close()
    assert len(snap.history) > 10 and snap.changes and snap.incidents

    target = store_factory()
    assert target.is_empty()
    target.restore(snap)
    assert not target.is_empty()
    assert _observe(target, snap, instants) == before
    # Sightings and timestamps came across unchanged, not re-stamped.
    srv = next(c for c in snap.cis if c.name == "srv")
    assert target.get_ci(srv.id).sources == srv.sources
    assert target.get_ci(srv.id).updated_at == srv.updated_at


def test_restore_in_several_calls(store_factory: MakeStore, clock: FakeClock) -> None:
    source = store_factory()
    instants = _fill(source, clock)
    snap = _export(source)
    before = _observe(source, snap, instants)
    source.close()

    target = store_factory()
    half = len(snap.cis) // 2
    cut = len(snap.history) // 2
    target.restore(SnapshotBatch(cis=snap.cis[:half]))
    target.restore(SnapshotBatch(cis=snap.cis[half:], relationships=snap.relationships))
    target.restore(
        SnapshotBatch(
            changes=snap.changes,
            incidents=snap.incidents,
            problems=snap.problems,
            history=snap.history[:cut],
        )
    )
    target.restore(SnapshotBatch(history=snap.history[cut:]))
    assert _observe(target, snap, instants) == before


def test_writes_after_a_restore_continue_the_history(
    store_factory: MakeStore, clock: FakeClock
) -> None:
    source = store_factory()
    _fill(source, clock)
    snap = _export(source)
    source.close()
    target = store_factory()
    target.restore(snap)
    last_seq = snap.history[-1].seq
    clock.advance(10)
    res = target.apply(cs(up("Server", "srv", owner="new-owner"), up("Server", "fresh")))
    assert res.created == 1 and res.updated == 1
    assert res.ci_ids[0] == next(c.id for c in snap.cis if c.name == "srv")  # found by key
    new_rows = list(target.iter_history(after_seq=last_seq))
    assert len(new_rows) == res.history_rows == 2
    assert all(h.seq > last_seq for h in new_rows)
    assert list(target.iter_history())[: len(snap.history)] == snap.history


def test_restore_refuses_rows_already_held_and_writes_none(
    store_factory: MakeStore, clock: FakeClock
) -> None:
    store = store_factory()
    _fill(store, clock)
    snap = _export(store)
    existing = snap.cis[0]
    newcomer = CI.model_validate({"id": "ci_newcomer", "class": "Server", "name": "n"})
    with pytest.raises(CmdbError):
        store.restore(SnapshotBatch(cis=[newcomer, existing]))
    with pytest.raises(NotFound):
        store.get_ci("ci_newcomer")
    rel_again = snap.relationships[0]
    with pytest.raises(CmdbError):
        store.restore(SnapshotBatch(relationships=[rel_again]))
    with pytest.raises(CmdbError):
        store.restore(SnapshotBatch(history=[snap.history[0]]))
    assert _export(store) == snap


def test_restore_of_a_hand_made_batch(store: GraphStore) -> None:
    t = datetime(2025, 6, 1, tzinfo=UTC)
    a = CI.model_validate(
        {
            "id": "ci_a",
            "class": "Server",
            "name": "a",
            "identifiers": [{"kind": "serial", "value": "A1"}],
            "created_at": t,
            "updated_at": t,
        }
    )
    b = CI.model_validate({"id": "ci_b", "class": "Server", "name": "b", "created_at": t})
    r = Relationship(
        id="rel_ab",
        type="DEPENDS_ON",
        source_id="ci_a",
        target_id="ci_b",
        created_at=t,
        updated_at=t,
    )
    rows = [
        HistoryEntry(
            seq=i + 1,
            entity_kind=kind,
            entity_id=eid,
            op="create",
            field="*",
            after=after,
            actor="import",
            source="legacy",
            at=t,
        )
        for i, (kind, eid, after) in enumerate(
            [("ci", "ci_a", a.field_values()), ("ci", "ci_b", b.field_values())]
        )
    ]
    store.restore(SnapshotBatch(cis=[a, b], relationships=[r], history=rows))
    assert store.get_ci("ci_a") == a
    assert [c.id for c in store.find_by_identifier(ident("serial", "A1"))] == ["ci_a"]
    assert store.get_ci("ci_a", as_of=t + timedelta(seconds=1)).name == "a"
    assert [n.ci.id for n in store.neighbours("ci_a")] == ["ci_b"]
    assert set(store.subgraph(["ci_a"]).nodes) == {"ci_a", "ci_b"}
    assert store.history("ci_b") == rows[1:]
