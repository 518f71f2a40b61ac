"""Event retention on both stores: finished deliveries and the events no delivery is left
for are purged once older than the retention; a pending delivery keeps its event, events
the worker has not queued stay, history stays, and event numbers never start again."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cmdb.app import webhooks
from cmdb.app.caller import Caller
from cmdb.app.webhook_delivery import Worker, WorkerConfig, purge, purge_finished
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import Forbidden, InvalidInput, NotFound
from cmdb.domain.events import Delivery, DeliveryState
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from tests.fakes import FakeClock
from tests.servers import wait_until
from tests.webhook_receiver import Receiver

ADMIN = Caller(Principal("admin", Role.ADMIN), "req-1", "api")
CFG = WorkerConfig(allow_private=True, timeout_s=5, max_attempts=10, backoff_base_s=10)
DAY = 86400.0
CLOSED = "http://127.0.0.1:9/hook"  # the discard port: nothing listens, attempts fail


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def store_clock(clock: FakeClock) -> FakeClock:
    return clock  # the conftest's ``store`` runs on this test's clock


def _server(name: str) -> ChangeSet:
    return ChangeSet.model_validate(
        {
            "actor": "tester",
            "source": "manual",
            "ci_upserts": [
                {"class": "Server", "name": name, "identifiers": [{"kind": "key", "value": name}]}
            ],
        }
    )


def _seqs(store: GraphStore) -> list[int]:
    return [e.seq for e in store.read_events(limit=1000)]


def test_old_finished_deliveries_and_their_events_are_purged(
    store: GraphStore, clock: FakeClock
) -> None:
    worker = Worker(store, CFG, clock=clock)
    try:
        with Receiver().running() as rx:
            ok = webhooks.create_rule(
                store, ADMIN, url=rx.url, events=["ci.created"], allow_private=True
            )
            store.apply(_server("a"))
            store.apply(_server("b"))
            assert worker.run_once().delivered == 2
            bad = webhooks.create_rule(
                store, ADMIN, url=CLOSED, events=["ci.created"], allow_private=True
            )
            store.apply(_server("c"))  # delivered to ok, pending (retrying) for bad
            r = worker.run_once()
            assert (r.delivered, r.failed) == (1, 1)
            store.apply(_server("d"))  # old too, but not queued yet: after the cursor
            rx.wait_for(3)
        _, _, e3, e4 = _seqs(store)
        history = len(list(store.iter_history()))
        last = store.last_event_seq()
        clock.advance(31 * DAY)
        store.apply(_server("e"))  # new: within the retention
        (e5,) = [s for s in _seqs(store) if s > e4]
        gone = purge(store, timedelta(days=30), now=clock())
        assert (gone.events, gone.deliveries) == (2, 3)
        assert _seqs(store) == [e3, e4, e5]  # e3: a delivery still to make; e4: unread
        assert store.list_deliveries(ok.id) == []
        (pending,) = store.list_deliveries(bad.id)
        assert pending.state is DeliveryState.PENDING and pending.event_seq == e3
        assert len(list(store.iter_history())) == history + 1  # e's write; none purged
        assert store.last_event_seq() >= last
        # Nothing is younger than the retention now: a second purge finds nothing.
        again = purge(store, timedelta(days=30), now=clock())
        assert (again.events, again.deliveries) == (0, 0)
        # Once every delivery is done (the bad rule deleted, the rest delivered), all of
        # it goes, and the numbering carries on after the purged events.
        webhooks.delete_rule(store, ADMIN, bad.id)
        with Receiver().running() as rx2:
            store.save_webhook_rule(ok.model_copy(update={"url": rx2.url}))
            assert worker.run_once().delivered == 2  # d and e
        clock.advance(31 * DAY)
        gone = purge(store, timedelta(days=30), now=clock())
        assert (gone.events, gone.deliveries) == (3, 2)
        assert _seqs(store) == []
        assert store.last_event_seq() >= e5
        store.apply(_server("f"))
        assert _seqs(store)[0] > e5
    finally:
        worker.close()


def test_a_replayed_delivery_of_a_purged_event_fails_with_the_reason(
    store: GraphStore, clock: FakeClock
) -> None:
    worker = Worker(store, CFG, clock=clock)
    try:
        with Receiver().running() as rx:
            rule = webhooks.create_rule(store, ADMIN, url=rx.url, allow_private=True)
            store.apply(_server("a"))
            assert worker.run_once().delivered == 1
            (done,) = store.list_deliveries(rule.id)
            clock.advance(2 * DAY)
            assert purge(store, timedelta(days=1), now=clock()).events == 1
            with pytest.raises(NotFound, match="no event"):
                webhooks.replay(store, ADMIN, rule.id, done.event_id)
            # A replay that queued it just before the purge (a race): the worker marks it
            # failed with the reason instead of failing its pass.
            store.save_delivery(
                Delivery.model_validate(
                    {
                        **done.model_dump(),
                        "state": "pending",
                        "next_attempt_at": clock(),
                        "attempts": 0,
                    }
                )
            )
            assert worker.run_once().failed == 1
            assert len(rx.received) == 1
        (d,) = store.list_deliveries(rule.id)
        assert d.state is DeliveryState.FAILED and "purged" in (d.log[-1].error or "")
    finally:
        worker.close()


def test_the_running_worker_purges_and_the_use_case_checks_its_input(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = EmbeddedStore(tmp_path / "cmdb.db", clock=clock)
    cfg = WorkerConfig(allow_private=True, retention_days=1, purge_every_s=3600)
    worker = Worker(store, cfg, clock=clock)
    stop = threading.Event()
    try:
        with Receiver().running() as rx:
            webhooks.create_rule(store, ADMIN, url=rx.url, allow_private=True)
            store.apply(_server("a"))
            assert worker.run_once().delivered == 1
        clock.advance(2 * DAY)
        t = threading.Thread(target=worker.run, args=(stop,), kwargs={"interval_s": 0.05})
        t.start()
        wait_until("the worker purged", lambda: _seqs(store) == [], timeout=20)
    finally:
        stop.set()
        worker.close()
    t.join(10)
    # The use case behind `cmdb webhooks purge`: the setting, or --older-than.
    with pytest.raises(InvalidInput) as err:
        purge_finished(store, ADMIN, older_than_days=None, retention_days=0)
    assert err.value.where == "--older-than"
    scoped = Caller(Principal("p", Role.ADMIN, services=("svc",)), "r", "api")
    with pytest.raises(Forbidden):
        purge_finished(store, scoped, older_than_days=1, retention_days=30)
    assert purge_finished(store, ADMIN, older_than_days=None, retention_days=30).events == 0
    store.close()
