"""list_incidents(resolved_since=...): the open incidents and those resolved since, exactly,
on both stores; each combined with ``ci_id`` and ``open_only``, and kept when updated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cmdb.domain.records import Incident, IncidentState
from cmdb.store.contract import GraphStore
from cmdb.store.recent import OPEN_ENDED, live_until
from tests.contract.builders import cs, up

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PLUS_13 = timezone(timedelta(hours=13))
MINUS_11 = timezone(timedelta(hours=-11))


def _inc(n: int, ci: str, state: IncidentState, opened: datetime, resolved: datetime | None):
    return Incident(
        id=f"INC-{n:04d}",
        title=f"incident {n}",
        state=state,
        ci_ids=[ci],
        opened_at=opened,
        resolved_at=resolved,
    )


@pytest.fixture
def history(store: GraphStore) -> tuple[dict[str, str], list[Incident]]:
    ids = store.apply(cs(up("Server", "s1"), up("Server", "s2"))).ci_ids
    cis = dict(zip(["s1", "s2"], ids, strict=True))
    R, C, OPEN = IncidentState.RESOLVED, IncidentState.CLOSED, IncidentState.OPEN
    day = timedelta(days=1)
    incidents = [
        _inc(1, cis["s1"], C, T - 400 * day, T - 399 * day),  # long ago
        _inc(2, cis["s2"], R, T - 40 * day, T - 30 * day),  # before the bound
        _inc(3, cis["s1"], R, T - 3 * day, T + 2 * day),  # after it
        _inc(4, cis["s1"], OPEN, T - 500 * day, None),  # open for long
        _inc(5, cis["s2"], R, T - 90 * day, None),  # resolved, no time: kept
        _inc(6, cis["s1"], OPEN, T - 90 * day, T - 80 * day),  # open again, an old time: kept
        # Instants written in other zones, one minute either side of the bound (which
        # falls at 12:00 UTC): only the exact comparison tells them apart.
        _inc(7, cis["s2"], C, T - 9 * day, (T - timedelta(minutes=1)).astimezone(PLUS_13)),
        _inc(8, cis["s2"], C, T - 9 * day, (T + timedelta(minutes=1)).astimezone(MINUS_11)),
        _inc(9, cis["s1"], R, T - 9 * day, T),  # resolved at the bound itself: kept
    ]
    store.apply(cs(incidents=incidents))
    return cis, incidents


def _ids(found: list[Incident]) -> list[str]:
    return [i.id for i in found]


def test_live_until_of_each_kind() -> None:
    when = T - timedelta(days=2)
    assert live_until(_inc(1, "x", IncidentState.RESOLVED, T, when)) == when
    assert live_until(_inc(1, "x", IncidentState.OPEN, T, when)) == OPEN_ENDED
    assert live_until(_inc(1, "x", IncidentState.CLOSED, T, None)) == OPEN_ENDED


def test_resolved_since_leaves_out_exactly_the_older_resolved(
    store: GraphStore, history: tuple[dict[str, str], list[Incident]]
) -> None:
    _, incidents = history
    every = store.list_incidents()
    assert _ids(every) == [i.id for i in incidents]
    got = store.list_incidents(resolved_since=T)
    assert _ids(got) == ["INC-0003", "INC-0004", "INC-0005", "INC-0006", "INC-0008", "INC-0009"]
    assert got == [i for i in every if i.id in set(_ids(got))]  # the same records, whole
    # A bound given in another zone is the same instant.
    assert store.list_incidents(resolved_since=T.astimezone(MINUS_11)) == got
    # Far back, every incident; far ahead, the open-ended ones only.
    assert _ids(store.list_incidents(resolved_since=T - timedelta(days=4000))) == _ids(every)
    assert _ids(store.list_incidents(resolved_since=T + timedelta(days=4000))) == [
        "INC-0004",
        "INC-0005",
        "INC-0006",
    ]


def test_resolved_since_with_a_ci_and_open_only(
    store: GraphStore, history: tuple[dict[str, str], list[Incident]]
) -> None:
    cis, _ = history
    assert _ids(store.list_incidents(ci_id=cis["s1"], resolved_since=T)) == [
        "INC-0003",
        "INC-0004",
        "INC-0006",
        "INC-0009",
    ]
    assert _ids(store.list_incidents(ci_id=cis["s2"], resolved_since=T)) == [
        "INC-0005",
        "INC-0008",
    ]
    assert _ids(store.list_incidents(open_only=True)) == ["INC-0004", "INC-0006"]
    assert _ids(store.list_incidents(open_only=True, ci_id=cis["s2"])) == []
    assert _ids(store.list_incidents(open_only=True, resolved_since=T)) == [
        "INC-0004",
        "INC-0006",
    ]


def test_an_update_moves_an_incident_across_the_bound(
    store: GraphStore, history: tuple[dict[str, str], list[Incident]]
) -> None:
    _, incidents = history
    long_ago = incidents[0]
    reopened = long_ago.model_copy(update={"state": IncidentState.OPEN, "resolved_at": None})
    store.apply(cs(incidents=[reopened]))
    assert "INC-0001" in _ids(store.list_incidents(resolved_since=T))
    now_resolved = incidents[3].model_copy(
        update={"state": IncidentState.RESOLVED, "resolved_at": T - timedelta(days=100)}
    )
    store.apply(cs(incidents=[now_resolved]))
    assert "INC-0004" not in _ids(store.list_incidents(resolved_since=T))
    assert "INC-0004" in _ids(store.list_incidents(resolved_since=T - timedelta(days=101)))
