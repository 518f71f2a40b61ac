"""Webhook delivery on both stores: signed per Standard Webhooks, retried with backoff on
the same webhook-id, logged per rule, replayed; disabled rules wait; outgoing URLs are
checked (reliability 22). A real receiver on 127.0.0.1 (allowed by the setting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from cmdb.app import discovery, webhooks
from cmdb.app.caller import Caller
from cmdb.app.webhook_delivery import Worker, WorkerConfig, retry_delay
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.config import Settings
from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.errors import Forbidden, InvalidInput, NotFound
from cmdb.domain.events import DeliveryState, EventType, WebhookRule
from cmdb.store.contract import GraphStore
from tests.fakes import FakeClock
from tests.webhook_receiver import Receiver

ADMIN = Caller(Principal("admin", Role.ADMIN), "req-1", "api")
CFG = WorkerConfig(allow_private=True, timeout_s=5, max_attempts=3, backoff_base_s=10)


def _server(name: str) -> ChangeSet:
    return ChangeSet.model_validate(
        {
            "actor": "tester",
            "source": "manual",
            "ci_upserts": [
                CIUpsert.model_validate(
                    {
                        "class": "Server",
                        "name": name,
                        "identifiers": [{"kind": "key", "value": name}],
                    }
                )
            ],
        }
    )


def test_an_event_is_delivered_signed(store: GraphStore) -> None:
    with Receiver().running() as rx:
        rule = webhooks.create_rule(
            store, ADMIN, url=rx.url, events=["ci.created"], allow_private=True
        )
        other = webhooks.create_rule(
            store, ADMIN, url=rx.url, events=["incident.opened"], allow_private=True
        )
        ci_id = store.apply(_server("web-1")).ci_ids[0]
        worker = Worker(store, CFG)
        try:
            result = worker.run_once()
        finally:
            worker.close()
        assert (result.queued, result.delivered, result.failed) == (1, 1, 0)
        (got,) = rx.wait_for(1)
    event = store.read_events()[0]
    # Standard Webhooks: the receiver verifies with the rule's secret and the headers.
    body = Webhook(rule.secret).verify(got.body, got.headers)
    assert body["type"] == "ci.created" and body["id"] == event.id
    assert body["data"]["subject_ids"] == [ci_id]
    assert body["data"]["ci"]["name"] == "web-1"
    assert got.headers["webhook-id"] == f"{event.id}.{rule.id}"
    assert got.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.new_secret()).verify(got.body, got.headers)
    (d,) = webhooks.deliveries(store, ADMIN, rule.id)
    assert d.state is DeliveryState.DELIVERED and d.attempts == 1
    assert d.log[0].status_code == 200 and d.log[0].error is None
    assert webhooks.deliveries(store, ADMIN, other.id) == []


def test_failures_are_retried_with_backoff_on_the_same_id(store: GraphStore) -> None:
    clock = FakeClock(datetime.now(UTC))
    with Receiver(statuses=[500, 503]).running() as rx:
        rule = webhooks.create_rule(store, ADMIN, url=rx.url, allow_private=True)
        store.apply(_server("db-1"))
        worker = Worker(store, CFG, clock=clock)
        try:
            assert worker.run_once().failed == 1
            (d,) = store.list_deliveries(rule.id)
            assert d.state is DeliveryState.PENDING and d.attempts == 1
            wait = d.next_attempt_at - clock()
            assert timedelta(seconds=10) <= wait <= timedelta(seconds=11)
            assert worker.run_once().failed == 0  # not due yet: nothing sent
            assert len(rx.received) == 1
            clock.advance(11)
            assert worker.run_once().failed == 1
            (d,) = store.list_deliveries(rule.id)
            assert d.attempts == 2
            assert timedelta(seconds=20) <= d.next_attempt_at - clock() <= timedelta(seconds=21)
            clock.advance(21)
            assert worker.run_once().delivered == 1
        finally:
            worker.close()
        got = rx.wait_for(3)
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    (d,) = store.list_deliveries(rule.id)
    assert d.state is DeliveryState.DELIVERED and d.attempts == 3
    assert [a.status_code for a in d.log] == [500, 503, 200]
    assert d.log[0].error == "HTTP 500"


def test_attempts_run_out_then_replay_sends_it_again(store: GraphStore) -> None:
    clock = FakeClock(datetime.now(UTC))
    with Receiver(statuses=[500, 500, 500]).running() as rx:
        rule = webhooks.create_rule(store, ADMIN, url=rx.url, allow_private=True)
        store.apply(_server("app-1"))
        worker = Worker(store, CFG, clock=clock)
        try:
            for _ in range(3):
                worker.run_once()
                clock.advance(hours=1)
            (d,) = store.list_deliveries(rule.id)
            assert d.state is DeliveryState.FAILED and d.attempts == 3
            assert worker.run_once().failed == 0  # given up: not sent again by itself
            event = store.read_events()[0]
            replayed = webhooks.replay(store, ADMIN, rule.id, event.id, now=clock())
            assert replayed.delivery.state is DeliveryState.PENDING
            assert worker.run_once().delivered == 1
        finally:
            worker.close()
        got = rx.wait_for(4)
    assert {r.headers["webhook-id"] for r in got} == {d.id}
    assert store.get_delivery(d.id).state is DeliveryState.DELIVERED
    assert len(store.get_delivery(d.id).log) == 4


def test_a_disabled_rule_is_sent_nothing_until_enabled(store: GraphStore) -> None:
    clock = FakeClock(datetime.now(UTC))
    with Receiver().running() as rx:
        rule = webhooks.create_rule(store, ADMIN, url=rx.url, allow_private=True)
        store.apply(_server("a"))
        worker = Worker(store, CFG, clock=clock)
        try:
            worker.queue()  # queued while enabled
            webhooks.set_enabled(store, ADMIN, rule.id, False)
            store.apply(_server("b"))  # happens while disabled: never queued for it
            worker.run_once()
            assert rx.received == []
            (d,) = store.list_deliveries(rule.id)
            assert d.state is DeliveryState.PENDING and d.attempts == 0
            webhooks.set_enabled(store, ADMIN, rule.id, True)
            clock.advance(61)
            assert worker.run_once().delivered == 1
        finally:
            worker.close()
        (got,) = rx.wait_for(1)
    assert got.json["data"]["ci"]["name"] == "a"


def test_rules_are_managed_through_the_use_cases(store: GraphStore) -> None:
    rule = webhooks.create_rule(
        store,
        ADMIN,
        url="https://93.184.215.14/hooks",
        events=["change.authorised", "ci.created", "ci.created"],
        description="change board",
    )
    assert rule.event_types == [EventType.CI_CREATED, EventType.CHANGE_AUTHORISED]
    assert rule.secret.startswith("whsec_") and rule.created_by == "admin"
    assert Webhook(rule.secret)  # a secret the library takes
    assert [r.id for r in webhooks.list_rules(store, ADMIN)] == [rule.id]
    assert webhooks.set_enabled(store, ADMIN, rule.id, False).enabled is False
    with pytest.raises(InvalidInput, match="no event type"):
        webhooks.create_rule(store, ADMIN, url="https://93.184.215.14/", events=["ci.eaten"])
    scoped = Caller(Principal("scoped", Role.ADMIN, ("svc_1",)))
    with pytest.raises(Forbidden):
        webhooks.list_rules(store, scoped)
    webhooks.delete_rule(store, ADMIN, rule.id)
    with pytest.raises(NotFound):
        webhooks.deliveries(store, ADMIN, rule.id)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://93.184.215.14/x",
        "gopher://127.0.0.1/",
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://user:pw@93.184.215.14/hook",
        "http:///nohost",
    ],
)
def test_outgoing_urls_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        webhooks.check_url(url, allow_private=False)
    assert err.value.where == "url"


def test_private_addresses_only_where_the_setting_allows_them() -> None:
    assert webhooks.check_url("http://127.0.0.1:9/x", allow_private=True)
    assert webhooks.check_url("https://93.184.215.14/x", allow_private=False)
    with pytest.raises(InvalidInput):
        webhooks.check_url("file:///etc/passwd", allow_private=True)


def test_the_worker_checks_the_url_again_before_sending(store: GraphStore) -> None:
    with Receiver().running() as rx:
        webhooks.create_rule(store, ADMIN, url=rx.url, allow_private=True)
        store.apply(_server("x"))
        worker = Worker(store, WorkerConfig(allow_private=False, max_attempts=1))
        try:
            assert worker.run_once().failed == 1
        finally:
            worker.close()
        assert rx.received == []
    (rule,) = store.list_webhook_rules()
    (d,) = store.list_deliveries(rule.id)
    assert d.state is DeliveryState.FAILED and "loopback" in (d.log[0].error or "")


def test_backoff_grows_to_its_cap() -> None:
    cfg = WorkerConfig(backoff_base_s=5, backoff_max_s=60)
    delays = [retry_delay(n, cfg) for n in range(1, 8)]
    floors = [5, 10, 20, 40, 60, 60, 60]
    assert all(f <= d <= f + 1 for d, f in zip(delays, floors, strict=True)), delays


def test_a_discovery_run_event_counts_its_unauthorised_changes(
    store: GraphStore, tmp_path: Path
) -> None:
    settings = Settings(db_path=tmp_path / "unused.db")
    # A rule that wants run events: without one, none is recorded.
    store.save_webhook_rule(
        WebhookRule(
            id="wh_runs",
            url="https://hooks.example/runs",
            secret=webhooks.new_secret(),
            event_types=[EventType.DISCOVERY_RUN_FINISHED],
            created_at=datetime.now(UTC),
        )
    )

    def push(owner: str) -> None:
        csv = f"key,class,name,owner\nnode-1,Server,node-1,{owner}\n".encode()
        discovery.push(store, ADMIN, settings, csv, fmt="csv", source="scan", scope="dc1")

    push("ops")
    push("someone-else")  # a value changed with no approved change behind it
    finished = [e for e in store.read_events() if e.type is EventType.DISCOVERY_RUN_FINISHED]
    assert [e.payload["unauthorised_changes"] for e in finished] == [0, 1]
    assert [e.payload["run"]["status"] for e in finished] == ["succeeded", "succeeded"]
    assert finished[1].payload["run"]["counts"]["updated"] == 1


def test_a_worker_skips_what_no_rule_can_want(store: GraphStore) -> None:
    for i in range(5):
        store.apply(_server(f"old-{i}"))
    worker = Worker(store, CFG)
    try:
        assert worker.run_once().queued == 0  # no rule: the cursor jumps to the end
        assert store.outbox_cursor("webhooks") == store.last_event_seq()
        with Receiver().running() as rx:
            rule = webhooks.create_rule(store, ADMIN, url=rx.url, allow_private=True)
            store.apply(_server("new"))
            assert worker.run_once().delivered == 1
            (got,) = rx.wait_for(1)
    finally:
        worker.close()
    assert got.json["data"]["ci"]["name"] == "new"
    assert [d.rule_id for d in store.list_deliveries(rule.id)] == [rule.id]


def test_an_unsendable_url_is_a_failed_attempt_not_a_failed_pass(store: GraphStore) -> None:
    # A URL that passes the check but that the HTTP client cannot send to: the attempt is
    # logged as failed (and counted), the pass goes on.
    at = datetime.now(UTC)
    store.save_webhook_rule(
        WebhookRule(id="wh_bad", url="http://a\x7fb/x", secret=webhooks.new_secret(),
                    created_at=at)
    )  # fmt: skip
    store.apply(_server("x"))
    worker = Worker(store, CFG)
    try:
        assert worker.run_once().failed == 1
    finally:
        worker.close()
    (d,) = store.list_deliveries("wh_bad")
    assert d.attempts == 1 and d.state is DeliveryState.PENDING and d.log[0].error
