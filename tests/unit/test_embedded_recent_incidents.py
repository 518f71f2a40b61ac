"""Embedded store: ``list_incidents(resolved_since=...)`` reads through the index over the
incident documents (records_incident_live), which a file made without it gains when it is
opened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.records import Incident, IncidentState
from cmdb.store.embedded.store import EmbeddedStore

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _write(store: EmbeddedStore) -> None:
    incidents = [
        Incident(
            id=f"INC-{n:03d}",
            title="t",
            state=IncidentState.CLOSED,
            opened_at=T - timedelta(days=n + 1),
            resolved_at=T - timedelta(days=n),
        )
        for n in range(100)
    ]
    store.apply(ChangeSet(actor="t", source="manual", incidents=incidents))


def _plans(store: EmbeddedStore) -> list[str]:
    """The query plan of each statement ``list_incidents(resolved_since=T)`` runs."""
    conn = store._conn()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        store.list_incidents(resolved_since=T - timedelta(days=10))
    finally:
        conn.set_trace_callback(None)
    plans = []
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT"):
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            plans.append(" / ".join(str(r[3]) for r in rows))
    return plans


def test_the_bounded_read_uses_the_index(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "cmdb.db")
    _write(store)
    got = store.list_incidents(resolved_since=T - timedelta(days=10))
    assert [i.id for i in got] == [f"INC-{n:03d}" for n in range(11)]
    plans = _plans(store)
    assert plans and all("records_incident_live" in p for p in plans), plans
    store.close()


def test_a_file_without_the_index_gains_it_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "cmdb.db"
    store = EmbeddedStore(path)
    _write(store)
    store._conn().execute("DROP INDEX records_incident_live")
    store.close()
    again = EmbeddedStore(path)
    names = {r[0] for r in again._conn().execute("SELECT name FROM sqlite_master")}
    assert "records_incident_live" in names
    got = again.list_incidents(resolved_since=T - timedelta(days=3))
    assert [i.id for i in got] == ["INC-000", "INC-001", "INC-002", "INC-003"]
    again.close()
