"""kill -9 of the delivery worker between commit and delivery: the event still arrives.

``cmdb webhooks deliver`` runs as a subprocess against a store holding a committed,
undelivered event; the receiver (127.0.0.1, allowed by CMDB_WEBHOOKS_ALLOW_PRIVATE)
holds the first request open, and the worker is killed with SIGKILL while it waits for
the answer. Nothing was marked delivered, so a restarted worker sends the event again,
with the same webhook-id, and the receiver's answer delivers it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from cmdb.app import webhooks
from cmdb.app.caller import Caller
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.events import DeliveryState
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import utcnow
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.neo4j.store import Neo4jStore
from tests.neo4j_support import fresh_store
from tests.webhook_receiver import Receiver

ADMIN = Caller(Principal("admin", Role.ADMIN))


@dataclass
class Target:
    """A store, and the settings a worker process needs to open the same one."""

    store: GraphStore
    env: dict[str, str]
    reopen: Callable[[], GraphStore]


@pytest.fixture(params=[pytest.param("embedded"), pytest.param("neo4j", marks=pytest.mark.neo4j)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "embedded":
        db = tmp_path / "cmdb.db"
        t = Target(EmbeddedStore(db), {"CMDB_DB_PATH": str(db)}, lambda: EmbeddedStore(db))
    else:
        server = request.getfixturevalue("neo4j_server")
        driver = request.getfixturevalue("neo4j_driver")
        env = {
            "CMDB_STORE": "neo4j",
            "CMDB_NEO4J_URI": server.uri,
            "CMDB_NEO4J_USER": server.user,
            "CMDB_NEO4J_PASSWORD": server.password,
        }
        t = Target(fresh_store(driver, utcnow), env, lambda: Neo4jStore(driver))
    try:
        yield t
    finally:
        t.store.close()


@contextmanager
def _worker(target: Target) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        **target.env,
        "CMDB_WEBHOOKS_ALLOW_PRIVATE": "true",
        "CMDB_WEBHOOKS_TIMEOUT_S": "30",
    }
    proc = subprocess.Popen(
        # A short lease: what the killed worker took comes due again a second later.
        [
            sys.executable,
            "-m",
            "cmdb.cli",
            "webhooks",
            "deliver",
            "--interval",
            "0.05",
            "--lease",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _wait(what: str, ok: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_an_event_is_delivered_after_the_worker_is_killed(target: Target) -> None:
    store = target.store
    with Receiver(hold_first=1).running() as rx:
        rule = webhooks.create_rule(store, ADMIN, url=rx.url, allow_private=True)
        store.apply(
            ChangeSet(
                actor="tester",
                source="manual",
                ci_upserts=[
                    CIUpsert(
                        ci_class="Server",
                        name="db-1",
                        identifiers=[Identifier.parse("key=db-1")],
                    )
                ],
            )
        )
        (event,) = store.read_events()  # committed, not delivered
        with _worker(target) as first:
            rx.wait_for(1)  # the worker sent it; the receiver holds the answer back
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            assert first.returncode == -signal.SIGKILL
        (d,) = store.list_deliveries(rule.id)
        assert d.state is DeliveryState.PENDING and d.attempts == 0
        rx.release.set()  # the held answer goes nowhere: its sender is gone
        with _worker(target) as second:
            got = rx.wait_for(2)
            _wait(
                "the delivery to be marked delivered",
                lambda: store.get_delivery(d.id).state is DeliveryState.DELIVERED,
            )
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=10)
            assert second.returncode == 0, second.stderr.read() if second.stderr else ""
    assert len(got) == 2
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"] == d.id
    for r in got:
        assert Webhook(rule.secret).verify(r.body, r.headers)["id"] == event.id
    done = target.reopen()  # as a new process would read it
    try:
        delivered = done.get_delivery(d.id)
    finally:
        done.close()
    assert delivered.attempts == 1 and delivered.log[0].status_code == 200
