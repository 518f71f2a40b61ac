"""Reliability of the Neo4j store against a real server (../shared/reliability.md 1, 3, 4, 5).

Item 6 (the server killed mid-batch) lives in test_neo4j_kill.py: it needs its own server.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import ConstraintError, TransientError

from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelUpsert
from cmdb.domain.errors import IdentityConflict, SchemaNotReady, StoreUnavailable
from cmdb.domain.identifiers import Identifier
from cmdb.store.neo4j.migrations import migrate
from cmdb.store.neo4j.store import Neo4jStore
from devsupport.neo4j_local import Neo4jServer
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store, wipe
from tests.tcp_proxy import BoltCutProxy

pytestmark = pytest.mark.neo4j


def _key(n: int) -> Identifier:
    return Identifier(kind="key", value=f"host-{n}")


def _batch(numbers: list[int], source: str = "feed") -> ChangeSet:
    ups = [
        CIUpsert(ci_class="Server", name=f"host-{n}", identifiers=[_key(n)], attributes={"n": n})
        for n in numbers
    ]
    rels = [
        RelUpsert(
            type="CONNECTS_TO",
            source=CIRef(identifier=_key(n)),
            target=CIRef(identifier=_key(n + 1)),
        )
        for n in numbers
        if n + 1 in set(numbers)
    ]
    return ChangeSet(actor="test", source=source, ci_upserts=ups, rel_upserts=rels)


def _state(driver: Driver) -> tuple[int, int, int]:
    recs, _, _ = driver.execute_query(
        "MATCH (c:CI) WITH count(c) AS cis "
        "OPTIONAL MATCH ()-[r:CONNECTS_TO]->() WITH cis, count(r) AS rels "
        "OPTIONAL MATCH (h:History) RETURN cis, rels, count(h) AS history"
    )
    return recs[0]["cis"], recs[0]["rels"], recs[0]["history"]


# -- 1. concurrent upserts: no duplicate identity -----------------------------------------


def _worker(uri: str, user: str, password: str, numbers: list[int]) -> None:
    store = Neo4jStore.connect(uri, user, password)
    try:
        for i in range(0, len(numbers), 100):
            store.apply(_batch(sorted(numbers[i : i + 100])))
    finally:
        store.close()


def test_concurrent_workers_create_each_identity_once(
    neo4j_server: Neo4jServer, neo4j_driver: Driver
) -> None:
    wipe(neo4j_driver)
    # 8 workers, 600 CIs each over a pool of 1,200: every CI is written by several workers.
    plans = [[(w * 150 + i) % 1200 for i in range(600)] for w in range(8)]
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker,
            args=(neo4j_server.uri, neo4j_server.user, neo4j_server.password, p),
        )
        for p in plans
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    recs, _, _ = neo4j_driver.execute_query(
        "MATCH (c:CI) WITH c.pkey AS k, count(*) AS n WHERE n > 1 RETURN count(*) AS dups"
    )
    assert recs[0]["dups"] == 0
    recs, _, _ = neo4j_driver.execute_query(
        "MATCH (a)-[r:CONNECTS_TO]->(b) WITH a, b, count(r) AS n WHERE n > 1 "
        "RETURN count(*) AS dups"
    )
    assert recs[0]["dups"] == 0
    cis, rels, _ = _state(neo4j_driver)
    assert cis == len({n for p in plans for n in p})
    # Serial application of the same batches gives the same edges.
    serial = {
        (n, n + 1)
        for p in plans
        for i in range(0, 600, 100)
        for n in sorted(p[i : i + 100])
        if n + 1 in set(p[i : i + 100])
    }
    assert rels == len(serial)


# -- 3. schema guard ----------------------------------------------------------------------


def test_store_without_constraints_refuses_writes(neo4j_driver: Driver) -> None:
    wipe(neo4j_driver)
    neo4j_driver.execute_query("DROP CONSTRAINT ci_pkey IF EXISTS")
    try:
        store = Neo4jStore(neo4j_driver, clock=FakeClock())
        assert "ci_pkey" in store.check_schema()
        with pytest.raises(SchemaNotReady, match="cmdb db migrate"):
            store.apply(_batch([1]))
        assert _state(neo4j_driver)[0] == 0
        store.migrate()
        store.apply(_batch([1]))
        assert _state(neo4j_driver)[0] == 1
    finally:
        migrate(neo4j_driver, "neo4j")


# -- 4. retry semantics -------------------------------------------------------------------


class FlakyClock(FakeClock):
    """Raises ``error`` the first ``failures`` times the store reads the time.

    The store reads its clock inside the transaction function, after taking the writer
    lock and before planning, so each failure aborts a real transaction midway.
    """

    def __init__(self, error: Exception, failures: int) -> None:
        super().__init__()
        self.error = error
        self.failures = failures
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return super().__call__()


def test_transient_errors_are_retried_and_applied_once(neo4j_driver: Driver) -> None:
    wipe(neo4j_driver)
    clock = FlakyClock(TransientError("deadlock detected (injected)"), failures=3)
    store = Neo4jStore(neo4j_driver, clock=clock)
    result = store.apply(_batch([1, 2, 3]))
    assert clock.calls == 4
    assert result.created == 3
    cis, rels, _ = _state(neo4j_driver)
    assert (cis, rels) == (3, 2)
    assert len(list(store.iter_history())) == 5  # 3 CI and 2 edge creations, once each


def test_constraint_errors_are_tried_once(neo4j_driver: Driver) -> None:
    wipe(neo4j_driver)
    clock = FlakyClock(ConstraintError("uniqueness (injected)"), failures=1)
    store = Neo4jStore(neo4j_driver, clock=clock)
    with pytest.raises(IdentityConflict):
        store.apply(_batch([1]))
    assert clock.calls == 1
    assert _state(neo4j_driver) == (0, 0, 0)


# -- 5. connection cut during commit ------------------------------------------------------


@pytest.fixture
def proxy(neo4j_server: Neo4jServer) -> Iterator[BoltCutProxy]:
    host, port = neo4j_server.uri.removeprefix("bolt://").split(":")
    with BoltCutProxy(host, int(port)) as p:
        yield p


@pytest.mark.parametrize("when", ["before_commit", "after_commit"])
def test_cut_during_commit_never_reports_success(
    proxy: BoltCutProxy, neo4j_server: Neo4jServer, neo4j_driver: Driver, when: str
) -> None:
    wipe(neo4j_driver)
    via_proxy = GraphDatabase.driver(
        f"bolt://127.0.0.1:{proxy.port}",
        auth=(neo4j_server.user, neo4j_server.password),
        notifications_min_severity="OFF",
        max_transaction_retry_time=2.0,
    )
    try:
        store = Neo4jStore(via_proxy, clock=FakeClock(datetime(2026, 3, 1, tzinfo=UTC)))
        batch = _batch([1, 2, 3, 4])
        proxy.arm(when)
        with pytest.raises(StoreUnavailable):
            store.apply(batch)
        assert proxy.cuts == 1
        cis, rels, _ = _state(neo4j_driver)
        assert (cis, rels) in ((0, 0), (4, 3)), "state must be before or after the batch"
        assert (cis, rels) == ((0, 0) if when == "before_commit" else (4, 3))
        # Re-running the same batch converges, and adds no duplicate history.
        again = fresh_store_no_wipe(neo4j_driver)
        again.apply(batch)
        again.apply(batch)
        assert _state(neo4j_driver)[:2] == (4, 3)
        assert len(list(again.iter_history())) == 7
    finally:
        via_proxy.close()


def fresh_store_no_wipe(driver: Driver) -> Neo4jStore:
    return Neo4jStore(driver, clock=FakeClock(datetime(2026, 3, 2, tzinfo=UTC)))


def test_fresh_store_helper_wipes(neo4j_driver: Driver) -> None:
    store = fresh_store(neo4j_driver, FakeClock())
    store.apply(_batch([7]))
    assert _state(neo4j_driver)[0] == 1
    fresh_store(neo4j_driver, FakeClock())
    assert _state(neo4j_driver) == (0, 0, 0)
