"""Review of the proposal merge (issue 17, item 3), on both stores: an edit whose base is
missing (a snapshot row, another writer) cannot overwrite a live change unseen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from cmdb.app import proposal_merge, proposals
from cmdb.app.proposal_merge import MergeConflicts
from cmdb.app.scope import Visibility
from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, Precedence, RelUpsert
from cmdb.domain.errors import InvalidInput, NotFound, WriteConflict
from cmdb.domain.model import CI
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.fakes import FakeClock
from tests.integration.test_proposal_merge import (
    ADMIN,
    ALL,
    _change,
    _implemented,
    _state,
)


def test_an_edit_without_a_base_is_a_conflict_not_an_overwrite(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _change(store, "RFC-B", "bookings-db")
    db = resolve_ci(store, "bookings-db")
    edit = {"op": "update_ci", "ci_id": db.id, "fields": {"owner": "dba-team"}}
    made = proposals.create(store, ALL, ADMIN, "RFC-B", [edit])
    # A version whose edit lost its base (as a snapshot row or another writer can hold):
    # the merge can no longer tell what the live CI was when the edit was staged.
    bare = made.model_copy(
        update={
            "version": made.version + 1,
            "edits": [e.model_copy(update={"base": None}) for e in made.edits],
        }
    )
    store.save_proposal(bare)
    _implemented(store, "RFC-B")
    sample_clock.advance(minutes=5)
    store.apply(
        ChangeSet(
            actor="bob",
            source="netbox",
            ci_upserts=[
                CIUpsert.model_validate(
                    {"id": db.id, "class": "Database", "name": db.name, "owner": "platform"}
                )
            ],
        )
    )
    found = proposal_merge.find_conflicts(store, store.get_proposal("RFC-B"), source="api")
    assert [(c.edit, c.ci_id, c.field) for c in found] == [(0, db.id, "base")]
    before = _state(store)
    with pytest.raises(MergeConflicts, match="rebase"):
        proposal_merge.merge(store, ALL, ADMIN, "RFC-B")
    assert _state(store) == before
    assert resolve_ci(store, db.id).owner == "platform"
    # Rebasing records the base again, and then the merge goes through.
    proposal_merge.rebase(store, ALL, ADMIN, "RFC-B")
    proposal_merge.merge(store, ALL, ADMIN, "RFC-B")
    assert resolve_ci(store, db.id).owner == "dba-team"


def test_an_attribute_the_proposal_drops_but_a_source_owns_is_a_conflict(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _change(store, "RFC-A", "bookings-db")
    db = resolve_ci(store, "bookings-db")
    owned = {
        "id": db.id,
        "class": "Database",
        "name": db.name,
        "attributes": {"engine": "pg", "site": "north"},
    }
    store.apply(ChangeSet(actor="d", source="netbox", ci_upserts=[CIUpsert.model_validate(owned)]))
    policy = Precedence(owners={"attributes.*": ["netbox"]})
    # The proposal's attributes are the CI's whole new set: this one drops 'engine', which
    # netbox owns and outranks the merge on, so the merge cannot drop it; 'site', kept as
    # it is, is no conflict.
    kept = {k: v for k, v in resolve_ci(store, db.id).attributes.items() if k != "engine"}
    fields = {"attributes": {**kept, "tier": "gold"}}
    proposals.create(
        store, ALL, ADMIN, "RFC-A", [{"op": "update_ci", "ci_id": db.id, "fields": fields}]
    )
    _implemented(store, "RFC-A")
    sample_clock.advance(minutes=5)
    before = _state(store)
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, ALL, ADMIN, "RFC-A", precedence=policy)
    assert [(c.field, c.source) for c in err.value.conflicts] == [("attributes.engine", "netbox")]
    assert _state(store) == before


class ChangedWhileRebasing:
    """The store, where someone changes a CI between the rebase's listing of what it
    accepts and its reading of the new bases (a fake around the real store: every other
    call goes straight through)."""

    def __init__(self, inner: GraphStore, ci_id: str) -> None:
        self.inner = inner
        self.ci_id = ci_id
        self.reads = 0

    def _read(self) -> None:
        self.reads += 1
        if self.reads == 2:  # the conflicts were listed from the first read
            ci = self.inner.get_ci(self.ci_id)
            up = {"id": ci.id, "class": ci.ci_class, "name": ci.name, "version": "99"}
            self.inner.apply(
                ChangeSet(actor="eve", source="netbox", ci_upserts=[CIUpsert.model_validate(up)])
            )

    def get_ci(self, ci_id: str) -> CI:
        if ci_id == self.ci_id:
            self._read()
        return self.inner.get_ci(ci_id)

    def get_cis(self, ids: Iterable[str]) -> dict[str, CI]:
        # The conflicts read their CIs in one batch (cmdb.app.proposal_merge._Live.read).
        wanted = list(ids)
        if self.ci_id in wanted:
            self._read()
        return self.inner.get_cis(wanted)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_rebase_never_accepts_a_change_it_did_not_list(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _change(store, "RFC-R", "bookings-db")
    db = resolve_ci(store, "bookings-db")
    edit = {"op": "update_ci", "ci_id": db.id, "fields": {"owner": "dba-team"}}
    made = proposals.create(store, ALL, ADMIN, "RFC-R", [edit])
    sample_clock.advance(minutes=5)
    racing: Any = ChangedWhileRebasing(store, db.id)
    with pytest.raises(WriteConflict, match="while rebasing"):
        proposal_merge.rebase(racing, ALL, ADMIN, "RFC-R")
    assert racing.reads >= 2  # the change landed in between
    assert store.get_proposal("RFC-R") == made  # nothing saved
    # Rebased again, the change is listed as accepted.
    _, accepted = proposal_merge.rebase(store, ALL, ADMIN, "RFC-R")
    assert [(c.field, c.now) for c in accepted] == [("version", "99")]


def test_a_ci_made_by_hand_meanwhile_with_the_new_cis_key_is_a_conflict(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    _change(store, "RFC-K", "srv-01")
    vm = {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "vm-twin"}}
    proposals.create(store, ALL, ADMIN, "RFC-K", [vm])
    _implemented(store, "RFC-K")
    sample_clock.advance(minutes=5)
    # Meanwhile someone adds the same CI by hand: it gets the natural key. Merged, the
    # proposal's would be its twin (same class and name, no identifier at all).
    key = {"kind": "key", "value": "virtualmachine:vm-twin"}
    made = {"class": "VirtualMachine", "name": "vm-twin", "identifiers": [key]}
    store.apply(ChangeSet(actor="bob", source="cli", ci_upserts=[CIUpsert.model_validate(made)]))
    before = _state(store)
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, ALL, ADMIN, "RFC-K")
    assert [(c.edit, c.field) for c in err.value.conflicts] == [(0, "identifiers.key")]
    assert _state(store) == before
    assert [c.name for c in store.list_cis(limit=1000).items].count("vm-twin") == 1
    # The change page's check of the edit says the same.
    check = proposals.get(store, ALL, "RFC-K", check=True).edits[0].validity
    assert check is not None and not check.holds
    assert "key=virtualmachine:vm-twin" in " ".join(check.why)


def test_adding_a_ci_the_live_graph_has_is_refused_when_staged(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store, "RFC-L", "srv-01")
    twin = {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "vm-db-02"}}
    fqdn = {"kind": "fqdn", "value": "vm-db-02.gullhaven.saltmarsh.example"}
    other = {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "x", "identifiers": [fqdn]}}
    for edit in (twin, other):
        with pytest.raises(InvalidInput, match=r"edits\[0\].*vm-db-02 \(VirtualMachine"):
            proposals.create(store, ALL, ADMIN, "RFC-L", [edit])
    with pytest.raises(NotFound):
        store.get_proposal("RFC-L")
    # A scoped token is told that the key is taken, not by which CI.
    srv = resolve_ci(store, "srv-01")
    scoped = Visibility(ids=frozenset({srv.id}))
    with pytest.raises(InvalidInput) as err:
        proposals.create(store, scoped, ADMIN, "RFC-L", [twin])
    assert "outside this token's view" in err.value.message
    assert resolve_ci(store, "vm-db-02").id not in err.value.message


def test_a_relationship_added_to_a_ci_to_retire_since_it_was_staged_is_a_conflict(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store

    def made(cls: str, name: str) -> CIUpsert:
        key = {"kind": "key", "value": f"{cls}:{name}".lower()}
        return CIUpsert.model_validate({"class": cls, "name": name, "identifiers": [key]})

    store.apply(ChangeSet(actor="t", source="cli", ci_upserts=[made("Server", "srv-old")]))
    host = resolve_ci(store, "srv-old")
    _change(store, "RFC-H", "srv-old")
    proposals.create(store, ALL, ADMIN, "RFC-H", [{"op": "retire_ci", "ci_id": host.id}])
    _implemented(store, "RFC-H")
    sample_clock.advance(minutes=5)
    # Meanwhile discovery finds a new VM on the host the proposal retires.
    vm = made("VirtualMachine", "vm-late")
    hosted = RelUpsert(
        type="HOSTED_ON", source=CIRef(identifier=vm.identifiers[0]), target=CIRef(id=host.id)
    )
    store.apply(ChangeSet(actor="d", source="ansible", ci_upserts=[vm], rel_upserts=[hosted]))
    before = _state(store)
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, ALL, ADMIN, "RFC-H")
    assert [(c.edit, c.field, c.changed_by) for c in err.value.conflicts] == [
        (0, "relationship", "d")
    ]
    assert "vm-late -[HOSTED_ON]-> srv-old" in err.value.conflicts[0].line()
    assert _state(store) == before
    # A token that sees the host but not the VM is not told the VM's name.
    scoped = Visibility(ids=frozenset({host.id}))
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, scoped, ADMIN, "RFC-H")
    assert "vm-late" not in err.value.message
    # Rebasing accepts it (the CAB judged the change again, say); then it merges.
    _, accepted = proposal_merge.rebase(store, ALL, ADMIN, "RFC-H")
    assert [c.field for c in accepted] == ["relationship"]
    proposal_merge.merge(store, ALL, ADMIN, "RFC-H")
    assert resolve_ci(store, host.id).status.value == "withdrawn"
