"""Session-wide fixtures: the real Neo4j server and its driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from neo4j import Driver

from cmdb.store.neo4j.local_server import Neo4jServer, find_or_start
from tests.neo4j_support import ROOT, driver_for, prepared


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jServer]:
    server = find_or_start(ROOT)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_server: Neo4jServer) -> Iterator[Driver]:
    driver = driver_for(neo4j_server)
    prepared(driver)
    try:
        yield driver
    finally:
        driver.close()
