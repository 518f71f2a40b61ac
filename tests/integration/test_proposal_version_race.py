"""A change set carrying a proposal version, racing another writer of that same version,
on both stores (issue 17's atomic merge): the other writer's version is held uncommitted
while the change set is applied; once it commits, the change set is refused whole as a
WriteConflict ("read it again"), whatever the store's mechanism (embedded: the write lock,
then the version check; Neo4j: the uniqueness constraint on the version's key)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

import pytest

from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.errors import CmdbError, WriteConflict
from cmdb.domain.proposals import Edit, EditOp, Proposal, ProposalState
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.embedded.store import EmbeddedStore

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _version(n: int, state: ProposalState = ProposalState.OPEN) -> Proposal:
    edits = [Edit(op=EditOp.UPDATE_CI, ci_id="x", fields={"owner": f"o{n}"})]
    return Proposal(id="RFC-R", version=n, state=state, edits=edits, author="ana", at=AT)


def test_a_version_written_meanwhile_refuses_the_change_set(store: GraphStore) -> None:
    store.save_proposal(_version(1))
    other = _version(2).model_copy(update={"note": "the other writer"})
    cs = ChangeSet(
        actor="ana",
        source="manual",
        ci_upserts=[CIUpsert.model_validate({"class": "Server", "name": "srv-r", "id": "ci_r"})],
        proposals=[_version(2, ProposalState.MERGED)],
    )
    outcome: list[BaseException | None] = []

    def apply() -> None:
        try:
            store.apply(cs)
            outcome.append(None)
        except CmdbError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=apply)
    if isinstance(store, EmbeddedStore):
        db = sqlite3.connect(store.path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO proposals (id, version, state, doc) VALUES (?,?,?,?)",
            (other.id, other.version, other.state.value, other.model_dump_json()),
        )
        worker.start()
        worker.join(timeout=0.5)  # waiting for the write lock the other writer holds
        assert worker.is_alive()
        db.execute("COMMIT")
        db.close()
    else:
        from cmdb.store.neo4j.store import Neo4jStore

        assert isinstance(store, Neo4jStore)
        with store.driver.session(database=store.database) as s:
            tx = s.begin_transaction()
            tx.run(
                "CREATE (:ProposalVersion {key: $key, id: $id, version: 2, state: 'open',"
                " doc: $doc})",
                key="RFC-R@2",
                id="RFC-R",
                doc=other.model_dump_json(),
            ).consume()
            worker.start()
            worker.join(timeout=1.5)  # its create waits on the key the other holds
            assert worker.is_alive()
            tx.commit()
    worker.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], WriteConflict), outcome
    assert "RFC-R" in outcome[0].message and "read it again" in outcome[0].message
    # Nothing of the change set: the other writer's version stands, and no CI was made.
    assert store.get_proposal("RFC-R") == other
    assert store.list_cis(CIFilter(name="srv-r")).items == []


def test_a_version_already_there_is_refused_at_once(store: GraphStore) -> None:
    # The same, without the race: a version already there is refused at once.
    store.save_proposal(_version(1))
    store.save_proposal(_version(2))
    with pytest.raises(WriteConflict, match="at version 2"):
        store.apply(ChangeSet(actor="ana", source="manual", proposals=[_version(2)]))
