"""What-if proposals on both stores: versions only added, each kept, read back as written."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from cmdb.domain.errors import NotFound, WriteConflict
from cmdb.domain.model import CI, Redundancy
from cmdb.domain.proposals import Edit, EditOp, Proposal, ProposalState
from cmdb.store.contract import GraphStore

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _version(n: int, *, pid: str = "RFC-1", state: ProposalState = ProposalState.OPEN) -> Proposal:
    edits = [
        Edit(op=EditOp.ADD_CI, ci=CI(id=f"ci_new{i}", ci_class="Database", name=f"db-{i}"))
        for i in range(n)
    ]
    edits.append(Edit(op=EditOp.SET_REDUNDANCY, ci_id="cl", redundancy=Redundancy(min_up=1)))
    return Proposal(id=pid, version=n, state=state, edits=edits, author="ana", at=AT, note=f"v{n}")


def test_versions_are_added_and_kept(store: GraphStore) -> None:
    for n in (1, 2, 3):
        store.save_proposal(_version(n))
    assert store.get_proposal("RFC-1") == _version(3)
    assert store.get_proposal("RFC-1", version=2) == _version(2)
    assert [p.version for p in store.proposal_versions("RFC-1")] == [1, 2, 3]
    assert store.proposal_versions("RFC-1")[0] == _version(1)


def test_a_stale_or_skipped_version_is_refused_and_nothing_written(store: GraphStore) -> None:
    store.save_proposal(_version(1))
    store.save_proposal(_version(2))
    with pytest.raises(WriteConflict, match="at version 2"):
        store.save_proposal(_version(2))  # another writer's v2 came first
    with pytest.raises(WriteConflict):
        store.save_proposal(_version(4))
    with pytest.raises(WriteConflict):
        store.save_proposal(_version(1, pid="RFC-9").model_copy(update={"version": 2}))
    assert [p.version for p in store.proposal_versions("RFC-1")] == [1, 2]
    with pytest.raises(NotFound):
        store.get_proposal("RFC-9")


def test_missing_ones_are_not_found(store: GraphStore) -> None:
    with pytest.raises(NotFound, match="no proposal RFC-7"):
        store.get_proposal("RFC-7")
    store.save_proposal(_version(1, pid="RFC-7"))
    with pytest.raises(NotFound, match="version 5"):
        store.get_proposal("RFC-7", version=5)
    with pytest.raises(NotFound):
        store.proposal_versions("RFC-8")


def test_list_shows_the_latest_version_of_each_by_state(store: GraphStore) -> None:
    store.save_proposal(_version(1, pid="RFC-2"))
    store.save_proposal(_version(1, pid="RFC-1"))
    store.save_proposal(_version(2, pid="RFC-1", state=ProposalState.WITHDRAWN))
    assert [(p.id, p.version) for p in store.list_proposals()] == [("RFC-1", 2), ("RFC-2", 1)]
    assert [p.id for p in store.list_proposals(state=ProposalState.OPEN)] == ["RFC-2"]
    assert [p.id for p in store.list_proposals(state=ProposalState.WITHDRAWN)] == ["RFC-1"]


def test_two_writers_of_the_same_next_version_one_wins(store: GraphStore) -> None:
    store.save_proposal(_version(1))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def write(note: str) -> None:
        barrier.wait()
        try:
            store.save_proposal(_version(2).model_copy(update={"note": note}))
            outcomes.append("saved")
        except WriteConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    assert [p.version for p in store.proposal_versions("RFC-1")] == [1, 2]
