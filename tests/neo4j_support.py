"""Test support for the Neo4j store: one real server per test session, wiped per test.

The server comes from ``devsupport.neo4j_local.find_or_start``: NEO4J_URI when set,
else testcontainers when a Docker engine answers, else the local Maven-built launcher. It
never skips: a Neo4j that cannot start fails the tests that need it (CI must run them).
"""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver, GraphDatabase

from cmdb.store.neo4j.migrations import migrate
from cmdb.store.neo4j.store import Neo4jStore
from cmdb.store.planner import Clock
from devsupport.neo4j_local import Neo4jServer

ROOT = Path(__file__).resolve().parents[1]


def driver_for(server: Neo4jServer) -> Driver:
    return GraphDatabase.driver(
        server.uri, auth=(server.user, server.password), notifications_min_severity="OFF"
    )


def wipe(driver: Driver) -> None:
    """Empty the database but keep its schema (constraints, indexes, migration marks).

    In batches (an auto-commit ``CALL ... IN TRANSACTIONS``): one transaction deleting a
    50k-CI estate with its history runs past Neo4j's transaction memory limit."""
    with driver.session(database="neo4j") as session:
        session.run(
            "MATCH (n) WHERE NOT n:CmdbMigration "
            "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS"
        ).consume()


def prepared(driver: Driver) -> None:
    migrate(driver, "neo4j")


# Production's default is 30 s (CMDB_NEO4J_TX_TIMEOUT_S). The tests check what a write
# leaves, not how fast it is, and they share two cores with the xdist run: with the machine
# loaded, the 50k two-source trial (two ingests at once on one server) had a write of 500
# relationships run past 30 s and fail.
TEST_TX_TIMEOUT_S = 180.0


def fresh_store(driver: Driver, clock: Clock) -> Neo4jStore:
    wipe(driver)
    return Neo4jStore(driver, clock=clock, owns_driver=False, tx_timeout_s=TEST_TX_TIMEOUT_S)
