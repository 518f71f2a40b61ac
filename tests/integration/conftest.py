"""The shipped sample estate on each store: embedded, and a real Neo4j (``neo4j`` mark; the
session starts the server, it never skips)."""

from __future__ import annotations

import shutil
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


class _SampleFiles:
    """Embedded store files holding the sample estate, one per load instant, made once per
    test process and copied for each test: loading the sample was most of such a test's
    set-up. The FakeClock never moves by itself, so a copy holds the timestamps a load at
    that instant writes (only the generated ids differ, and the tests find CIs by name)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[datetime, Path] = {}

    def copy(self, at: datetime, into: Path) -> Path:
        if at not in self.made:
            folder = self.root / f"sample-{len(self.made)}"
            folder.mkdir()
            store = EmbeddedStore(folder / "cmdb.db", clock=FakeClock(at))
            load_sample(store, actor="tester")
            store.close()  # the last connection checkpoints the WAL into the file
            self.made[at] = folder
        for file in self.made[at].iterdir():
            shutil.copyfile(file, into / file.name)
        return into / "cmdb.db"


@pytest.fixture(scope="session")
def _sample_files(tmp_path_factory: pytest.TempPathFactory) -> _SampleFiles:
    return _SampleFiles(tmp_path_factory.mktemp("integration-sample"))


@pytest.fixture(params=[pytest.param("embedded"), pytest.param("neo4j", marks=pytest.mark.neo4j)])
def sample_store(
    request: pytest.FixtureRequest, tmp_path: Path, sample_clock: FakeClock
) -> Iterator[GraphStore]:
    s: GraphStore
    if request.param == "embedded":
        files: _SampleFiles = request.getfixturevalue("_sample_files")
        s = EmbeddedStore(files.copy(sample_clock.now, tmp_path), clock=sample_clock)
    else:
        s = fresh_store(request.getfixturevalue("neo4j_driver"), sample_clock)
        load_sample(s, actor="tester")
    try:
        yield s
    finally:
        s.close()
