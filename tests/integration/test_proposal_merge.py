"""Merging a proposal (issue 17, item 3), on both stores: one change set with the RFC and
version in history; conflicts listed with nothing written; rebase; racing merges; and a
real discovery run afterwards that sees the merged state and reports nothing unauthorised.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from cmdb.app import proposal_merge, proposals
from cmdb.app.caller import Caller
from cmdb.app.impact import availability
from cmdb.app.proposal_diff import diff
from cmdb.app.proposal_merge import MergeConflicts
from cmdb.app.scope import Visibility
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, Precedence, RelRetire
from cmdb.domain.errors import InvalidInput, WriteConflict
from cmdb.domain.proposals import ProposalState
from cmdb.domain.records import Change, ChangeState
from cmdb.practice.changes import save
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from discovery.reconcile import ingest
from discovery.registry import reader
from tests.fakes import FakeClock
from tests.integration.test_proposals_stores import STANDBY

ADMIN = Caller(Principal("ana", Role.ADMIN), "req-1", "api")
OTHER = Caller(Principal("bob", Role.ADMIN), "req-2", "api")
ALL = Visibility()
BOOKING = "Online Ferry Booking"


def _change(store: GraphStore, cid: str, *cis: str) -> None:
    ids = [resolve_ci(store, c).id for c in cis]
    save(store, [Change(id=cid, title=cid, ci_ids=ids)], actor="t")


def _implemented(store: GraphStore, cid: str) -> None:
    change = store.get_change(cid)
    save(store, [change.model_copy(update={"state": ChangeState.IMPLEMENTED})], actor="t")


def _state(store: GraphStore) -> tuple[object, ...]:
    return (
        store.counts(),
        store.list_cis(limit=1000).items,
        store.list_relationships(limit=1000, include_retired=True).items,
        len(list(store.iter_history())),
    )


def test_the_standby_pair_merges_as_one_change_set(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store, "RFC-1", "bookings-db")
    proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY)
    predicted = next(s for s in diff(store, ALL, "RFC-1").services if s.name == BOOKING)
    assert predicted.availability_after is not None
    # Not before the change is implemented.
    with pytest.raises(InvalidInput, match="implemented"):
        proposal_merge.merge(store, ALL, ADMIN, "RFC-1")
    _implemented(store, "RFC-1")
    seq = max(h.seq for h in store.iter_history())

    merged = proposal_merge.merge(store, ALL, ADMIN, "RFC-1")
    assert (merged.proposal.state, merged.proposal.version) == (ProposalState.MERGED, 2)
    assert merged.reason == "RFC-1 proposal v1"
    assert (merged.created, merged.rels_created, merged.rels_retired) == (3, 6, 2)
    # One change set: every row it wrote is one write's (one instant, actor, reason).
    rows = [h for h in store.iter_history() if h.seq > seq]
    assert {(h.reason, h.actor, h.at) for h in rows} == {("RFC-1 proposal v1", "ana", rows[0].at)}
    # The live graph is now what the diff predicted: the booking service's availability.
    svc = resolve_ci(store, BOOKING)
    live = availability(store, ALL, svc)
    assert live.availability == pytest.approx(predicted.availability_after.value, abs=1e-12)
    assert round(live.availability, 6) == 0.993760
    pair = resolve_ci(store, "bookings-db-pair")
    assert pair.redundancy is not None and pair.redundancy.min_up == 1
    # A merged proposal takes no edits, and is not merged twice.
    with pytest.raises(InvalidInput, match="merged already"):
        proposal_merge.merge(store, ALL, ADMIN, "RFC-1")
    for act in (
        lambda: proposals.withdraw(store, ALL, ADMIN, "RFC-1"),
        lambda: proposals.remove_edit(store, ALL, ADMIN, "RFC-1", 0),
        lambda: proposal_merge.rebase(store, ALL, ADMIN, "RFC-1"),
    ):
        with pytest.raises(InvalidInput, match="merged"):
            act()
    assert store.get_proposal("RFC-1").version == 2


def test_conflicts_are_listed_nothing_written_and_rebase_resolves(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _change(store, "RFC-2", "bookings-db")
    db = resolve_ci(store, "bookings-db")
    engine = resolve_ci(store, "booking-engine-1")
    edits: list[dict[str, Any]] = [
        {"op": "update_ci", "ci_id": "bookings-db", "fields": {"owner": "dba-team"}},
        {"op": "retire_rel", "type": "DEPENDS_ON", "source_id": engine.id, "target_id": db.id},
    ]
    proposals.create(store, ALL, ADMIN, "RFC-2", edits)
    _implemented(store, "RFC-2")
    # Meanwhile, someone else changes the database and retires the edge.
    sample_clock.advance(minutes=5)
    store.apply(
        ChangeSet(
            actor="bob",
            source="netbox",
            ci_upserts=[
                CIUpsert.model_validate(
                    {"id": db.id, "class": "Database", "name": db.name, "version": "17.2"}
                )
            ],
            rel_retires=[
                RelRetire(type="DEPENDS_ON", source=CIRef(id=engine.id), target=CIRef(id=db.id))
            ],
        )
    )
    before = _state(store)
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, ALL, ADMIN, "RFC-2")
    assert _state(store) == before  # nothing written
    got = {(c.edit, c.field): c for c in err.value.conflicts}
    assert set(got) == {(0, "version"), (1, "relationship")}
    version = got[(0, "version")]
    assert (version.ci_name, version.proposed_on, version.now) == ("bookings-db", "16.4", "17.2")
    assert (version.changed_by, version.source) == ("bob", "netbox")
    assert (got[(1, "relationship")].proposed_on, got[(1, "relationship")].now) == (
        "active",
        "absent",
    )
    assert "edits[0] bookings-db version" in err.value.message
    # The same list without trying to merge.
    assert proposal_merge.conflicts(store, ALL, ADMIN, "RFC-2") == err.value.conflicts

    # Rebase cannot keep retiring an edge that is gone: the edit is named, and removed.
    with pytest.raises(InvalidInput, match=r"edits\[1\]"):
        proposal_merge.rebase(store, ALL, ADMIN, "RFC-2")
    # (the change is implemented: its proposal takes no new edits, but one can be removed)
    proposals.remove_edit(store, ALL, ADMIN, "RFC-2", 1)
    rebased, cleared = proposal_merge.rebase(store, ALL, ADMIN, "RFC-2")
    assert [c.field for c in cleared] == ["version"]
    assert rebased.edits[0].base == store.get_ci(db.id).updated_at
    assert proposal_merge.conflicts(store, ALL, ADMIN, "RFC-2") == []
    proposal_merge.merge(store, ALL, ADMIN, "RFC-2")
    now = store.get_ci(db.id)
    assert (now.owner, now.version) == ("dba-team", "17.2")
    assert [h.reason for h in store.history(db.id)][-1] == "RFC-2 proposal v3"


def test_racing_merges_on_the_same_ci_do_not_both_win(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    for cid, owner in (("RFC-A", "team-a"), ("RFC-B", "team-b")):
        _change(store, cid, "bookings-db")
        proposals.create(
            store,
            ALL,
            ADMIN,
            cid,
            [{"op": "update_ci", "ci_id": "bookings-db", "fields": {"owner": owner}}],
        )
        _implemented(store, cid)
    # Both checked against the same reading; the first write moves the CI, and the
    # second, checked again inside its own write transaction, is refused whole.
    live_b = proposal_merge._Live(store)
    assert (
        proposal_merge.find_conflicts(store, store.get_proposal("RFC-B"), source="api", live=live_b)
        == []
    )
    cs_b = proposal_merge.changeset_of(store, store.get_proposal("RFC-B"), OTHER, live_b, None)
    sample_clock.advance(minutes=5)
    proposal_merge.merge(store, ALL, ADMIN, "RFC-A")
    with pytest.raises(WriteConflict, match="changed since read"):
        store.apply(cs_b)
    assert store.get_ci(resolve_ci(store, "bookings-db").id).owner == "team-a"
    # Through the use case, the loser is told what moved and who moved it.
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, ALL, OTHER, "RFC-B")
    assert [(c.field, c.now, c.reason) for c in err.value.conflicts] == [
        ("owner", "team-a", "RFC-A proposal v1")
    ]


def test_two_threads_merging_at_once_one_wins(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    sample_clock.advance(minutes=5)  # the merges write after the proposals were staged
    for cid in ("RFC-C", "RFC-D"):
        _change(store, cid, "bookings-db")
        proposals.create(
            store,
            ALL,
            ADMIN,
            cid,
            [{"op": "update_ci", "ci_id": "bookings-db", "fields": {"owner": cid}}],
        )
        _implemented(store, cid)
    gate = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(cid: str) -> None:
        gate.wait()
        try:
            proposal_merge.merge(store, ALL, ADMIN, cid)
            outcomes[cid] = "merged"
        except (MergeConflicts, WriteConflict) as exc:
            outcomes[cid] = type(exc).__name__

    threads = [threading.Thread(target=run, args=(c,)) for c in ("RFC-C", "RFC-D")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes.values()) == ["MergeConflicts", "merged"]
    winner = next(c for c, o in outcomes.items() if o == "merged")
    assert store.get_ci(resolve_ci(store, "bookings-db").id).owner == winner
    loser = next(c for c in outcomes if c != winner)
    assert store.get_proposal(loser).state is ProposalState.OPEN


# --- discovery after the merge ----------------------------------------------------------

POLICY = Precedence(owners={"attributes.os": ["json"]})


def _inventory(tmp: Path, name: str, cis: list[dict[str, Any]], rels: list[dict[str, Any]]) -> Path:
    path = tmp / name
    path.write_text(json.dumps({"version": 1, "cis": cis, "relationships": rels}))
    return path


def _discover(store: GraphStore, path: Path, *, dry_run: bool = False) -> Any:
    return ingest(
        store,
        "json",
        reader("json")([path]),
        source="json",
        precedence=POLICY,
        approved_changes=store.list_changes(),
        actor="discovery",
        dry_run=dry_run,
    )


SRV = {"key": "srv", "class": "Server", "name": "srv-a", "identifiers": {"serial": "S-1"}}


def _vm(name: str, owner: str, os_: str = "debian") -> dict[str, Any]:
    return {
        "key": name,
        "class": "VirtualMachine",
        "name": name,
        "owner": owner,
        "identifiers": {"fqdn": f"{name}.example.org"},
        "attributes": {"os": os_},
    }


def test_discovery_after_the_merge_reports_no_unauthorised_change(
    store: GraphStore, tmp_path: Path
) -> None:
    host = {"type": "HOSTED_ON", "source": "vm-1", "target": "srv"}
    first = _discover(store, _inventory(tmp_path, "a.json", [SRV, _vm("vm-1", "ops")], [host]))
    assert len(first.created) == 2
    _change(store, "RFC-9", "srv-a")  # names the host only: vm-1 is not covered by it
    edits: list[dict[str, Any]] = [
        {"op": "update_ci", "ci_id": "vm-1", "fields": {"owner": "dba"}},
        {
            "op": "add_ci",
            "ci": {
                "class": "VirtualMachine",
                "name": "vm-2",
                "owner": "dba",
                "identifiers": [{"kind": "fqdn", "value": "vm-2.example.org"}],
                "attributes": {"os": "debian"},
            },
        },
        {"op": "add_rel", "type": "HOSTED_ON", "source_id": "vm-2", "target_id": "srv-a"},
    ]
    proposals.create(store, ALL, ADMIN, "RFC-9", edits)
    # Source precedence: json owns attributes.os, so a proposal setting it cannot merge.
    _change(store, "RFC-10", "srv-a")
    proposals.create(
        store,
        ALL,
        ADMIN,
        "RFC-10",
        [{"op": "update_ci", "ci_id": "vm-1", "fields": {"attributes": {"os": "alpine"}}}],
    )
    for cid in ("RFC-9", "RFC-10"):
        _implemented(store, cid)
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, ALL, ADMIN, "RFC-10", precedence=POLICY)
    assert [(c.field, c.source) for c in err.value.conflicts] == [("attributes.os", "json")]
    assert "source precedence" in err.value.conflicts[0].why

    proposal_merge.merge(store, ALL, ADMIN, "RFC-9", precedence=POLICY)
    vm1 = resolve_ci(store, "vm-1")
    assert vm1.owner == "dba" and vm1.provenance["owner"].source == "api"
    assert vm1.provenance["attributes.os"].source == "json"  # the owner's, untouched

    # The control: discovery of the old state would flag vm-1's owner as unauthorised.
    # (its record differs from the first run's by a description: an identical record is
    # only touched, by digest, and never compared)
    stale_vm = {**_vm("vm-1", "ops"), "description": "seen again"}
    old = _inventory(tmp_path, "old.json", [SRV, stale_vm], [host])
    control = _discover(store, old, dry_run=True)
    assert ("vm-1", "owner", "dba", "ops") in [
        (d.name, d.field, d.before, d.after) for d in control.discrepancies
    ]

    # Discovery that sees the new state: nothing created, changed, or unauthorised.
    seen = _inventory(
        tmp_path,
        "b.json",
        [SRV, _vm("vm-1", "dba"), _vm("vm-2", "dba")],
        [host, {"type": "HOSTED_ON", "source": "vm-2", "target": "srv"}],
    )
    report = _discover(store, seen)
    assert report.run.status.value == "succeeded"
    assert (report.created, report.updated, report.discrepancies) == ([], [], [])
    assert report.run.counts.get("unauthorised", 0) == 0
    assert resolve_ci(store, "vm-2").sources.keys() == {"api", "json"}


def test_a_merge_whose_marking_was_lost_is_marked_not_written_again(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _change(store, "RFC-E", "bookings-db")
    proposals.create(store, ALL, ADMIN, "RFC-E", STANDBY)
    _implemented(store, "RFC-E")
    sample_clock.advance(minutes=5)
    # The change set was written, then the process died before marking the proposal.
    p = store.get_proposal("RFC-E")
    live = proposal_merge._Live(store)
    assert proposal_merge.find_conflicts(store, p, source="api", live=live) == []
    store.apply(proposal_merge.changeset_of(store, p, ADMIN, live, None))
    before = _state(store)
    done = proposal_merge.merge(store, ALL, ADMIN, "RFC-E")
    assert _state(store)[:3] == before[:3]  # nothing written again
    assert done.proposal.state is ProposalState.MERGED
    assert "written before, marked now" in done.proposal.note


def test_a_new_ci_that_discovery_found_first_is_a_conflict(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _change(store, "RFC-F", "srv-01")
    vm = {
        "op": "add_ci",
        "ci": {
            "class": "VirtualMachine",
            "name": "vm-new",
            "identifiers": [{"kind": "fqdn", "value": "vm-new.example.org"}],
        },
    }
    proposals.create(store, ALL, ADMIN, "RFC-F", [vm])
    _implemented(store, "RFC-F")
    sample_clock.advance(minutes=5)
    store.apply(
        ChangeSet(
            actor="discovery",
            source="ansible",
            ci_upserts=[
                CIUpsert.model_validate(
                    {
                        "class": "VirtualMachine",
                        "name": "vm-new",
                        "identifiers": [{"kind": "fqdn", "value": "vm-new.example.org"}],
                    }
                )
            ],
        )
    )
    before = _state(store)
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, ALL, ADMIN, "RFC-F")
    assert [(c.edit, c.field) for c in err.value.conflicts] == [(0, "identifiers.fqdn")]
    assert "vm-new (VirtualMachine" in err.value.conflicts[0].now
    assert _state(store) == before


def _merge_in_process(path: str, cid: str, gate: Any, results: Any) -> None:
    from cmdb.store.embedded.store import EmbeddedStore

    store = EmbeddedStore(path)
    gate.wait()
    try:
        proposal_merge.merge(store, ALL, ADMIN, cid)
        results.put((cid, "merged"))
    except (MergeConflicts, WriteConflict) as exc:
        results.put((cid, type(exc).__name__))
    finally:
        store.close()


def test_two_processes_merging_at_once_one_wins(tmp_path: Path) -> None:
    import multiprocessing

    from cmdb.sample.load import load_sample
    from cmdb.store.embedded.store import EmbeddedStore

    path = tmp_path / "race.db"
    clock = FakeClock()  # before the processes' real clock: their writes move updated_at
    store = EmbeddedStore(path, clock=clock)
    load_sample(store, actor="t")
    for cid in ("RFC-P", "RFC-Q"):
        _change(store, cid, "bookings-db")
        edit = {"op": "update_ci", "ci_id": "bookings-db", "fields": {"owner": cid}}
        proposals.create(store, ALL, ADMIN, cid, [edit])
        _implemented(store, cid)
    ctx = multiprocessing.get_context("spawn")
    gate, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_merge_in_process, args=(str(path), c, gate, results))
        for c in ("RFC-P", "RFC-Q")
    ]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert sorted(outcomes.values()) == ["MergeConflicts", "merged"]
    winner = next(c for c, o in outcomes.items() if o == "merged")
    assert store.get_ci(resolve_ci(store, "bookings-db").id).owner == winner
    store.close()
