"""The outbox: events are written with the change that causes them, on both stores; a write
that fails leaves none; the outbox reads in commit order after a cursor. Plus the webhook
rules and deliveries both stores keep."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from cmdb.domain.changeset import ChangeSet, Miss
from cmdb.domain.errors import CmdbError, IdentityConflict, NotFound
from cmdb.domain.events import Delivery, DeliveryState, Event, EventType, WebhookRule
from cmdb.domain.model import LifecycleStatus
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeRisk,
    ChangeState,
    DiscoveryRun,
    Incident,
    RiskClass,
    RunStatus,
)
from cmdb.domain.service import Priority
from cmdb.store.contract import GraphStore
from tests.contract.builders import cs, ident, key, ref, rel, rel_retire, retire, up
from tests.fakes import FakeClock

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _types(events: list[Event]) -> list[str]:
    return [e.type.value for e in events]


@pytest.fixture
def listening(store: GraphStore) -> WebhookRule:
    """A rule that wants every event: without one, no event is written (test below)."""
    rule = _rule("wh_every")
    store.save_webhook_rule(rule)
    return rule


def test_ci_and_relationship_writes_have_their_events(
    store: GraphStore, listening: WebhookRule, clock: FakeClock
) -> None:
    res = store.apply(
        cs(
            up("Server", "s1", owner="ops"),
            up("ApplicationInstance", "a1"),
            rel("RUNS_ON", "a1", "s1"),
            request_id="req-1",
        )
    )
    s1, a1 = res.ci_ids
    events = store.read_events()
    assert _types(events) == ["ci.created", "ci.created", "relationship.added"]
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    created = events[0]
    assert created.subject_ids == [s1]
    assert created.payload["ci"]["owner"] == "ops" and created.payload["ci"]["class"] == "Server"
    assert created.actor == "tester" and created.request_id == "req-1"
    added = events[2]
    assert added.subject_ids == [res.rel_ids[0], a1, s1]
    assert added.payload["relationship"]["type"] == "RUNS_ON"

    clock.advance(10)
    store.apply(cs(up("Server", "s1", owner="dba", attributes={"rack": "r1"})))
    clock.advance(10)
    store.apply(cs(rel_retire("RUNS_ON", "a1", "s1")))
    clock.advance(10)
    store.apply(cs(retire("s1", LifecycleStatus.DISPOSED)))
    later = store.read_events(after_seq=events[-1].seq)
    assert _types(later) == ["ci.updated", "relationship.retired", "ci.retired"]
    changes = {c["field"]: (c["before"], c["after"]) for c in later[0].payload["changes"]}
    assert changes == {"owner": ("ops", "dba"), "attributes.rack": (None, "r1")}
    assert later[2].payload["previous_status"] == "live"
    assert later[2].payload["ci"]["status"] == "disposed"
    # The same batch again changes nothing, so it causes nothing.
    store.apply(cs(up("Server", "s1", owner="dba", attributes={"rack": "r1"})))
    assert store.read_events(after_seq=later[-1].seq) == []


def test_retiring_a_ci_retires_its_relationships_with_events(
    store: GraphStore, listening: WebhookRule
) -> None:
    store.apply(cs(up("Server", "s1"), up("ApplicationInstance", "a1"), rel("RUNS_ON", "a1", "s1")))
    last = store.read_events()[-1].seq
    store.apply(cs(retire("s1")))
    assert sorted(_types(store.read_events(after_seq=last))) == [
        "ci.retired",
        "relationship.retired",
    ]


def test_change_and_incident_records_have_their_events(
    store: GraphStore, listening: WebhookRule
) -> None:
    ci = store.apply(cs(up("Server", "s1"))).ci_ids[0]
    start = store.read_events()[-1].seq
    rfc = Change(id="RFC-1", title="patch", ci_ids=[ci])
    store.apply(cs(changes=[rfc]))
    risk = ChangeRisk(
        risk_class=RiskClass.HIGH,
        approval=ApprovalLevel.CAB,
        rule="r",
        why="w",
        score=0.7,
        assessed_at=T0,
    )
    for state in (ChangeState.ASSESSED, ChangeState.AUTHORISED, ChangeState.IMPLEMENTED):
        rfc = rfc.model_copy(update={"state": state, "risk": risk})
        store.apply(cs(changes=[rfc]))
    inc = Incident(id="INC-1", title="down", ci_ids=[ci], opened_at=T0)
    store.apply(cs(incidents=[inc]))
    store.apply(cs(incidents=[inc.model_copy(update={"priority": Priority.P1})]))
    events = store.read_events(after_seq=start)
    assert _types(events) == [
        "change.submitted",
        "change.assessed",
        "change.authorised",
        "change.implemented",
        "incident.opened",
        "incident.priority_changed",
    ]
    assert events[1].payload["change"]["risk"]["risk_class"] == "high"
    assert events[2].payload["previous_state"] == "assessed"
    assert events[5].payload["previous_priority"] == "P3"
    assert events[5].payload["incident"]["priority"] == "P1"
    assert all(e.subject_ids in (["RFC-1"], ["INC-1"]) for e in events)


def test_a_finished_discovery_run_has_its_event_with_stale_cis(
    store: GraphStore, listening: WebhookRule, clock: FakeClock
) -> None:
    def run(run_id: str, status: RunStatus, **ops: object) -> ChangeSet:
        rec = DiscoveryRun(
            id=run_id, source="scan", scope="dc1", started_at=clock(), status=status,
            counts={"items": 1, "unauthorised": 2},
        )  # fmt: skip
        return ChangeSet(
            actor="discovery", source="scan", run_id=run_id, scope="dc1", runs=[rec], **ops
        )

    first = run("run-1", RunStatus.SUCCEEDED)
    first.ci_upserts = [up("Server", "s1")]
    store.apply(first)
    clock.advance(60)
    store.apply(run("run-2", RunStatus.RUNNING))  # not finished: no event
    store.apply(run("run-2", RunStatus.SUCCEEDED, misses=[Miss(ref=ref("s1"), stale_after=1)]))
    finished = [e for e in store.read_events() if e.type is EventType.DISCOVERY_RUN_FINISHED]
    assert [e.subject_ids for e in finished] == [["run-1"], ["run-2"]]
    s1 = store.find_by_identifier(key("s1"))[0].id
    assert finished[0].payload["stale_ci_ids"] == []
    assert finished[1].payload["stale_ci_ids"] == [s1]
    assert finished[1].payload["unauthorised_changes"] == 2
    assert finished[1].payload["run"]["counts"]["items"] == 1


def test_a_failed_write_leaves_no_event(store: GraphStore, listening: WebhookRule) -> None:
    store.apply(
        cs(
            up("Server", "a", identifiers=[ident("serial", "SN-A")]),
            up("Server", "b", identifiers=[ident("serial", "SN-B")]),
        )
    )
    before = store.read_events()
    # An identity conflict in the batch, after writes that would each cause an event.
    with pytest.raises(IdentityConflict):
        store.apply(
            cs(
                up("Server", "c"),
                up("Server", "a", owner="x"),
                up("Server", None, name="x", identifiers=[ident("serial", "SN-A"), key("b")]),
            )
        )
    with pytest.raises(CmdbError):
        store.apply(cs(up("Server", "d"), rel("DEPENDS_ON", "d", "ghost")))
    assert store.read_events() == before
    # A good write afterwards has its events, numbered after the earlier ones.
    store.apply(cs(up("Server", "c")))
    after = store.read_events(after_seq=before[-1].seq)
    assert _types(after) == ["ci.created"]


def test_the_outbox_reads_in_order_after_a_cursor(
    store: GraphStore, listening: WebhookRule, clock: FakeClock
) -> None:
    assert store.last_event_seq() == 0
    for i in range(7):
        clock.advance(1)
        store.apply(cs(up("Server", f"s{i}")))
    every = store.read_events(limit=1000)
    assert len(every) == 7
    assert store.last_event_seq() >= every[-1].seq
    seqs = [e.seq for e in every]
    assert seqs == sorted(seqs) and len(set(seqs)) == 7
    assert [e.payload["ci"]["name"] for e in every] == [f"s{i}" for i in range(7)]
    page = store.read_events(after_seq=seqs[2], limit=3)
    assert [e.seq for e in page] == seqs[3:6]
    assert store.read_events(after_seq=seqs[-1]) == []
    assert store.get_event(every[4].id) == every[4]
    with pytest.raises(NotFound):
        store.get_event("evt_nope")
    store.apply(cs(up("Server", "s-last")))
    assert store.read_events(after_seq=store.last_event_seq()) == []


def _rule(rule_id: str, **fields: object) -> WebhookRule:
    return WebhookRule.model_validate(
        {"id": rule_id, "url": "https://hooks.example/x", "secret": "whsec_c2VjcmV0",
         "created_at": T0, **fields}
    )  # fmt: skip


def test_webhook_rules_are_kept(store: GraphStore) -> None:
    assert store.list_webhook_rules() == []
    r1 = _rule("wh_b", event_types=[EventType.CI_CREATED])
    r2 = _rule("wh_a")
    store.save_webhook_rule(r1)
    store.save_webhook_rule(r2)
    assert [r.id for r in store.list_webhook_rules()] == ["wh_a", "wh_b"]
    store.save_webhook_rule(r1.model_copy(update={"enabled": False}))
    assert store.get_webhook_rule("wh_b").enabled is False
    assert store.get_webhook_rule("wh_b").event_types == [EventType.CI_CREATED]
    store.delete_webhook_rule("wh_b")
    with pytest.raises(NotFound):
        store.get_webhook_rule("wh_b")
    with pytest.raises(NotFound):
        store.delete_webhook_rule("wh_b")


def _delivery(event: Event, rule_id: str, at: datetime) -> Delivery:
    return Delivery(
        id=f"{event.id}.{rule_id}",
        rule_id=rule_id,
        event_id=event.id,
        event_seq=event.seq,
        event_type=event.type,
        next_attempt_at=at,
        created_at=at,
    )


def test_deliveries_are_queued_once_and_come_due(store: GraphStore) -> None:
    store.save_webhook_rule(_rule("wh_a"))
    store.apply(cs(up("Server", "s1"), up("Server", "s2")))
    e1, e2 = store.read_events()
    assert store.outbox_cursor("webhooks") == 0
    batch = [_delivery(e1, "wh_a", T0), _delivery(e2, "wh_a", T0 + timedelta(minutes=5))]
    assert store.queue_deliveries(batch, cursor="webhooks", seq=e2.seq) == 2
    assert store.outbox_cursor("webhooks") == e2.seq
    # Queued again (a worker that died before moving its cursor): nothing new, nothing reset.
    done = batch[0].model_copy(update={"state": DeliveryState.DELIVERED, "attempts": 1})
    store.save_delivery(done)
    assert store.queue_deliveries(batch, cursor="webhooks", seq=e1.seq) == 0
    assert store.outbox_cursor("webhooks") == e2.seq  # a cursor never moves back
    assert store.get_delivery(done.id).state is DeliveryState.DELIVERED
    assert store.due_deliveries(T0) == []
    assert [d.id for d in store.due_deliveries(T0 + timedelta(minutes=5))] == [batch[1].id]
    assert [d.id for d in store.list_deliveries("wh_a")] == [batch[1].id, batch[0].id]
    store.delete_webhook_rule("wh_a")
    assert store.list_deliveries("wh_a") == []
    with pytest.raises(NotFound):
        store.get_delivery(done.id)


def test_claimed_deliveries_are_taken_for_a_lease(store: GraphStore) -> None:
    store.save_webhook_rule(_rule("wh_a"))
    store.apply(cs(*(up("Server", f"s{i}") for i in range(5))))
    events = store.read_events()
    store.queue_deliveries(
        [_delivery(e, "wh_a", T0) for e in events], cursor="webhooks", seq=events[-1].seq
    )
    lease = T0 + timedelta(minutes=5)
    first = store.claim_due(T0, until=lease, limit=3)
    assert [d.event_seq for d in first] == [e.seq for e in events[:3]]
    assert all(d.next_attempt_at == lease for d in first)
    assert store.get_delivery(first[0].id).next_attempt_at == lease
    second = store.claim_due(T0, until=lease, limit=3)
    assert [d.event_seq for d in second] == [e.seq for e in events[3:]]
    assert store.claim_due(T0, until=lease) == []
    # A worker that took them and died: they come due again when the lease ends.
    again = store.claim_due(lease, until=lease + timedelta(minutes=5), limit=10)
    assert len(again) == 5
    assert all(d.state is DeliveryState.PENDING and d.attempts == 0 for d in again)


def test_concurrent_claims_take_disjoint_deliveries(store: GraphStore) -> None:
    store.save_webhook_rule(_rule("wh_a"))
    store.apply(cs(*(up("Server", f"s{i}") for i in range(40))))
    events = store.read_events(limit=1000)
    store.queue_deliveries(
        [_delivery(e, "wh_a", T0) for e in events], cursor="webhooks", seq=events[-1].seq
    )
    lease = T0 + timedelta(minutes=5)

    def claim_all(_: int) -> list[str]:
        got: list[str] = []
        while taken := store.claim_due(T0, until=lease, limit=3):
            got += [d.id for d in taken]
        return got

    with ThreadPoolExecutor(4) as pool:
        per_worker = list(pool.map(claim_all, range(4)))
    every = [i for ids in per_worker for i in ids]
    assert len(every) == len(set(every)) == 40


def test_no_rule_no_events_and_only_what_some_rule_wants(store: GraphStore) -> None:
    store.apply(cs(up("Server", "s0")))
    assert store.read_events() == []  # nobody could be sent them
    store.save_webhook_rule(_rule("wh_inc", event_types=[EventType.INCIDENT_OPENED]))
    store.apply(cs(up("Server", "s1")))
    assert store.read_events() == []  # the one rule wants incidents only
    store.save_webhook_rule(_rule("wh_off", event_types=[EventType.CI_CREATED], enabled=False))
    store.apply(cs(up("Server", "s2")))
    # A disabled rule may be enabled before the worker queues them: they are kept.
    (event,) = store.read_events()
    assert event.type is EventType.CI_CREATED and event.payload["ci"]["name"] == "s2"
