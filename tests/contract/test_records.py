"""Changes, incidents and problems: written by apply(), read by id and by CI, history kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cmdb.domain.errors import NotFound
from cmdb.domain.history import EntityKind, HistoryOp
from cmdb.domain.records import (
    Change,
    ChangeState,
    ChangeType,
    Incident,
    IncidentState,
    Problem,
    ProblemState,
)
from cmdb.domain.service import Priority
from cmdb.store.contract import GraphStore
from tests.contract.builders import cs, history_len, up

T = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def cis(store: GraphStore) -> dict[str, str]:
    ids = store.apply(cs(up("Service", "shop"), up("Server", "s1"), up("Server", "s2"))).ci_ids
    return dict(zip(["shop", "s1", "s2"], ids, strict=True))


def test_changes_by_id_and_by_ci(store: GraphStore, cis: dict[str, str]) -> None:
    rfc1 = Change(
        id="RFC-2026-0001",
        title="patch s1",
        type=ChangeType.EMERGENCY,
        requester="alice",
        ci_ids=[cis["s1"]],
        service_ids=[cis["shop"]],
        planned_start=T,
        planned_end=T + timedelta(hours=2),
    )
    rfc2 = Change(id="RFC-2026-0002", title="patch s2", ci_ids=[cis["s2"]])
    res = store.apply(cs(changes=[rfc1, rfc2]))
    assert res.history_rows == 2
    assert store.get_change("RFC-2026-0001") == rfc1
    assert {c.id for c in store.list_changes()} == {rfc1.id, rfc2.id}
    assert [c.id for c in store.list_changes(ci_id=cis["s1"])] == [rfc1.id]
    assert [c.id for c in store.list_changes(ci_id=cis["shop"])] == [rfc1.id]  # by service
    assert store.list_changes(ci_id="ci_ghost") == []
    with pytest.raises(NotFound):
        store.get_change("RFC-nope")
    create = store.history(rfc1.id)
    assert [(h.entity_kind, h.op) for h in create] == [(EntityKind.CHANGE, HistoryOp.CREATE)]
    assert create[0].after["title"] == "patch s1"


def test_change_update_moves_links_and_records_fields(
    store: GraphStore, cis: dict[str, str]
) -> None:
    store.apply(cs(changes=[Change(id="RFC-1", title="t", ci_ids=[cis["s1"]])]))
    moved = Change(id="RFC-1", title="t", state=ChangeState.AUTHORISED, ci_ids=[cis["s2"]])
    res = store.apply(cs(changes=[moved]))
    assert store.get_change("RFC-1").state is ChangeState.AUTHORISED
    assert store.list_changes(ci_id=cis["s1"]) == []
    assert [c.id for c in store.list_changes(ci_id=cis["s2"])] == ["RFC-1"]
    updates = store.history("RFC-1")[1:]
    assert res.history_rows == len(updates) == 2
    assert sorted((h.field, h.before, h.after) for h in updates) == [
        ("ci_ids", [cis["s1"]], [cis["s2"]]),
        ("state", "draft", "authorised"),
    ]
    n = history_len(store)
    store.apply(cs(changes=[moved]))  # unchanged: no history
    assert history_len(store) == n


def test_incidents_open_only_and_by_ci(store: GraphStore, cis: dict[str, str]) -> None:
    open_one = Incident(
        id="INC-1",
        title="shop slow",
        priority=Priority.P1,
        major=True,
        ci_ids=[cis["s1"]],
        service_ids=[cis["shop"]],
        opened_at=T,
    )
    closed = Incident(
        id="INC-2",
        title="disk full",
        state=IncidentState.RESOLVED,
        ci_ids=[cis["s1"], cis["s2"]],
        opened_at=T,
        resolved_at=T + timedelta(hours=1),
    )
    store.apply(cs(incidents=[open_one, closed]))
    assert store.get_incident("INC-1") == open_one
    assert {i.id for i in store.list_incidents()} == {"INC-1", "INC-2"}
    assert [i.id for i in store.list_incidents(open_only=True)] == ["INC-1"]
    assert {i.id for i in store.list_incidents(ci_id=cis["s1"])} == {"INC-1", "INC-2"}
    assert [i.id for i in store.list_incidents(ci_id=cis["s2"])] == ["INC-2"]
    assert store.list_incidents(ci_id=cis["s2"], open_only=True) == []
    assert [i.id for i in store.list_incidents(ci_id=cis["shop"], open_only=True)] == ["INC-1"]
    with pytest.raises(NotFound):
        store.get_incident("INC-9")
    # Resolving moves it out of the open list.
    store.apply(cs(incidents=[open_one.model_copy(update={"state": IncidentState.CLOSED})]))
    assert store.list_incidents(open_only=True) == []
    assert store.history("INC-1")[-1].field == "state"


def test_link_to_a_missing_ci_is_not_found(store: GraphStore, cis: dict[str, str]) -> None:
    with pytest.raises(NotFound):
        store.apply(cs(changes=[Change(id="RFC-X", title="t", ci_ids=[cis["s1"], "ci_ghost"])]))
    with pytest.raises(NotFound):
        store.apply(
            cs(incidents=[Incident(id="INC-X", title="t", service_ids=["ci_ghost"], opened_at=T)])
        )
    with pytest.raises(NotFound):
        store.get_change("RFC-X")
    with pytest.raises(NotFound):
        store.get_incident("INC-X")
    assert store.list_changes() == [] and store.list_incidents() == []


def test_records_may_link_cis_made_in_the_same_batch(store: GraphStore) -> None:
    res = store.apply(
        cs(
            up("Server", "new", id="ci_new_1"),
            changes=[Change(id="RFC-7", title="install", ci_ids=["ci_new_1"])],
        )
    )
    assert res.ci_ids == ["ci_new_1"]
    assert [c.id for c in store.list_changes(ci_id="ci_new_1")] == ["RFC-7"]


def test_problems_by_id_and_by_ci_with_history(store: GraphStore, cis: dict[str, str]) -> None:
    prb = Problem(
        id="PRB-1",
        title="s1 loses its disk",
        ci_ids=[cis["s1"]],
        service_ids=[cis["shop"]],
        symptoms=["I/O error"],
        opened_at=T,
    )
    other = Problem(id="PRB-2", title="s2 is slow", ci_ids=[cis["s2"]], opened_at=T)
    store.apply(cs(problems=[prb, other]))
    assert store.get_problem("PRB-1") == prb
    assert [p.id for p in store.list_problems()] == ["PRB-1", "PRB-2"]
    assert [p.id for p in store.list_problems(ci_id=cis["s1"])] == ["PRB-1"]
    assert [p.id for p in store.list_problems(ci_id=cis["shop"])] == ["PRB-1"]
    with pytest.raises(NotFound):
        store.get_problem("PRB-9")
    known = prb.model_copy(
        update={"state": ProblemState.KNOWN_ERROR, "workaround": "remount", "ci_ids": [cis["s2"]]}
    )
    store.apply(cs(problems=[known]))
    assert store.get_problem("PRB-1").state is ProblemState.KNOWN_ERROR
    assert store.list_problems(ci_id=cis["s1"]) == []  # the link moved with the record
    assert [p.id for p in store.list_problems(ci_id=cis["s2"])] == ["PRB-1", "PRB-2"]
    rows = store.history("PRB-1")
    assert rows[0].entity_kind is EntityKind.PROBLEM and rows[0].op is HistoryOp.CREATE
    assert sorted(h.field for h in rows[1:]) == ["ci_ids", "state", "workaround"]


def test_a_problem_naming_a_missing_ci_writes_nothing(
    store: GraphStore, cis: dict[str, str]
) -> None:
    bad = Problem(id="PRB-X", title="t", ci_ids=[cis["s1"], "ci_ghost"], opened_at=T)
    with pytest.raises(NotFound):
        store.apply(cs(up("Server", "s3"), problems=[bad]))
    assert store.list_problems() == []
    with pytest.raises(NotFound):
        store.get_problem("PRB-X")
