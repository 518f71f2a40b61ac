"""Neo4j: a name search goes through the text index on ``lname`` once migration 0010 has
run, and finds the same CIs before it has (a database upgraded in place, whose CIs were
written without ``lname``), by lower-casing each name as the store did before."""

from __future__ import annotations

from typing import Any

import pytest
from neo4j import Driver

from cmdb.store.contract import CIFilter
from cmdb.store.neo4j import cypher
from cmdb.store.neo4j.migrations import migrate
from cmdb.store.neo4j.store import NAMES_MIGRATION, Neo4jStore
from tests.contract.builders import cs, up
from tests.fakes import FakeClock
from tests.neo4j_support import TEST_TX_TIMEOUT_S, fresh_store

pytestmark = pytest.mark.neo4j


def _names(store: Neo4jStore, text: str) -> list[str]:
    return [c.name for c in store.list_cis(CIFilter(name_contains=text), limit=100).items]


def test_an_upgraded_database_searches_the_same_before_and_after_the_migration(
    neo4j_driver: Driver,
) -> None:
    store = fresh_store(neo4j_driver, FakeClock())
    store.apply(
        cs(
            up("Service", "s1", name="Payments API"),
            up("Server", "s2", name="pay-db-01"),
            up("Location", "s3", name="BÜRO Straße"),
            up("Server", "s4", name="web-01"),
        )
    )
    want = {"pay": ["Payments API", "pay-db-01"], "büro": ["BÜRO Straße"], "eb-0": ["web-01"]}
    assert {t: _names(store, t) for t in want} == want

    # As a database from before migration 0010 holds its CIs: no lname, no mark.
    neo4j_driver.execute_query("MATCH (c:CI) REMOVE c.lname")
    neo4j_driver.execute_query("MATCH (m:CmdbMigration {version: $v}) DELETE m", v=NAMES_MIGRATION)
    try:
        old = Neo4jStore(neo4j_driver, owns_driver=False, tx_timeout_s=TEST_TX_TIMEOUT_S)
        assert {t: _names(old, t) for t in want} == want
        assert not old._names_indexed()
    finally:
        migrate(neo4j_driver, "neo4j")  # the session's database as every test expects it
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (c:CI) RETURN count(c) AS n, count(c.lname) AS named"
    )
    assert records[0]["n"] == records[0]["named"] == 4
    new = Neo4jStore(neo4j_driver, owns_driver=False, tx_timeout_s=TEST_TX_TIMEOUT_S)
    assert {t: _names(new, t) for t in want} == want
    assert new._names_indexed()


def _operators(plan: dict[str, Any]) -> list[str]:
    details = str(plan.get("args", {}).get("Details", ""))
    out = [f"{plan['operatorType']} {details}"]
    for child in plan.get("children", []):
        out += _operators(child)
    return out


def test_the_search_reads_the_text_index(neo4j_driver: Driver) -> None:
    store = fresh_store(neo4j_driver, FakeClock())
    store.apply(cs(*(up("Server", f"k{i}", name=f"srv-{i:04d}") for i in range(500))))
    # A search over every CI (with a class or other filters too, the planner weighs the
    # index against those labels' and properties' own).
    query = cypher.chunked(cypher.search_cis("CI", [], indexed=True), "c.doc", by="c")
    summary = neo4j_driver.execute_query(
        "EXPLAIN " + query, contains="srv-00", limit=10, after=None, **cypher.SEARCH_PARAMS
    ).summary
    assert summary.plan is not None
    ops = _operators(summary.plan)
    assert any(o.startswith("NodeIndexContainsScan") and "lname" in o for o in ops), "\n".join(ops)
