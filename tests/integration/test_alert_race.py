"""Two API processes receiving the same Alertmanager group at once open one incident, not
two (alert correlation is atomic across processes, on both stores).

Each "process" is a thread with its own store object on one database (its own SQLite
connection, or its own Neo4j sessions), calling the practice directly: the per-process
lock in cmdb.app.alerts plays no part. A rendezvous before each store's first write makes
both correlate on the same reading (no open incident) before either writes, the race a
real pair of replicas can run into."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cmdb.app.alerts import rules_of
from cmdb.app.changes import policy_of
from cmdb.config import Settings
from cmdb.domain.changeset import ApplyResult, ChangeSet
from cmdb.domain.records import Incident
from cmdb.practice import alerts as practice
from cmdb.sample.load import load_sample
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.neo4j.store import Neo4jStore
from tests.neo4j_support import TEST_TX_TIMEOUT_S, fresh_store

NOW = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
VM1 = practice.Alert("fp-vm1", "firing", {"alertname": "NodeDown", "instance": "vm-app-01:9100"},
                     datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # fmt: skip
VM2 = practice.Alert("fp-vm2", "firing", {"alertname": "HighLoad", "instance": "10.20.1.12:9100"},
                     datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # fmt: skip


class Rendezvous:
    """A store whose first write waits until the other one's is ready too."""

    def __init__(self, store: GraphStore, barrier: threading.Barrier) -> None:
        self._store, self._barrier, self.writes = store, barrier, 0

    def apply(self, cs: ChangeSet) -> ApplyResult:
        self.writes += 1
        if self.writes == 1:
            self._barrier.wait(timeout=60)
        return self._store.apply(cs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@dataclass
class Pair:
    first: GraphStore
    second: GraphStore


@pytest.fixture(params=[pytest.param("embedded"), pytest.param("neo4j", marks=pytest.mark.neo4j)])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    clock: Callable[[], datetime] = lambda: NOW  # noqa: E731
    if request.param == "embedded":
        first: GraphStore = EmbeddedStore(tmp_path / "cmdb.db", clock=clock)
        second: GraphStore = EmbeddedStore(tmp_path / "cmdb.db", clock=clock)
    else:
        driver = request.getfixturevalue("neo4j_driver")
        first = fresh_store(driver, clock)
        second = Neo4jStore(driver, clock=clock, owns_driver=False, tx_timeout_s=TEST_TX_TIMEOUT_S)
    load_sample(first, actor="test-setup")
    try:
        yield Pair(first, second)
    finally:
        second.close()
        first.close()


def _race(
    pair: Pair, alerts: tuple[list[practice.Alert], list[practice.Alert]]
) -> tuple[list[Any], list[int]]:
    settings = Settings(db_path=Path("unused.db"))
    rules, policy = rules_of(settings), policy_of(settings)
    barrier = threading.Barrier(2)
    stores = [Rendezvous(pair.first, barrier), Rendezvous(pair.second, barrier)]
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        try:
            results[i] = practice.receive(
                stores[i],
                alerts[i],
                rules=rules,
                policy=policy,
                actor=f"replica-{i}",
                now=NOW,
            )
        except BaseException as exc:  # reported by the test, not lost in the thread
            barrier.abort()
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results, sorted(s.writes for s in stores)


def _open(store: GraphStore) -> list[Incident]:
    return [i for i in store.list_incidents(open_only=True) if i.alerts]


def test_the_same_group_at_two_replicas_opens_one_incident(pair: Pair) -> None:
    results, writes = _race(pair, ([VM1, VM2], [VM1, VM2]))
    assert writes == [1, 1]  # the second, refused, found nothing left to write
    (inc,) = _open(pair.first)
    assert [a.fingerprint for a in inc.alerts] == ["fp-vm1", "fp-vm2"]
    srv = pair.first.list_cis(CIFilter(name="srv-01")).items[0].id
    assert inc.cause_id == srv
    actions = sorted(r.action for got, _ in results for r in got)
    # One replica opened it; the other, deciding again on what the first wrote, found
    # both alerts in it already.
    assert actions == ["opened", "opened", "updated", "updated"]
    assert {r.incident_id for got, _ in results for r in got} == {inc.id}


def test_alerts_of_one_cause_split_over_two_replicas_join_one_incident(pair: Pair) -> None:
    results, writes = _race(pair, ([VM1], [VM2]))
    assert writes == [1, 2]  # the second was refused once, then joined
    (inc,) = _open(pair.first)
    assert sorted(a.fingerprint for a in inc.alerts) == ["fp-vm1", "fp-vm2"]
    srv = pair.first.list_cis(CIFilter(name="srv-01")).items[0].id
    assert inc.cause_id == srv
    assert sorted(r.action for got, _ in results for r in got) == ["joined", "opened"]
    texts = " ".join(n.text for n in inc.notes)
    assert "opened it" in texts and "joined it" in texts
