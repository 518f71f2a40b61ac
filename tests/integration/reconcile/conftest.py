"""Fixtures for reconciliation tests: a store of each kind (the contract suite's factories)
and a fake clock. Helpers live in tests/reconcile_support.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cmdb.store.contract import GraphStore
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import FakeClock

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
