"""What-if proposals on the sample estate, on both stores: staged edit by edit (each bad
one refused with why, nothing saved), versioned, and their impact diff.

The diff's numbers are checked against a hand computation from the estate's structure
(cmdb/sample/estate.json) and the class defaults the engine shows as its evidence (no CI
of the sample declares or has observed availability: every component is a class default).
"""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.app import proposals
from cmdb.app.caller import Caller
from cmdb.app.proposal_diff import diff
from cmdb.app.scope import Visibility
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ChangeSet, CIRef, CIRetire
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.proposals import ProposalState
from cmdb.domain.records import Change, ChangeState
from cmdb.practice.changes import save
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci

ADMIN = Caller(Principal("ana", Role.ADMIN), "req-1", "api")
ALL = Visibility()
BOOKING = "Online Ferry Booking"

# bookings-db moved to a standby pair: a standby database on a new VM on srv-01 (the other
# host of the app cluster), both members of a cluster that needs one of them up, and the
# booking engine instances depending on the pair instead of on bookings-db.
STANDBY: list[dict[str, Any]] = [
    {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "vm-db-03"}},
    {"op": "add_rel", "type": "HOSTED_ON", "source_id": "vm-db-03", "target_id": "srv-01"},
    {"op": "add_ci", "ci": {"class": "Database", "name": "bookings-db-standby"}},
    {
        "op": "add_rel",
        "type": "RUNS_ON",
        "source_id": "bookings-db-standby",
        "target_id": "vm-db-03",
    },
    {"op": "add_ci", "ci": {"class": "Cluster", "name": "bookings-db-pair"}},
    {"op": "set_redundancy", "ci_id": "bookings-db-pair", "redundancy": {"min_up": 1}},
    {"op": "add_rel", "type": "MEMBER_OF", "source_id": "bookings-db",
     "target_id": "bookings-db-pair"},
    {
        "op": "add_rel",
        "type": "MEMBER_OF",
        "source_id": "bookings-db-standby",
        "target_id": "bookings-db-pair",
    },
    *[
        {"op": op, "type": "DEPENDS_ON", "source_id": f"booking-engine-{n}", "target_id": t}
        for n in (1, 2)
        for op, t in (("add_rel", "bookings-db-pair"), ("retire_rel", "bookings-db"))
    ],
]  # fmt: skip


def _change(store: GraphStore, cid: str = "RFC-1", ci: str = "bookings-db") -> None:
    save(store, [Change(id=cid, title="standby", ci_ids=[resolve_ci(store, ci).id])], actor="t")


def test_a_standby_pair_removes_the_spof_and_raises_availability(
    sample_store: GraphStore,
) -> None:
    store = sample_store
    _change(store)
    counts, rels = store.counts(), store.list_relationships(limit=1000).items
    made = proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY, note="standby pair")
    assert (made.version, made.state, len(made.edits)) == (1, ProposalState.OPEN, 12)

    got = diff(store, ALL, "RFC-1")
    # Nothing written to the live graph.
    assert store.counts() == counts
    assert store.list_relationships(limit=1000).items == rels
    by_name = {s.name: s for s in got.services}
    # Both customer-facing services run on the booking engine, so both change.
    assert {BOOKING, "Boarding Pass App API"} <= {s.name for s in got.services if s.changed}
    svc = by_name[BOOKING]
    # Identity & Sign-in is reached (the new VM is on srv-01, which it needs), but nothing
    # in its dependency cone changes: listed, its answers not asked again.
    identity = by_name["Identity & Sign-in"]
    assert (identity.changed, identity.evaluated, identity.availability_after) == (
        False,
        False,
        None,
    )
    assert svc.evaluated and svc.availability_before and svc.availability_after
    # bookings-db and everything only it needed stop being single points of failure. The
    # pair itself is one (a Cluster is a CI every path to the database goes through; it is
    # logical: up when enough members are, availability 1 "its structure").
    assert sorted(x.name for x in svc.spofs_removed) == [
        "bookings-db", "srv-02", "vm-db-01", "vol-bookings-data",
    ]  # fmt: skip
    assert [x.name for x in svc.spofs_introduced] == ["bookings-db-pair"]
    added = {c.name: c for c in svc.components_added}
    assert set(added) == {"vm-db-03", "bookings-db-standby", "bookings-db-pair"}
    assert (added["bookings-db-standby"].availability, added["bookings-db-standby"].basis) == (
        0.9995,
        "default for Database",
    )
    # By hand. The class defaults (the evidence): Database and VirtualMachine 0.9995,
    # Server 0.999, StorageVolume 0.99995. srv-02 (p) carries the bookings-db chain
    # (bookings-db, vm-db-01, vol-bookings-data: c1) and vm-app-03, one of the three VMs of
    # harbour-app-cluster, which needs two. Given srv-02 up, the service is R * c1 before;
    # given it down, the database is down before. So before = p * R * c1. After: given
    # srv-02 up, the pair is up unless both chains are down (the standby's: c2 = database
    # x VM on srv-01, which the app cluster needs anyway); given srv-02 down, the standby
    # alone (c2) and the app cluster needs vm-app-01 and vm-app-02 both (a^2 instead of
    # two of three, 3a^2 - 2a^3): the rest is R / (3 - 2a).
    a_db = a_vm = 0.9995
    p, a_vol = 0.999, 0.99995
    c1, c2 = a_db * a_vm * a_vol, a_db * a_vm
    before = svc.availability_before.value
    after = (before / c1) * ((1 - (1 - c1) * (1 - c2)) + (1 - p) / p * c2 / (3 - 2 * a_vm))
    assert svc.availability_after.value == pytest.approx(after, rel=1e-12)
    assert svc.availability_after.value > before
    assert before == pytest.approx(0.991727393730, abs=1e-12)
    assert svc.availability_after.value == pytest.approx(0.993760240015, abs=1e-12)
    assert svc.availability_before.exact and svc.availability_after.exact
    # Paths: the engines' direct dependency on bookings-db goes, the pair's arrive.
    gone = {tuple(x.ci_ids[:2]) for x in svc.paths_disappeared}
    db, engine1 = resolve_ci(store, "bookings-db").id, resolve_ci(store, "booking-engine-1").id
    assert (db, engine1) in gone or any(x.cause == db for x in svc.paths_disappeared)
    assert any("bookings-db-standby -> bookings-db-pair" in x.text for x in svc.paths_appeared)
    # Customers and SLA.
    assert {"Leisure Travellers", "Freight Hauliers"} <= set(svc.customers)
    assert svc.sla == "Online Ferry Booking SLA"
    assert got.collisions == []


def test_bad_edits_are_refused_one_by_one_and_nothing_is_saved(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store)
    bad: list[dict[str, Any]] = [
        {"op": "add_ci", "ci": {"class": "Database", "name": "ok-db"}},
        {"op": "add_rel", "type": "SERVES", "source_id": "ok-db", "target_id": "srv-01"},
        {"op": "retire_ci", "ci_id": "no-such-ci"},
        {"op": "add_ci", "ci": {"class": "Spaceship", "name": "x"}},
        {"op": "update_ci", "ci_id": "bookings-db", "fields": {"status": "melted"}},
        {"op": "set_redundancy", "ci_id": "bookings-db", "redundancy": {"min_up": 1}},
        {"op": "retire_rel", "type": "DEPENDS_ON", "source_id": "srv-01", "target_id": "srv-02"},
    ]
    with pytest.raises(InvalidInput) as caught:
        proposals.create(store, ALL, ADMIN, "RFC-1", bad)
    msg = caught.value.message
    assert msg.startswith("6 of 7 edits refused, nothing saved")
    assert caught.value.where == "edits[1]"
    assert "edits[1]: add_rel: SERVES" in msg and "is not allowed from a Database" in msg
    assert "edits[2]: retire_ci:" in msg and "no-such-ci" in msg
    assert "edits[3].ci.class" in msg and "Spaceship" in msg
    assert "edits[4]: update_ci: status" in msg
    assert "edits[5]: set_redundancy: only a Cluster" in msg
    assert "edits[6]: retire_rel: there is no active srv-01 -[DEPENDS_ON]-> srv-02" in msg
    assert "edits[0]" not in msg
    with pytest.raises(NotFound):
        store.get_proposal("RFC-1")


def test_versions_edits_removal_and_withdrawal(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store)
    proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY[:2])
    v2 = proposals.add_edits(store, ALL, ADMIN, "RFC-1", STANDBY[2:4])
    assert (v2.version, len(v2.edits)) == (2, 4)
    # A later edit names an earlier one's CI: removing the earlier one is refused.
    with pytest.raises(InvalidInput, match=r"without edit 0 .* no longer hold"):
        proposals.remove_edit(store, ALL, ADMIN, "RFC-1", 0)
    v3 = proposals.remove_edit(store, ALL, ADMIN, "RFC-1", 3)
    assert (v3.version, len(v3.edits)) == (3, 3)
    assert v3.note.startswith("removed edit 3: add ")
    # An edit that repeats a staged one contradicts it.
    with pytest.raises(InvalidInput, match=r"edits\[3\]: add_rel: .*exists already"):
        proposals.add_edits(store, ALL, ADMIN, "RFC-1", [STANDBY[1]])
    with pytest.raises(InvalidInput, match="has a proposal already"):
        proposals.create(store, ALL, ADMIN, "RFC-1")
    v4 = proposals.withdraw(store, ALL, ADMIN, "RFC-1")
    assert v4.state is ProposalState.WITHDRAWN
    with pytest.raises(InvalidInput, match="withdrawn"):
        proposals.add_edits(store, ALL, ADMIN, "RFC-1", STANDBY[:1])
    v5 = proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY[:1])
    assert (v5.version, v5.state, len(v5.edits)) == (5, ProposalState.OPEN, 1)
    assert [p.version for p in proposals.versions(store, ALL, "RFC-1")] == [1, 2, 3, 4, 5]
    assert len(proposals.get(store, ALL, "RFC-1", version=2).edits) == 4
    # A live CI's edit keeps the CI's updated_at (what a merge compares); a new one none.
    owner: dict[str, Any] = {"op": "update_ci", "ci_id": "srv-01", "fields": {"owner": "x"}}
    upd = proposals.add_edits(store, ALL, ADMIN, "RFC-1", [owner])
    stamp = resolve_ci(store, "srv-01").updated_at
    assert stamp is not None and upd.edits[-1].base == stamp
    assert upd.edits[0].base is None


def test_collisions_with_other_open_proposals(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store)
    _change(store, "RFC-2", "srv-01")
    proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY)
    proposals.create(
        store, ALL, ADMIN, "RFC-2", [{"op": "retire_ci", "ci_id": "srv-01"}]
    )  # fmt: skip
    got = diff(store, ALL, "RFC-1")
    srv = resolve_ci(store, "srv-01").id
    assert [(c.proposal, c.ci_ids) for c in got.collisions] == [("RFC-2", [srv])]
    proposals.withdraw(store, ALL, ADMIN, "RFC-2")
    assert diff(store, ALL, "RFC-1").collisions == []


def test_from_an_import_document(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store)
    db = resolve_ci(store, "bookings-db").id
    doc = {
        "version": 1,
        "cis": [
            {"key": "standby", "class": "Database", "name": "bookings-db-standby"},
            {"key": db, "class": "Database", "name": "bookings-db", "owner": "DBA team"},
        ],
        "relationships": [{"source": "standby", "type": "DEPENDS_ON", "target": db}],
    }
    edits = proposals.edits_from_document(store, ALL, doc)
    made = proposals.create(store, ALL, ADMIN, "RFC-1", edits)
    assert [e.op.value for e in made.edits] == ["add_ci", "update_ci", "add_rel"]
    assert made.edits[1].fields == {"name": "bookings-db", "owner": "DBA team"}
    assert made.edits[2].target_id == db and made.edits[2].source_id == made.edits[0].touches()[0]
    with pytest.raises(InvalidInput) as caught:
        proposals.edits_from_document(store, ALL, {"version": 1, "cis": [{"key": "a"}]})
    assert caught.value.where == "cis.0.class"


def test_a_scoped_caller_sees_only_proposals_of_changes_it_reads(
    sample_store: GraphStore,
) -> None:
    store = sample_store
    _change(store)
    proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY[:2])
    # Identity & Sign-in does not depend on bookings-db: RFC-1 is not in its view.
    pay = resolve_ci(store, "Identity & Sign-in").id
    vis = Visibility.for_principal(store, Principal("s", Role.VIEWER, services=(pay,)))
    assert not vis.allows(resolve_ci(store, "bookings-db").id)
    with pytest.raises(NotFound):
        proposals.get(store, vis, "RFC-1")
    assert proposals.list_proposals(store, vis) == []
    assert [p.id for p in proposals.list_proposals(store, ALL)] == ["RFC-1"]


def test_what_the_engine_does_not_read_changes_no_answer(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store, "RFC-1", "srv-01")
    note = {"op": "update_ci", "ci_id": "srv-01", "fields": {"attributes": {"note": "rack 4"}}}
    proposals.create(store, ALL, ADMIN, "RFC-1", [note])
    got = diff(store, ALL, "RFC-1")
    assert got.services and not any(s.changed or s.evaluated for s in got.services)
    # A declared availability is evidence the engine reads: asked again, and lower.
    worse = {"op": "update_ci", "ci_id": "srv-01", "fields": {"attributes": {"availability": 0.99}}}
    proposals.add_edits(store, ALL, ADMIN, "RFC-1", [worse])
    svc = {s.name: s for s in diff(store, ALL, "RFC-1").services}[BOOKING]
    assert svc.evaluated and svc.changed
    assert svc.availability_before and svc.availability_after
    assert svc.availability_after.value < svc.availability_before.value
    # srv-01 is a single point of failure of the service (it hosts two of the app
    # cluster's three VMs, and the cluster needs two): the service is up only while srv-01
    # is, independently of the rest, so its availability scales with srv-01's, from 0.999
    # (Server's class default) to the declared 0.99.
    ratio = svc.availability_after.value / svc.availability_before.value
    assert ratio == pytest.approx(0.99 / 0.999, rel=1e-12)


def test_a_change_implemented_or_decided_against_takes_no_edits(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store)
    proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY[:1])
    done = store.get_change("RFC-1").model_copy(update={"state": ChangeState.REJECTED})
    save(store, [done], actor="t")
    with pytest.raises(InvalidInput, match="RFC-1 is rejected: its proposal takes no edits"):
        proposals.add_edits(store, ALL, ADMIN, "RFC-1", STANDBY[1:2])
    assert proposals.withdraw(store, ALL, ADMIN, "RFC-1").state is ProposalState.WITHDRAWN


def test_a_staged_edit_the_live_graph_no_longer_allows_is_named(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store)
    web = {"op": "update_ci", "ci_id": "booking-web-1", "fields": {"owner": "Web team"}}
    proposals.create(store, ALL, ADMIN, "RFC-1", [web])
    # Meanwhile booking-web-1 is retired in the live graph.
    store.apply(ChangeSet(actor="t", source="t", ci_retires=[CIRetire(ref=CIRef(id=_id(store)))]))
    with pytest.raises(InvalidInput, match=r"staged edit 0 \(update .*\) no longer holds"):
        proposals.add_edits(store, ALL, ADMIN, "RFC-1", STANDBY[:1])
    assert proposals.remove_edit(store, ALL, ADMIN, "RFC-1", 0).edits == []


def _id(store: GraphStore) -> str:
    return resolve_ci(store, "booking-web-1").id
