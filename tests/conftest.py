"""Session-wide fixtures (the real Neo4j server and its driver) and the suite's order.

Every test that reaches the one Neo4j server carries the ``neo4j`` mark (a test asking for
``neo4j_server`` or ``neo4j_driver`` by name gets it here; stores reached through
``getfixturevalue`` carry it in their params' marks). The marked tests share one server and
its one database (community edition, wiped per test), so they run in one process, one
after another: ``make test`` runs them beside an xdist run of the rest (tests/run_suite.py),
which also takes the tests marked ``neo4j_own_server`` (they start a server of their own).
A test that reaches the server without the mark, or from an xdist worker, fails instead of
starting a second server (or, on a shared ``NEO4J_URI``, wiping the database under the
first).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from neo4j import Driver

from devsupport.neo4j_local import Neo4jServer, find_or_start
from tests.neo4j_support import ROOT, driver_for, prepared

# Fixtures that reach the shared server; a test asking for one by name gets the mark.
NEO4J_FIXTURES = frozenset({"neo4j_server", "neo4j_driver"})
# On xdist workers these go first: a trial of minutes handed out last would leave one
# worker running it alone at the end.
_FIRST_MARKS = ("slow", "fuzz")


def _rank(item: pytest.Item) -> int:
    return 0 if any(item.get_closest_marker(name) for name in _FIRST_MARKS) else 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if NEO4J_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.neo4j)
    if hasattr(config, "workerinput"):
        # A worker's collection is what the xdist controller hands out (every worker sorts
        # alike). A stable sort: collection order is kept within each rank.
        items.sort(key=_rank)


def _require_neo4j_mark(request: pytest.FixtureRequest) -> None:
    if hasattr(request.config, "workerinput"):
        pytest.fail(
            "the Neo4j tests share one server and run in one process, not under xdist: "
            "pytest -m neo4j (without -n), as make test does",
            pytrace=False,
        )
    if request.node.get_closest_marker("neo4j") is None:
        pytest.fail(
            f"{request.node.nodeid} reaches the shared Neo4j server without the neo4j mark; "
            "mark it (pytest.mark.neo4j, or the store's param marks) so that it runs in the "
            "one process that owns the server",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def _neo4j_session_server() -> Iterator[Neo4jServer]:
    # Started by the first Neo4j test, so a run without one starts no server. A launcher
    # JVM watches its stdin, a pipe only this process holds: if the run dies without this
    # teardown (a crash, a kill), the JVM shuts itself down.
    # ``for_tests`` (C1 only, first plans kept): the tests refill the database with every
    # test, and the server spent its CPU replanning and C2-compiling queries that ran a
    # few times (devsupport/neo4j_local.py). The 50k two-source trial, whose graph grows
    # past what its first plans suit, runs on a production-tuned server of its own.
    server = find_or_start(ROOT, for_tests=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _neo4j_session_driver(_neo4j_session_server: Neo4jServer) -> Iterator[Driver]:
    driver = driver_for(_neo4j_session_server)
    prepared(driver)
    try:
        yield driver
    finally:
        driver.close()


# Per test, so that every test reaching the server is checked, and checked before the
# session fixture would start a server for it.
@pytest.fixture
def neo4j_server(request: pytest.FixtureRequest) -> Neo4jServer:
    """The session's one Neo4j server."""
    _require_neo4j_mark(request)
    server: Neo4jServer = request.getfixturevalue("_neo4j_session_server")
    return server


@pytest.fixture
def neo4j_driver(request: pytest.FixtureRequest) -> Driver:
    """The session's driver to that server, migrated once."""
    _require_neo4j_mark(request)
    driver: Driver = request.getfixturevalue("_neo4j_session_driver")
    return driver


@pytest.fixture(autouse=True)
def _release_fastapi_caches() -> Iterator[None]:
    """Let each test's app go when the test is done.

    FastAPI memoizes, per callable identity, whether a dependency is a generator or a
    coroutine, in module-level LRU caches of 4,096 entries each (fastapi.dependencies.models).
    An API test builds a fresh app over a fresh store, with fresh closures, so those caches
    held the last hundred or so apps alive: their GraphQL schemas, routers and stores, ~5M
    objects that every full garbage collection walked and that the interpreter freed at
    exit. Measured on 182 API tests: 107 s -> 93 s, peak RSS 750 -> 190 MB, exit 27 -> 4 s.
    Clearing only costs the next app a recomputation; if FastAPI drops or renames the
    caches, this does nothing.
    """
    yield
    models = sys.modules.get("fastapi.dependencies.models")
    if models is not None:
        for value in list(vars(models).values()):
            clear = getattr(value, "cache_clear", None)  # the functools.lru_cache wrappers
            if callable(clear):
                clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI the real-inventory tests must run: a skip for missing inventories fails there.

    A user's clone may lack ../shared/data/inventories and skips with the reason; CI has the
    folder, so a skip there means the tests silently stopped finding it.
    """
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and "inventor" in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"CI must run the real-inventory tests; they skipped: {report.longrepr}"
