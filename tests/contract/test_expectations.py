"""Expectations and reasons (what a proposal merge writes with), on both stores.

A change set with ``expect_cis`` / ``expect_rels`` is applied only while each CI still has
the ``updated_at`` the writer read and each relationship is still active or not as read;
otherwise WriteConflict names what moved, and nothing of the batch is written. A change
set's ``reason`` lands in every history row it writes, creations included, and a restore
keeps it.
"""

from __future__ import annotations

import pytest

from cmdb.domain.changeset import ChangeSet, ExpectRel, RelRetire, RelUpsert
from cmdb.domain.errors import WriteConflict
from cmdb.domain.model import relationship_id
from cmdb.store.contract import GraphStore, SnapshotBatch
from tests.contract.builders import ACTOR, SOURCE, by_id, up
from tests.contract.conftest import MakeStore
from tests.fakes import FakeClock


def _cs(**ops: object) -> ChangeSet:
    return ChangeSet.model_validate({"actor": ACTOR, "source": SOURCE, **ops})


def _two(store: GraphStore) -> tuple[str, str]:
    made = store.apply(_cs(ci_upserts=[up("Application", "app"), up("Database", "db")]))
    return made.ci_ids[0], made.ci_ids[1]


def test_a_write_expecting_what_moved_is_refused_whole(store: GraphStore, clock: FakeClock) -> None:
    app, db = _two(store)
    read = store.get_ci(db).updated_at
    rid = relationship_id("DEPENDS_ON", app, db)
    absent = [ExpectRel(type="DEPENDS_ON", source_id=app, target_id=db, active=False)]
    present = [absent[0].model_copy(update={"active": True})]
    clock.advance(seconds=5)
    # Someone else changes the database after the reading.
    store.apply(_cs(ci_upserts=[up("Database", "db", owner="dba")]))
    with pytest.raises(WriteConflict) as err:
        store.apply(
            _cs(
                ci_upserts=[up("Database", "db", owner="me")],
                rel_upserts=[RelUpsert(type="DEPENDS_ON", source=by_id(app), target=by_id(db))],
                expect_cis={db: read},
                expect_rels=absent,
            )
        )
    assert err.value.where == "expect" and "db (Database" in err.value.message
    assert store.get_ci(db).owner == "dba"
    assert store.neighbours(app) == []
    # Expecting what is so now applies, and a relationship's state is expected as well.
    now = store.get_ci(db).updated_at
    store.apply(
        _cs(
            rel_upserts=[RelUpsert(type="DEPENDS_ON", source=by_id(app), target=by_id(db))],
            expect_cis={db: now},
            expect_rels=absent,
        )
    )
    assert store.get_relationship(rid).active
    with pytest.raises(WriteConflict, match="now active"):
        store.apply(_cs(ci_upserts=[up("Database", "db", owner="x")], expect_rels=absent))
    with pytest.raises(WriteConflict, match="is gone"):
        store.apply(_cs(ci_upserts=[up("Database", "db", owner="x")], expect_cis={"ci_nope": now}))
    store.apply(
        _cs(
            rel_retires=[RelRetire(type="DEPENDS_ON", source=by_id(app), target=by_id(db))],
            expect_rels=present,
        )
    )
    with pytest.raises(WriteConflict, match="no longer active"):
        store.apply(_cs(ci_upserts=[up("Database", "db", owner="x")], expect_rels=present))
    assert store.get_ci(db).owner == "dba"


def test_a_reason_is_in_every_history_row_and_survives_a_restore(
    store: GraphStore, store_factory: MakeStore
) -> None:
    made = store.apply(
        _cs(ci_upserts=[up("Application", "app"), up("Database", "db")], reason="RFC-1 proposal v2")
    )
    app, db = made.ci_ids
    store.apply(
        _cs(
            rel_upserts=[RelUpsert(type="DEPENDS_ON", source=by_id(app), target=by_id(db))],
            ci_upserts=[up("Database", "db", owner="dba")],
            reason="RFC-2 proposal v1",
        )
    )
    store.apply(_cs(ci_upserts=[up("Database", "db", owner="ops")]))
    rows = store.history(db)
    assert [(h.op.value, h.field, h.reason) for h in rows] == [
        ("create", "*", "RFC-1 proposal v2"),
        ("update", "owner", "RFC-2 proposal v1"),
        ("update", "owner", None),
    ]
    rid = relationship_id("DEPENDS_ON", app, db)
    assert [h.reason for h in store.history(rid)] == ["RFC-2 proposal v1"]

    everything = list(store.iter_history())
    batch = SnapshotBatch(
        cis=[store.get_ci(app), store.get_ci(db)],
        relationships=[store.get_relationship(rid)],
        history=everything,
    )
    store.close()
    other = store_factory()
    other.restore(batch)
    assert list(other.iter_history()) == everything
