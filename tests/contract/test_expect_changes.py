"""A change set expecting a change record's state (``expect_changes``), on both stores.

What a proposal merge writes with: it checks that its RFC is implemented, then writes,
and the state is checked again inside the write's own transaction, so a transition that
lands in between (the RFC reviewed, closed) refuses the whole batch (WriteConflict), and
nothing of it is written.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import WriteConflict
from cmdb.domain.proposals import Proposal, ProposalState
from cmdb.domain.records import Change, ChangeState
from cmdb.store.contract import GraphStore
from tests.contract.builders import ACTOR, SOURCE, up

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _cs(**ops: object) -> ChangeSet:
    return ChangeSet.model_validate({"actor": ACTOR, "source": SOURCE, **ops})


def _rfc(store: GraphStore, state: ChangeState) -> None:
    store.apply(_cs(changes=[Change(id="RFC-X", title="x", state=state)]))


def test_a_write_expecting_a_change_state_that_moved_is_refused_whole(
    store: GraphStore,
) -> None:
    _rfc(store, ChangeState.IMPLEMENTED)
    store.save_proposal(Proposal(id="RFC-X", version=1, author="ana", at=AT))
    merged = Proposal(id="RFC-X", version=2, state=ProposalState.MERGED, author="ana", at=AT)
    # Someone reviews the RFC after the merge read it implemented.
    _rfc(store, ChangeState.REVIEWED)
    with pytest.raises(WriteConflict) as err:
        store.apply(
            _cs(
                ci_upserts=[up("Server", "srv-x")],
                proposals=[merged],
                expect_changes={"RFC-X": ChangeState.IMPLEMENTED},
            )
        )
    assert err.value.where == "expect"
    assert "RFC-X is reviewed" in err.value.message and "implemented" in err.value.message
    assert store.list_cis().items == []
    assert [p.version for p in store.proposal_versions("RFC-X")] == [1]

    # A change that is not there at all is refused too.
    with pytest.raises(WriteConflict, match="no change RFC-NONE"):
        store.apply(
            _cs(
                ci_upserts=[up("Server", "srv-x")],
                expect_changes={"RFC-NONE": ChangeState.IMPLEMENTED},
            )
        )
    assert store.list_cis().items == []

    # Expecting the state it has now applies, proposal version and all.
    store.apply(
        _cs(
            ci_upserts=[up("Server", "srv-x")],
            proposals=[merged],
            expect_changes={"RFC-X": ChangeState.REVIEWED},
        )
    )
    assert [c.name for c in store.list_cis().items] == ["srv-x"]
    assert store.get_proposal("RFC-X").state is ProposalState.MERGED
