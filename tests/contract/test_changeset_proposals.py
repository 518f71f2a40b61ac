"""Proposal versions written by ``apply``, in the change set's own transaction, on both
stores: what makes a proposal merge atomic (its graph edits and its "merged" mark commit
together or not at all)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import WriteConflict
from cmdb.domain.proposals import Edit, EditOp, Proposal, ProposalState
from cmdb.store.contract import CIFilter, GraphStore
from tests.contract.builders import ACTOR, SOURCE, up

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _version(n: int, state: ProposalState = ProposalState.OPEN) -> Proposal:
    edits = [Edit(op=EditOp.UPDATE_CI, ci_id="x", fields={"owner": f"o{n}"})]
    return Proposal(id="RFC-1", version=n, state=state, edits=edits, author="ana", at=AT)


def _cs(*proposals: Proposal, name: str = "db-new") -> ChangeSet:
    return ChangeSet(
        actor=ACTOR,
        source=SOURCE,
        ci_upserts=[up("Database", name)],
        proposals=list(proposals),
    )


def test_the_version_is_written_with_the_batch(store: GraphStore) -> None:
    store.save_proposal(_version(1))
    store.apply(_cs(_version(2, ProposalState.MERGED)))
    assert store.get_proposal("RFC-1") == _version(2, ProposalState.MERGED)
    assert [c.name for c in store.list_cis(CIFilter(name="db-new")).items] == ["db-new"]
    # A change set of proposals alone is not empty: it is written.
    assert not ChangeSet(actor=ACTOR, source=SOURCE, proposals=[_version(3)]).is_empty()
    store.apply(ChangeSet(actor=ACTOR, source=SOURCE, proposals=[_version(3)]))
    assert store.get_proposal("RFC-1").version == 3


def test_a_stale_version_refuses_the_whole_batch(store: GraphStore) -> None:
    store.save_proposal(_version(1))
    store.save_proposal(_version(2))  # another writer added v2 after our reading of v1
    history = len(list(store.iter_history()))
    events = store.last_event_seq()
    with pytest.raises(WriteConflict, match="at version 2"):
        store.apply(_cs(_version(2, ProposalState.MERGED)))
    # Nothing of it: no CI, no history row, no event, and the proposal as the other left it.
    assert store.list_cis(CIFilter(name="db-new")).items == []
    assert len(list(store.iter_history())) == history
    assert store.last_event_seq() == events
    assert store.get_proposal("RFC-1") == _version(2)
