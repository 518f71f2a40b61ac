"""A proposal is what its change was authorised with (issue 17 review), on both stores:
once the change is decided (authorised or scheduled) its proposal takes no new edits,
as its CIs and window are fixed then, except for an emergency change (documented after
the fact, and reviewed). Before, an edit staged after authorisation merged unjudged: a
SPOF added to a gold service after a change manager authorised the change never met the
CAB rule."""

from __future__ import annotations

import pytest

from cmdb.app import proposals
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import ChangeState, ChangeType
from cmdb.practice.changes import save
from cmdb.store.contract import GraphStore
from tests.integration.test_proposal_merge import ADMIN, ALL, _change

OWNER = {"op": "update_ci", "ci_id": "bookings-db", "fields": {"owner": "dba-team"}}
VERSION = {"op": "update_ci", "ci_id": "bookings-db", "fields": {"version": "17"}}


def _to(store: GraphStore, cid: str, state: ChangeState, **more: object) -> None:
    change = store.get_change(cid)
    save(store, [change.model_copy(update={"state": state, **more})], actor="t")


@pytest.mark.parametrize("state", [ChangeState.AUTHORISED, ChangeState.SCHEDULED])
def test_a_decided_change_takes_no_new_edits(sample_store: GraphStore, state: ChangeState) -> None:
    store = sample_store
    _change(store, "RFC-D", "bookings-db")
    made = proposals.create(store, ALL, ADMIN, "RFC-D", [OWNER])
    _change(store, "RFC-N", "bookings-db")  # decided before any proposal
    for cid in ("RFC-D", "RFC-N"):
        _to(store, cid, state)
    with pytest.raises(InvalidInput, match=f"RFC-D is {state.value}: its proposal takes no edits"):
        proposals.add_edits(store, ALL, ADMIN, "RFC-D", [VERSION])
    with pytest.raises(InvalidInput, match=f"RFC-D is {state.value}"):
        proposals.remove_edit(store, ALL, ADMIN, "RFC-D", 0)
    with pytest.raises(InvalidInput, match=f"RFC-N is {state.value}"):
        proposals.create(store, ALL, ADMIN, "RFC-N", [VERSION])
    assert store.get_proposal("RFC-D") == made
    # Withdrawing stays possible.
    proposals.withdraw(store, ALL, ADMIN, "RFC-D")


def test_an_emergency_change_takes_edits_once_authorised(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store, "RFC-E", "bookings-db")
    proposals.create(store, ALL, ADMIN, "RFC-E", [OWNER])
    _to(store, "RFC-E", ChangeState.AUTHORISED, type=ChangeType.EMERGENCY)
    assert len(proposals.add_edits(store, ALL, ADMIN, "RFC-E", [VERSION]).edits) == 2
