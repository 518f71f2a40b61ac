"""The test server is a real, password-protected Neo4j 5.26 reachable over Bolt."""

from __future__ import annotations

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError

from devsupport.neo4j_local import Neo4jServer

pytestmark = pytest.mark.neo4j


def test_server_serves_bolt_with_auth(neo4j_server: Neo4jServer) -> None:
    with GraphDatabase.driver(
        neo4j_server.uri, auth=(neo4j_server.user, neo4j_server.password)
    ) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS one")
        assert [record["one"] for record in records] == [1]
        records, _, _ = driver.execute_query(
            "CALL dbms.components() YIELD versions RETURN versions[0] AS v"
        )
        assert str(records[0]["v"]).startswith("5.26")

    # Auth must really be on: a server that accepted any password would hide
    # misconfigured credentials in the application's tests.
    with (
        GraphDatabase.driver(neo4j_server.uri, auth=(neo4j_server.user, "not-the-password")) as d,
        pytest.raises(AuthError),
    ):
        d.verify_connectivity()
