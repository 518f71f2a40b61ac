"""Neo4j round trips. A read is one auto-commit query: one round trip where a managed
transaction takes three (BEGIN, RUN and PULL, COMMIT), retried like a managed one on the
errors the driver calls retryable and on no others. A CI's neighbours now are one round
trip (the CI, its relationships and the CIs at their other ends in one answer), with the
same answers as before: both directions, types, retired edges left out, NotFound for an
unknown CI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from neo4j import Driver
from neo4j._sync.io._bolt import Bolt
from neo4j._sync.work.session import Session
from neo4j.exceptions import ClientError, ServiceUnavailable, TransientError

from cmdb.domain.errors import NotFound, StoreUnavailable
from cmdb.store.contract import Direction
from cmdb.store.neo4j.reads import Reader, rows_of
from cmdb.store.neo4j.store import Neo4jStore
from tests.contract.builders import ci_by_key, cs, rel, rel_retire, up
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store

pytestmark = pytest.mark.neo4j


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Round trips: each time the driver sends what it has queued and waits for answers."""
    calls = [0]
    real = Bolt.send_all

    def send_all(self: Bolt) -> None:
        calls[0] += 1
        real(self)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(Bolt, "send_all", send_all)
    yield calls


class _Flaky:
    """``Session.run`` failing with ``error`` on its first ``failures`` calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, error: Exception, failures: int) -> None:
        self.error, self.left, self.calls = error, failures, 0
        real = Session.run

        def run(session: Session, *args: object, **kwargs: object) -> object:
            self.calls += 1
            if self.left:
                self.left -= 1
                raise self.error
            return real(session, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Session, "run", run)


def _reader(driver: Driver, retry_s: float = 5.0) -> Reader:
    return Reader(driver, "neo4j", timeout_s=10, retry_s=retry_s, first_delay_s=0.01)


def test_a_read_is_one_round_trip(neo4j_driver: Driver, counted: list[int]) -> None:
    store = _store(neo4j_driver)
    app, db = ci_by_key(store, "app"), ci_by_key(store, "db")
    counted[0] = 0
    assert store.get_ci(app.id) == app
    assert counted[0] == 1
    counted[0] = 0
    got = store.get_cis([app.id, db.id])
    assert {c.name for c in got.values()} == {"app", "db"}
    assert counted[0] == 1


def test_transient_read_errors_are_retried(
    neo4j_driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for error in (TransientError("deadlock detected (injected)"), ServiceUnavailable("gone")):
        flaky = _Flaky(monkeypatch, error, failures=2)
        assert _reader(neo4j_driver).read("RETURN 7 AS n", {}, rows_of) == [{"n": 7}]
        assert flaky.calls == 3


def test_other_read_errors_are_tried_once(
    neo4j_driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = _Flaky(monkeypatch, ClientError("bad query (injected)"), failures=1)
    with pytest.raises(ClientError):
        _reader(neo4j_driver).read("RETURN 7 AS n", {}, rows_of)
    assert flaky.calls == 1


def test_reads_give_up_as_unavailable(
    neo4j_driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = _Flaky(monkeypatch, ServiceUnavailable("no server (injected)"), failures=10_000)
    with pytest.raises(StoreUnavailable, match="unavailable"):
        _reader(neo4j_driver, retry_s=0.3).read("RETURN 7 AS n", {}, rows_of)
    assert 2 <= flaky.calls < 10_000


def _store(driver: Driver) -> Neo4jStore:
    store = fresh_store(driver, FakeClock())
    store.apply(
        cs(
            up("Service", "shop"),
            up("ApplicationInstance", "app"),
            up("Server", "srv"),
            up("Database", "db"),
            up("Server", "lonely"),
            rel("DEPENDS_ON", "shop", "app"),
            rel("RUNS_ON", "app", "srv"),
            rel("DEPENDS_ON", "app", "db"),
            rel("DEPENDS_ON", "db", "app"),
        )
    )
    store.apply(cs(rel_retire("RUNS_ON", "app", "srv")))
    return store


def test_neighbours_are_one_round_trip(neo4j_driver: Driver, counted: list[int]) -> None:
    store = _store(neo4j_driver)
    app = ci_by_key(store, "app").id
    lonely = ci_by_key(store, "lonely").id
    counted[0] = 0
    got = store.neighbours(app)
    assert counted[0] == 1
    assert sorted((n.ci.name, n.direction.value, n.relationship.type) for n in got) == [
        ("db", "in", "DEPENDS_ON"),
        ("db", "out", "DEPENDS_ON"),
        ("shop", "in", "DEPENDS_ON"),
    ]
    assert [n.ci.name for n in store.neighbours(app, direction=Direction.OUT)] == ["db"]
    assert store.neighbours(app, types=["RUNS_ON"]) == []
    counted[0] = 0
    assert store.neighbours(lonely) == []
    assert counted[0] == 1
    with pytest.raises(NotFound, match="no CI ci_ghost"):
        store.neighbours("ci_ghost")
