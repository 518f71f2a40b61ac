"""Each incident clock stops once: a second resolution, a second response, or a response
after the resolution is refused and writes nothing. Unzoned times in records are UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import Change, Incident, IncidentState
from cmdb.practice.incidents import mark, save
from cmdb.store.embedded.store import EmbeddedStore

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_clocks_stop_once(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "c.db")
    try:
        save(store, [Incident(id="INC-1", title="t", opened_at=T)], actor="desk")
        mark(store, "INC-1", actor="desk", resolved_at=T + timedelta(hours=2))
        before = (store.get_incident("INC-1"), len(store.history("INC-1")))
        with pytest.raises(InvalidInput, match="resolved already"):
            mark(store, "INC-1", actor="desk", resolved_at=T + timedelta(days=4))
        with pytest.raises(InvalidInput, match="response is recorded already"):
            mark(store, "INC-1", actor="desk", responded_at=T + timedelta(hours=1))
        assert (store.get_incident("INC-1"), len(store.history("INC-1"))) == before
        save(store, [Incident(id="INC-2", title="t", opened_at=T)], actor="desk")
        mark(store, "INC-2", actor="desk", responded_at=T + timedelta(minutes=5))
        done = mark(store, "INC-2", actor="desk", resolved_at=T + timedelta(hours=1))
        assert done.state is IncidentState.RESOLVED
        assert done.responded_at == T + timedelta(minutes=5)
    finally:
        store.close()


def test_a_response_after_the_resolution_is_refused(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "c.db")
    try:
        inc = Incident(
            id="INC-3", title="t", opened_at=T, state=IncidentState.RESOLVED,
            resolved_at=T + timedelta(hours=1),
        )  # fmt: skip
        save(store, [inc], actor="desk")  # e.g. imported without a response
        with pytest.raises(InvalidInput, match="after the resolution"):
            mark(store, "INC-3", actor="desk", responded_at=T + timedelta(hours=2))
    finally:
        store.close()


def test_unzoned_times_are_utc() -> None:
    c = Change(
        id="RFC-1", title="t", planned_start="2026-12-01T02:00:00",  # type: ignore[arg-type]
        planned_end="2026-12-01T03:00:00Z",  # type: ignore[arg-type]
    )  # fmt: skip
    assert c.planned_start == datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert Incident(id="I", title="t", opened_at=datetime(2026, 1, 1)).opened_at.tzinfo is UTC
