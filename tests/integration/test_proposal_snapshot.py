"""Snapshots carry what-if proposals (issue 17): export, then import into a store of the
other kind, keeps every version of every proposal (open, withdrawn, merged); a snapshot
whose proposal versions are out of order, or whose change is missing, is refused whole.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from neo4j import Driver

from cmdb.app import proposal_merge, proposals
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import Change, ChangeState
from cmdb.practice.changes import save
from cmdb.sample.load import load_sample
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.refs import resolve_ci
from cmdb.store.snapshot import export, import_
from tests.fakes import FakeClock
from tests.integration.test_proposals_stores import ADMIN, ALL, STANDBY
from tests.neo4j_support import fresh_store


def _with_proposals(store: GraphStore, clock: FakeClock) -> None:
    load_sample(store, actor="test")
    db = resolve_ci(store, "bookings-db").id
    save(store, [Change(id=c, title=c, ci_ids=[db]) for c in ("RFC-1", "RFC-2")], actor="t")
    proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY[:2], note="first")
    proposals.add_edits(store, ALL, ADMIN, "RFC-1", STANDBY[2:])
    proposals.remove_edit(store, ALL, ADMIN, "RFC-1", 11)
    proposals.create(store, ALL, ADMIN, "RFC-2", STANDBY[:1])
    proposals.withdraw(store, ALL, ADMIN, "RFC-2")
    clock.advance(minutes=5)
    change = store.get_change("RFC-1").model_copy(update={"state": ChangeState.IMPLEMENTED})
    save(store, [change], actor="t")
    proposal_merge.merge(store, ALL, ADMIN, "RFC-1")


def _versions(store: GraphStore) -> dict[str, list[str]]:
    return {
        p.id: [v.model_dump_json() for v in store.proposal_versions(p.id)]
        for p in store.list_proposals()
    }


def _round_trip(source: GraphStore, target: GraphStore) -> None:
    buf = io.BytesIO()
    counts = export(source, buf)
    assert counts["proposals"] == 6  # RFC-1: v1-v4 (v4 marks it merged); RFC-2: v1, v2
    buf.seek(0)
    import_(target, buf, max_batch_rows=50)  # proposals spread over several batches
    assert _versions(target) == _versions(source)
    assert [h.reason for h in target.history(resolve_ci(target, "bookings-db-pair").id)] == [
        "RFC-1 proposal v3",
        "RFC-1 proposal v3",
    ]


def test_a_snapshot_keeps_every_proposal_version(tmp_path: Path) -> None:
    clock = FakeClock()
    source = EmbeddedStore(tmp_path / "a.db", clock=clock)
    _with_proposals(source, clock)
    _round_trip(source, EmbeddedStore(tmp_path / "b.db"))


@pytest.mark.neo4j
@pytest.mark.parametrize("direction", ["embedded_to_neo4j", "neo4j_to_embedded"])
def test_proposals_move_between_store_kinds(
    tmp_path: Path, neo4j_driver: Driver, direction: str
) -> None:
    clock = FakeClock()
    embedded = EmbeddedStore(tmp_path / "a.db", clock=clock)
    neo = fresh_store(neo4j_driver, clock)
    try:
        source, target = (embedded, neo) if direction == "embedded_to_neo4j" else (neo, embedded)
        _with_proposals(source, clock)
        _round_trip(source, target)
    finally:
        neo.close()
        embedded.close()


def _edited(lines: list[bytes], edit: dict[str, object]) -> io.BytesIO:
    out = []
    for raw in lines:
        doc = orjson.loads(raw)
        if doc.get("kind") == "proposal" and doc["data"]["id"] == "RFC-2":
            doc["data"].update(edit)
        out.append(orjson.dumps(doc))
    return io.BytesIO(b"\n".join(out) + b"\n")


def test_proposal_rows_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    clock = FakeClock()
    source = EmbeddedStore(tmp_path / "a.db", clock=clock)
    _with_proposals(source, clock)
    buf = io.BytesIO()
    export(source, buf)
    lines = buf.getvalue().splitlines()
    for edit, message in (
        ({"version": 3}, "version 3 of RFC-2's proposal; expected 1"),
        ({"id": "RFC-9"}, "a proposal of change RFC-9, not in the snapshot"),
    ):
        target = EmbeddedStore(tmp_path / f"t{len(message)}.db")
        with pytest.raises(InvalidInput, match=message):
            import_(target, _edited(lines, edit))
        assert target.is_empty() and target.list_proposals() == []
