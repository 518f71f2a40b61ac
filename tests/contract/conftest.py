"""The contract suite's fixtures: every test here runs once per store in STORE_FACTORIES.

Tests in this folder use only the ``GraphStore`` Protocol (cmdb/store/contract.py), so a
store is added by one entry in STORE_FACTORIES (and its marks in STORE_MARKS). A factory
gets a fresh directory, the test's FakeClock and the pytest request, through which it can
reach session fixtures: the Neo4j entry takes ``neo4j_driver`` (tests/conftest.py).

Rules a factory can rely on, and must keep:
- it returns an empty store that reads time from ``clock``;
- a test holds at most one open store at a time (``store_factory`` closes nothing for
  you mid-test, but the tests close the old store before asking for a new one), so a
  server-backed factory may wipe and reuse its one database;
- the fixture closes every store it handed out at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store

StoreFactory = Callable[[Path, FakeClock, pytest.FixtureRequest], GraphStore]


def _embedded(path: Path, clock: FakeClock, request: pytest.FixtureRequest) -> GraphStore:
    return EmbeddedStore(path / "cmdb.db", clock=clock)


def _neo4j(path: Path, clock: FakeClock, request: pytest.FixtureRequest) -> GraphStore:
    # One real server per session (tests/conftest.py); each store starts from a wiped
    # database, which is safe because a test holds one open store at a time.
    return fresh_store(request.getfixturevalue("neo4j_driver"), clock)


STORE_FACTORIES: dict[str, StoreFactory] = {"embedded": _embedded, "neo4j": _neo4j}
# Marks per store id (e.g. pytest.mark.neo4j), so `-m "not neo4j"` can select.
STORE_MARKS: dict[str, tuple[pytest.MarkDecorator, ...]] = {"neo4j": (pytest.mark.neo4j,)}

MakeStore = Callable[..., GraphStore]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(
    params=[
        pytest.param(name, id=name, marks=STORE_MARKS.get(name, ())) for name in STORE_FACTORIES
    ]
)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(
    store_kind: str, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[MakeStore]:
    """``make(clock=None)``: a new empty store of this test's kind (own directory)."""
    opened: list[GraphStore] = []

    def make(clock_: FakeClock | None = None) -> GraphStore:
        path = tmp_path / f"store{len(opened)}"
        path.mkdir()
        made = STORE_FACTORIES[store_kind](path, clock_ or clock, request)
        opened.append(made)
        return made

    yield make
    for s in reversed(opened):
        s.close()


@pytest.fixture
def store(store_factory: MakeStore) -> GraphStore:
    return store_factory()
