"""Review of the proposal merge (issue 17, item 3), on both stores: an edit whose base is
missing (a snapshot row, another writer) cannot overwrite a live change unseen.
"""

from __future__ import annotations

import pytest

from cmdb.app import proposal_merge, proposals
from cmdb.app.proposal_merge import MergeConflicts
from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.fakes import FakeClock
from tests.integration.test_proposal_merge import (
    ADMIN,
    ALL,
    _change,
    _implemented,
    _state,
)


def test_an_edit_without_a_base_is_a_conflict_not_an_overwrite(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _change(store, "RFC-B", "bookings-db")
    db = resolve_ci(store, "bookings-db")
    edit = {"op": "update_ci", "ci_id": db.id, "fields": {"owner": "dba-team"}}
    made = proposals.create(store, ALL, ADMIN, "RFC-B", [edit])
    # A version whose edit lost its base (as a snapshot row or another writer can hold):
    # the merge can no longer tell what the live CI was when the edit was staged.
    bare = made.model_copy(
        update={
            "version": made.version + 1,
            "edits": [e.model_copy(update={"base": None}) for e in made.edits],
        }
    )
    store.save_proposal(bare)
    _implemented(store, "RFC-B")
    sample_clock.advance(minutes=5)
    store.apply(
        ChangeSet(
            actor="bob",
            source="netbox",
            ci_upserts=[
                CIUpsert.model_validate(
                    {"id": db.id, "class": "Database", "name": db.name, "owner": "platform"}
                )
            ],
        )
    )
    found = proposal_merge.find_conflicts(store, store.get_proposal("RFC-B"), source="api")
    assert [(c.edit, c.ci_id, c.field) for c in found] == [(0, db.id, "base")]
    before = _state(store)
    with pytest.raises(MergeConflicts, match="rebase"):
        proposal_merge.merge(store, ALL, ADMIN, "RFC-B")
    assert _state(store) == before
    assert resolve_ci(store, db.id).owner == "platform"
    # Rebasing records the base again, and then the merge goes through.
    proposal_merge.rebase(store, ALL, ADMIN, "RFC-B")
    proposal_merge.merge(store, ALL, ADMIN, "RFC-B")
    assert resolve_ci(store, db.id).owner == "dba-team"
