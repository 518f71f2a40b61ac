"""A transition of the RFC racing its proposal's merge, on both stores (issue 17): the
merge checks that the RFC is implemented, then writes; the RFC's state is one of the
write's expectations (``ChangeSet.expect_changes``), checked again inside the store's
write transaction, so a transition landing between the check and the write (the RFC
reviewed meanwhile) refuses the merge, and nothing of it is written.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.app import proposal_merge, proposals
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import InvalidInput
from cmdb.domain.proposals import ProposalState
from cmdb.domain.records import ChangeState
from cmdb.practice.changes import save
from cmdb.store.contract import GraphStore
from tests.integration.test_proposal_merge import ADMIN, ALL, _change, _implemented, _state
from tests.integration.test_proposals_stores import STANDBY


class TransitionFirst:
    """A real store where the RFC moves to ``state`` just before the merge's write: what
    another process doing the transition at that moment would do (a wrapper, not a mock)."""

    def __init__(self, inner: GraphStore, change_id: str, state: ChangeState) -> None:
        self.inner = inner
        self.change_id = change_id
        self.state = state
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def apply(self, cs: ChangeSet) -> Any:
        if cs.proposals and not self.fired:  # the merge's one write
            self.fired = True
            change = self.inner.get_change(self.change_id)
            save(self.inner, [change.model_copy(update={"state": self.state})], actor="eve")
        return self.inner.apply(cs)


def test_a_transition_between_the_check_and_the_write_stops_the_merge(
    sample_store: GraphStore,
) -> None:
    store = sample_store
    _change(store, "RFC-1", "bookings-db")
    proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY)
    _implemented(store, "RFC-1")
    racing = TransitionFirst(store, "RFC-1", ChangeState.REVIEWED)
    before = _state(store)
    seq = max(h.seq for h in store.iter_history())

    with pytest.raises(InvalidInput) as err:
        proposal_merge.merge(racing, ALL, ADMIN, "RFC-1")  # type: ignore[arg-type]

    assert racing.fired
    assert err.value.where == "change_id"
    assert "RFC-1 is reviewed: a proposal merges once its change is implemented" in (
        err.value.message
    )
    # Nothing of the merge: the graph as it was, and only the transition's history.
    assert _state(store)[:3] == before[:3]
    assert {(h.entity_id, h.field) for h in store.iter_history() if h.seq > seq} == {
        ("RFC-1", "state")
    }
    assert store.get_proposal("RFC-1").state is ProposalState.OPEN
    assert store.get_change("RFC-1").state is ChangeState.REVIEWED
