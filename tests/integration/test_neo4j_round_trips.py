"""Neo4j: a CI's neighbours now are one round trip (the CI, its relationships and the CIs at
their other ends in one answer), with the same answers as before: both directions, types,
retired edges left out, NotFound for an unknown CI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from neo4j import Driver
from neo4j._sync.work.session import Session

from cmdb.domain.errors import NotFound
from cmdb.store.contract import Direction
from cmdb.store.neo4j.store import Neo4jStore
from tests.contract.builders import ci_by_key, cs, rel, rel_retire, up
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store

pytestmark = pytest.mark.neo4j


@pytest.fixture
def counted(neo4j_driver: Driver, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Transactions the driver runs (each one round trip or more)."""
    calls = [0]
    real = Session._run_transaction

    def run(self: Session, *args: object, **kwargs: object) -> object:
        calls[0] += 1
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Session, "_run_transaction", run)
    yield calls


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


def test_neighbours_are_one_transaction(neo4j_driver: Driver, counted: list[int]) -> None:
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
