"""The shipped sample estate on each store: embedded, and a real Neo4j (``neo4j`` mark; the
session starts the server, it never skips)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cmdb.domain.model import utcnow
from cmdb.sample.load import load_sample
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.planner import Clock
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store

SAMPLE_NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sample_clock() -> FakeClock:
    return FakeClock(SAMPLE_NOW)


@pytest.fixture
def store_clock() -> Clock:
    """The clock of ``store``; a module overrides it to set the time itself."""
    return utcnow


@pytest.fixture(params=[pytest.param("embedded"), pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, store_clock: Clock
) -> Iterator[GraphStore]:
    """An empty store of each kind."""
    s: GraphStore
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "cmdb.db", clock=store_clock)
    else:
        s = fresh_store(request.getfixturevalue("neo4j_driver"), store_clock)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=[pytest.param("embedded"), pytest.param("neo4j", marks=pytest.mark.neo4j)])
def sample_store(
    request: pytest.FixtureRequest, tmp_path: Path, sample_clock: FakeClock
) -> Iterator[GraphStore]:
    s: GraphStore
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "cmdb.db", clock=sample_clock)
    else:
        s = fresh_store(request.getfixturevalue("neo4j_driver"), sample_clock)
    load_sample(s, actor="tester")
    try:
        yield s
    finally:
        s.close()
