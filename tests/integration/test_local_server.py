"""The local Neo4j helper gives a real, password-protected Neo4j 5.26 reachable over Bolt."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError

from cmdb.store.neo4j.local_server import find_or_start

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.neo4j
def test_find_or_start_serves_bolt_with_auth() -> None:
    server = find_or_start(PROJECT_ROOT)
    try:
        with GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS one")
            assert [record["one"] for record in records] == [1]

        # Auth must really be on: a server that accepted any password would hide
        # misconfigured credentials in the application's tests.
        with (
            GraphDatabase.driver(server.uri, auth=(server.user, "not-the-password")) as driver,
            pytest.raises(AuthError),
        ):
            driver.verify_connectivity()
    finally:
        server.stop()
