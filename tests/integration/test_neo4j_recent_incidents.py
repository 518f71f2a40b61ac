"""Neo4j: ``list_incidents(resolved_since=...)`` reads through the live_until index once
migration 0011 has run, and gives the same incidents before it (a database upgraded in
place, whose incidents were written without live_until); ``migrate`` gives the resolved
ones their resolution, and again to one written without it after the migration ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from neo4j import Driver

from cmdb.domain.records import Incident, IncidentState
from cmdb.store.neo4j.store import LIVE_MIGRATION, Neo4jStore
from cmdb.store.recent import OPEN_ENDED
from tests.contract.builders import cs, up
from tests.fakes import FakeClock
from tests.neo4j_support import TEST_TX_TIMEOUT_S, fresh_store

pytestmark = pytest.mark.neo4j

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _incidents(ci: str) -> list[Incident]:
    def inc(n: int, state: IncidentState, resolved: datetime | None) -> Incident:
        return Incident(
            id=f"INC-{n}", title="t", state=state, ci_ids=[ci], opened_at=T - 500 * DAY,
            resolved_at=resolved,
        )  # fmt: skip

    return [
        inc(1, IncidentState.CLOSED, T - 300 * DAY),
        inc(2, IncidentState.RESOLVED, T + DAY),
        inc(3, IncidentState.OPEN, None),
        inc(4, IncidentState.RESOLVED, T - 2 * DAY),
    ]


# Each incident's live_until: its resolution, or none while open.
LIVE = {"INC-1": T - 300 * DAY, "INC-2": T + DAY, "INC-3": OPEN_ENDED, "INC-4": T - 2 * DAY}


def _live(driver: Driver) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        "MATCH (x:Incident) RETURN x.id AS id, x.live_until AS at ORDER BY id"
    )
    return {r["id"]: (None if r["at"] is None else r["at"].to_native()) for r in records}


def _recent(store: Neo4jStore) -> list[str]:
    return [i.id for i in store.list_incidents(resolved_since=T)]


def test_an_upgraded_database_reads_the_same_incidents_before_and_after_the_migration(
    neo4j_driver: Driver,
) -> None:
    store = fresh_store(neo4j_driver, FakeClock())
    ci = store.apply(cs(up("Server", "s1"))).ci_ids[0]
    store.apply(cs(incidents=_incidents(ci)))
    assert _live(neo4j_driver) == LIVE
    assert _recent(store) == ["INC-2", "INC-3"]

    # As a database from before migration 0011 holds its incidents: no live_until, no mark.
    neo4j_driver.execute_query("MATCH (x:Incident) REMOVE x.live_until")
    neo4j_driver.execute_query("MATCH (m:CmdbMigration {version: $v}) DELETE m", v=LIVE_MIGRATION)
    old = Neo4jStore(neo4j_driver, owns_driver=False, tx_timeout_s=TEST_TX_TIMEOUT_S)
    assert not old._applied(LIVE_MIGRATION)
    assert _recent(old) == ["INC-2", "INC-3"]

    assert "0011_incident_live_until.cypher" in old.migrate()
    assert old._applied(LIVE_MIGRATION)
    # Each resolved one has its resolution back (from its document), the open one none.
    assert _live(neo4j_driver) == LIVE
    assert _recent(old) == ["INC-2", "INC-3"]

    # Written by a graph-cmdb from before the migration, after it ran: migrating again
    # (as after upgrading it) sets its live_until, and it is read again.
    neo4j_driver.execute_query("MATCH (x:Incident {id: 'INC-2'}) REMOVE x.live_until")
    assert _recent(old) == ["INC-3"]
    old.migrate()
    assert _live(neo4j_driver)["INC-2"] == T + DAY
    assert _recent(old) == ["INC-2", "INC-3"]


def test_the_reads_use_the_indexes(neo4j_driver: Driver) -> None:
    store = fresh_store(neo4j_driver, FakeClock())
    ci = store.apply(cs(up("Server", "s1"))).ci_ids[0]
    store.apply(cs(incidents=_incidents(ci)))
    seen: list[str] = []
    read = store._reader.read

    def spy(query: str, params: dict[str, Any], take: Any) -> Any:
        seen.append(query)
        return read(query, params, take)

    store._reader.read = spy  # type: ignore[method-assign]
    assert [i.id for i in store.list_incidents(resolved_since=T)] == ["INC-2", "INC-3"]
    assert [i.id for i in store.list_incidents(open_only=True)] == ["INC-3"]
    bounded, open_only = seen

    def ops(plan: dict[str, Any]) -> list[str]:
        here = f"{plan['operatorType']} {plan.get('args', {}).get('Details', '')}"
        return [here] + [o for c in plan.get("children", []) for o in ops(c)]

    for query, seek, prop in ((bounded, "NodeIndexSeekByRange", "live_until"),
                              (open_only, "NodeIndexSeek", "state")):  # fmt: skip
        summary = neo4j_driver.execute_query("EXPLAIN " + query, since=T, ci=None).summary
        assert summary.plan is not None
        found = ops(summary.plan)
        assert any(o.startswith(seek) and prop in o for o in found), "\n".join(found)
