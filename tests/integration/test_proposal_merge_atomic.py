"""A proposal merge is one write (issue 17): the graph edits and the proposal's "merged"
version commit together, on both stores. A failure of the proposal's part leaves the
graph untouched and the proposal open; a merge that succeeds leaves both written."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest

from cmdb.app import proposal_merge, proposals
from cmdb.app.caller import Caller
from cmdb.app.proposal_merge import _next
from cmdb.domain.changeset import ApplyResult, ChangeSet
from cmdb.domain.errors import CmdbError, WriteConflict
from cmdb.domain.proposals import ProposalState
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from tests.fakes import FakeClock
from tests.integration.test_proposal_merge import ADMIN, ALL, OTHER, _change, _implemented, _state
from tests.integration.test_proposals_stores import STANDBY


class EditedMeanwhile:
    """The store, where another editor adds a version of the proposal between the merge's
    reading of it and the merge's write (a fake around the real store: every other call
    goes straight through)."""

    def __init__(self, inner: GraphStore, change_id: str) -> None:
        self.inner = inner
        self.change_id = change_id

    def apply(self, changeset: ChangeSet) -> ApplyResult:
        if changeset.proposals:
            p = self.inner.get_proposal(self.change_id)
            self.inner.save_proposal(_next(p, OTHER, note="edited meanwhile"))
        return self.inner.apply(changeset)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _ready(store: GraphStore, cid: str, clock: FakeClock) -> None:
    _change(store, cid, "bookings-db")
    proposals.create(store, ALL, ADMIN, cid, STANDBY)
    _implemented(store, cid)
    clock.advance(minutes=5)


def test_a_failed_mark_leaves_the_graph_untouched_and_the_proposal_open(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _ready(store, "RFC-M", sample_clock)
    before = _state(store)
    racing: Any = EditedMeanwhile(store, "RFC-M")
    with pytest.raises(WriteConflict, match="RFC-M is at version 2"):
        proposal_merge.merge(racing, ALL, ADMIN, "RFC-M")
    # Neither part: no CI, relationship or history row of the merge, and the proposal is
    # open at the other editor's version.
    assert _state(store) == before
    p = store.get_proposal("RFC-M")
    assert (p.state, p.version, p.note) == (ProposalState.OPEN, 2, "edited meanwhile")
    # Merged again, it is written whole: the graph and the mark in the same write.
    done = proposal_merge.merge(store, ALL, ADMIN, "RFC-M")
    assert (done.proposal.state, done.proposal.version) == (ProposalState.MERGED, 3)
    assert store.get_proposal("RFC-M") == done.proposal
    assert (done.created, done.rels_created, done.rels_retired) == (3, 6, 2)
    assert done.proposal.note == (
        "merged (RFC-M proposal v2): 3 CIs created, 0 updated, 0 retired,"
        " 6 relationships added, 2 retired"
    )


def test_embedded_a_proposal_row_the_database_refuses_rolls_back_the_graph(
    sample_clock: FakeClock, tmp_path: Any
) -> None:
    # A failure inside the one transaction, after the graph rows were written: a trigger
    # makes SQLite refuse the merged version's row.
    from cmdb.sample.load import load_sample

    store = EmbeddedStore(tmp_path / "cmdb.db", clock=sample_clock)
    try:
        load_sample(store, actor="tester")
        _ready(store, "RFC-T", sample_clock)
        db = sqlite3.connect(tmp_path / "cmdb.db")
        db.execute(
            "CREATE TRIGGER no_merge BEFORE INSERT ON proposals WHEN NEW.state = 'merged'"
            " BEGIN SELECT RAISE(ABORT, 'injected: the proposal write fails'); END"
        )
        db.commit()
        before = _state(store)
        with pytest.raises(CmdbError, match="injected"):
            proposal_merge.merge(store, ALL, ADMIN, "RFC-T")
        assert _state(store) == before
        assert store.get_proposal("RFC-T").state is ProposalState.OPEN
        db.execute("DROP TRIGGER no_merge")
        db.commit()
        db.close()
        assert proposal_merge.merge(store, ALL, ADMIN, "RFC-T").proposal.state is (
            ProposalState.MERGED
        )
    finally:
        store.close()


def test_the_same_proposal_merged_twice_at_once_is_written_once(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    # Two requests merging one proposal (a double click, two operators): both may read it
    # open and find no conflict; the graph edits and the mark are one write, so only one
    # lands, and the other is refused with nothing of it written.
    store = sample_store
    _ready(store, "RFC-2X", sample_clock)
    seq = max(h.seq for h in store.iter_history())
    gate = threading.Barrier(2)
    outcomes: list[str] = []

    def run(who: Caller) -> None:
        gate.wait()
        try:
            proposal_merge.merge(store, ALL, who, "RFC-2X")
            outcomes.append("merged")
        except CmdbError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=run, args=(c,)) for c in (ADMIN, OTHER)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("merged") == 1 and len(outcomes) == 2, outcomes
    assert set(outcomes) - {"merged"} <= {"MergeConflicts", "WriteConflict", "InvalidInput"}
    # Written once: three CIs created, one history row per CI creation, one merged version.
    rows = [h for h in store.iter_history() if h.seq > seq]
    made = [h for h in rows if h.op.value == "create" and h.entity_kind.value == "ci"]
    assert len(made) == 3 and {h.reason for h in rows} == {"RFC-2X proposal v1"}
    versions = store.proposal_versions("RFC-2X")
    assert [(v.version, v.state) for v in versions] == [
        (1, ProposalState.OPEN),
        (2, ProposalState.MERGED),
    ]
