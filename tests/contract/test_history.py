"""History: one create row carrying every field, one row per changed field, append-only."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest

from cmdb.domain.changeset import Guard
from cmdb.domain.errors import CmdbError, NotFound
from cmdb.domain.events import Delivery, WebhookRule, delivery_id
from cmdb.domain.history import EntityKind, HistoryOp
from cmdb.domain.model import CI_FIELDS, REL_FIELDS, LifecycleStatus
from cmdb.domain.proposals import Proposal
from cmdb.domain.records import Change, Incident, IncidentState
from cmdb.store.contract import CIFilter, Direction, DocumentKind, GraphStore, SnapshotBatch
from tests.contract.builders import cs, ident, rel, rel_retire, retire, up
from tests.fakes import FakeClock


def test_create_row_carries_every_field_and_who(store: GraphStore, clock: FakeClock) -> None:
    ci_id = store.apply(
        cs(
            up("Server", "s", owner="ops", attributes={"os": "linux"}),
            actor="alice",
            source="cli",
            run_id="run-7",
            request_id="req-9",
        )
    ).ci_ids[0]
    rows = store.history(ci_id)
    assert len(rows) == 1
    h = rows[0]
    assert (h.entity_kind, h.entity_id) == (EntityKind.CI, ci_id)
    assert (h.op, h.field) == (HistoryOp.CREATE, "*")
    assert (h.actor, h.source, h.run_id, h.request_id) == ("alice", "cli", "run-7", "req-9")
    assert h.at == clock() and h.before is None
    assert set(h.after) == set(CI_FIELDS)
    assert h.after == store.get_ci(ci_id).field_values()


def test_update_rows_per_field(store: GraphStore, clock: FakeClock) -> None:
    ci_id = store.apply(
        cs(up("Server", "s", owner="ops", environment="prod", attributes={"a": 1, "b": 2}))
    ).ci_ids[0]
    t1 = clock.advance(30)
    res = store.apply(
        cs(
            up(
                "Server",
                "s",
                owner="dba",
                environment="prod",
                attributes={"a": 5, "b": None, "c": [1]},
            ),
            actor="bob",
            source="import",
            run_id="r2",
            request_id="q2",
        )
    )
    rows = store.history(ci_id)[1:]
    assert res.history_rows == len(rows) == 4
    assert {(h.op, h.field, repr(h.before), repr(h.after)) for h in rows} == {
        (HistoryOp.UPDATE, "owner", "'ops'", "'dba'"),
        (HistoryOp.UPDATE, "attributes.a", "1", "5"),
        (HistoryOp.UPDATE, "attributes.b", "2", "None"),
        (HistoryOp.UPDATE, "attributes.c", "None", "[1]"),
    }
    for h in rows:
        assert (h.actor, h.source, h.run_id, h.request_id) == ("bob", "import", "r2", "q2")
        assert h.at == t1
        assert h.entity_kind is EntityKind.CI and h.entity_id == ci_id
    # environment was given but did not change: no row for it.
    assert "environment" not in {h.field for h in rows}


def test_retire_and_relationship_rows(store: GraphStore, clock: FakeClock) -> None:
    res = store.apply(cs(up("Server", "a"), up("Server", "b"), rel("DEPENDS_ON", "a", "b")))
    rid = res.rel_ids[0]
    create = store.history(rid)
    assert len(create) == 1 and create[0].entity_kind is EntityKind.REL
    assert set(create[0].after) == set(REL_FIELDS)
    assert create[0].after["source_id"] == res.ci_ids[0]
    clock.advance(1)
    store.apply(cs(rel_retire("DEPENDS_ON", "a", "b"), retire("b", LifecycleStatus.DISPOSED)))
    assert [(h.op, h.field, h.after) for h in store.history(rid)[1:]] == [
        (HistoryOp.RETIRE, "status", "retired")
    ]
    assert [(h.op, h.before, h.after) for h in store.history(res.ci_ids[1])[1:]] == [
        (HistoryOp.RETIRE, "live", "disposed")
    ]


def test_identifier_additions_are_recorded(store: GraphStore) -> None:
    ci_id = store.apply(cs(up("Server", "s"))).ci_ids[0]
    store.apply(cs(up("Server", "s", identifiers=[ident("serial", "X1")])))
    (row,) = store.history(ci_id)[1:]
    assert row.field == "identifiers"
    assert row.before == [{"kind": "key", "value": "s"}]
    assert {(i["kind"], i["value"]) for i in row.after} == {("key", "s"), ("serial", "X1")}


def test_history_of_unknown_entity_is_empty(store: GraphStore) -> None:
    assert store.history("ci_ghost") == []


def test_iter_history_order_and_after_seq(store: GraphStore, clock: FakeClock) -> None:
    for i in range(5):
        store.apply(cs(up("Server", f"s{i}"), up("Server", "shared", attributes={"i": i})))
        clock.advance(1)
    rows = list(store.iter_history())
    seqs = [h.seq for h in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) == 10
    assert [h.at for h in rows] == sorted(h.at for h in rows)
    assert list(store.iter_history(batch=3)) == rows
    cut = seqs[3]
    assert list(store.iter_history(after_seq=cut, batch=2)) == rows[4:]
    assert list(store.iter_history(after_seq=seqs[-1])) == []
    # history(entity) is the entity's rows from the same sequence, in order.
    shared = rows[1].entity_id
    assert store.history(shared) == [h for h in rows if h.entity_id == shared]


def _exercise_every_method(store: GraphStore) -> set[str]:
    """Call each Protocol method once (reads and writes); return the names called."""
    called: set[str] = set()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rule = WebhookRule(id="wh_1", url="https://x.example/", secret="whsec_eA==", created_at=at)
    store.save_webhook_rule(rule)  # a rule first, so that the writes below record events
    res = store.apply(
        cs(
            up("Service", "svc"),
            up("Application", "app"),
            rel("DEPENDS_ON", "svc", "app"),
            changes=[Change(id="RFC-1", title="t")],
            incidents=[Incident(id="INC-1", title="i", opened_at=datetime(2026, 1, 1, tzinfo=UTC))],
        )
    )
    called.add("apply")
    svc, app = res.ci_ids
    store.get_ci(svc)
    store.get_ci(svc, as_of=datetime.now(UTC) + timedelta(days=3650))
    store.find_by_identifier(ident("key", "svc"))
    store.list_cis(CIFilter(ci_class="Service"))
    store.get_relationship(res.rel_ids[0])
    store.list_relationships(include_retired=True)
    list(store.iter_documents(DocumentKind.CI))
    list(store.iter_documents(DocumentKind.REL))
    store.neighbours(svc, direction=Direction.BOTH)
    store.subgraph([svc], direction=Direction.BOTH)
    store.history(svc)
    list(store.iter_history())
    store.counts()
    store.get_change("RFC-1")
    store.list_changes(ci_id=app)
    store.get_incident("INC-1")
    store.list_incidents(open_only=True)
    store.list_problems(ci_id="ci_none")
    with pytest.raises(NotFound):
        store.get_problem("PRB-none")
    store.is_empty()
    store.find_by_identifiers([ident("key", "svc"), ident("key", "app")])
    store.list_runs(source="feed")
    with pytest.raises(NotFound):
        store.get_run("run-none")
    store.list_sightings("manual")
    store.get_cis([svc, app])
    store.get_relationships(res.rel_ids)
    store.neighbours_of([svc, app])
    called |= {"find_by_identifiers", "get_run", "list_runs", "list_sightings"}
    called |= {"get_cis", "get_relationships", "neighbours_of", "iter_documents"}
    called |= {
        "get_ci",
        "find_by_identifier",
        "list_cis",
        "get_relationship",
        "list_relationships",
        "neighbours",
        "subgraph",
        "history",
        "iter_history",
        "counts",
        "get_change",
        "list_changes",
        "get_incident",
        "list_incidents",
        "get_problem",
        "list_problems",
        "is_empty",
    }
    # Writes that change things without deleting anything, and a refused restore.
    store.apply(
        cs(
            rel_retire("DEPENDS_ON", "svc", "app"),
            retire("app", LifecycleStatus.DISPOSED),
            up("Service", "svc", attributes={"gone": None}),
            incidents=[
                Incident(
                    id="INC-1",
                    title="i",
                    state=IncidentState.CLOSED,
                    opened_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            ],
        )
    )
    # The outbox and webhooks: rules and deliveries come and go; history stays.
    events = store.read_events()
    store.get_event(events[0].id)
    store.last_event_seq()
    store.save_webhook_rule(rule.model_copy(update={"description": "saved again"}))
    store.get_webhook_rule("wh_1")
    store.list_webhook_rules()
    e = events[0]
    d = Delivery(
        id=delivery_id(e.id, "wh_1"),
        rule_id="wh_1",
        event_id=e.id,
        event_seq=e.seq,
        event_type=e.type,
        next_attempt_at=at,
        created_at=at,
    )
    store.queue_deliveries([d], cursor="history-test", seq=e.seq)
    store.outbox_cursor("history-test")
    store.save_delivery(d.model_copy(update={"attempts": 1}))
    store.get_delivery(d.id)
    store.due_deliveries(at)
    store.claim_due(at, until=at)
    store.list_deliveries("wh_1")
    store.delete_webhook_rule("wh_1")
    # What-if proposals are kept beside the graph: versions added, no history rows.
    store.save_proposal(Proposal(id="RFC-H", version=1, at=at))
    store.get_proposal("RFC-H")
    store.list_proposals()
    store.proposal_versions("RFC-H")
    # A guarded write (cmdb/store/guards.py) adds history as any write; the guard is no row.
    store.apply(
        cs(up("Server", "guarded")).model_copy(
            update={"guard": Guard(name="history-test", expect=store.guard_value("history-test"))}
        )
    )
    # Retention deletes finished deliveries and old events, never history.
    store.purge_outbox(upto_seq=store.last_event_seq(), finished_before=at + timedelta(days=1))
    called |= {
        "purge_outbox",
        "guard_value",
        "read_events",
        "get_event",
        "last_event_seq",
        "save_webhook_rule",
        "get_webhook_rule",
        "list_webhook_rules",
        "queue_deliveries",
        "outbox_cursor",
        "save_delivery",
        "get_delivery",
        "due_deliveries",
        "claim_due",
        "list_deliveries",
        "delete_webhook_rule",
        "save_proposal",
        "get_proposal",
        "list_proposals",
        "proposal_versions",
    }
    # Restoring rows the store already holds is refused, and must not touch them.
    with pytest.raises(CmdbError):
        store.restore(SnapshotBatch(history=list(store.iter_history())))
    called.add("restore")
    return called


def test_no_method_deletes_or_edits_history(store: GraphStore) -> None:
    store.apply(cs(up("Server", "first", owner="a")))
    store.apply(cs(up("Server", "first", owner="b")))
    before = list(store.iter_history())
    called = _exercise_every_method(store)
    after = list(store.iter_history())
    assert after[: len(before)] == before
    assert len(after) > len(before)
    # Every method of the Protocol but close was exercised (close runs at teardown).
    protocol_methods = {
        name
        for name, _ in inspect.getmembers(GraphStore, predicate=inspect.isfunction)
        if not name.startswith("_")
    }
    assert protocol_methods - called == {"close"}
    assert all(h.actor and h.source and h.at for h in after)


def test_history_stays_ordered_when_the_clock_steps_back(
    store: GraphStore, clock: FakeClock
) -> None:
    ci_id = store.apply(cs(up("Server", "s", owner="a"))).ci_ids[0]
    first = clock()
    clock.set(first - timedelta(hours=1))  # e.g. an NTP correction on the writer
    store.apply(cs(up("Server", "s", owner="b")))
    rows = store.history(ci_id)
    assert [h.at for h in rows] == sorted(h.at for h in rows)
    assert rows[-1].at >= first
    # As of the first instant or later, the update is visible; before it, nothing is.
    assert store.get_ci(ci_id, as_of=rows[-1].at).owner == "b"
    with pytest.raises(NotFound):
        store.get_ci(ci_id, as_of=clock())
