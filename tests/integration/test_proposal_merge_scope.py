"""A token scoped to services is not shown, in a proposal's conflicts or a refused
merge, any CI outside its view (issue 17, item 3), on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.app import proposal_merge, proposals
from cmdb.app.proposal_merge import MergeConflicts
from cmdb.app.scope import Visibility
from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelRetire
from cmdb.domain.errors import NotFound
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.fakes import FakeClock
from tests.integration.test_proposal_merge import ADMIN, ALL, _change, _implemented


def test_a_scoped_token_sees_no_ci_outside_its_view_in_conflicts(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    engine = resolve_ci(store, "booking-engine-1")
    db = resolve_ci(store, "bookings-db")
    _change(store, "RFC-S", "booking-engine-1")
    edits: list[dict[str, Any]] = [
        {"op": "update_ci", "ci_id": engine.id, "fields": {"owner": "web-team"}},
        {"op": "retire_rel", "type": "DEPENDS_ON", "source_id": engine.id, "target_id": db.id},
    ]
    proposals.create(store, ALL, ADMIN, "RFC-S", edits)
    sample_clock.advance(minutes=5)
    store.apply(
        ChangeSet(
            actor="bob",
            source="netbox",
            ci_upserts=[
                CIUpsert.model_validate(
                    {"id": engine.id, "class": engine.ci_class, "name": engine.name, "owner": "x"}
                )
            ],
            rel_retires=[
                RelRetire(type="DEPENDS_ON", source=CIRef(id=engine.id), target=CIRef(id=db.id))
            ],
        )
    )
    everything = proposal_merge.conflicts(store, ALL, ADMIN, "RFC-S")
    assert any(db.name in (c.ci_name or "") for c in everything)
    # A token that sees the engine but not the database: the conflicts of the edits it
    # is shown (the edit naming the database is not shown to it), and no name of the
    # database anywhere.
    scoped = Visibility(ids=frozenset({engine.id}))
    seen = proposal_merge.conflicts(store, scoped, ADMIN, "RFC-S")
    assert seen and {c.edit for c in seen} == {0}
    text = " ".join(c.model_dump_json() for c in seen)
    assert db.name not in text and db.id not in text


def test_a_scoped_merge_refused_names_no_ci_outside_its_view(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    engine = resolve_ci(store, "booking-engine-1")
    _change(store, "RFC-T", "booking-engine-1")
    fqdn = {"kind": "fqdn", "value": "vm-hidden.example.org"}
    vm = {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "vm-n", "identifiers": [fqdn]}}
    proposals.create(store, ALL, ADMIN, "RFC-T", [vm])
    _implemented(store, "RFC-T")
    sample_clock.advance(minutes=5)
    # Discovery finds a CI holding the identifier, outside the token's view.
    hidden = {"class": "VirtualMachine", "name": "vm-hidden", "identifiers": [fqdn]}
    store.apply(
        ChangeSet(actor="d", source="ansible", ci_upserts=[CIUpsert.model_validate(hidden)])
    )
    held = resolve_ci(store, "vm-hidden")
    scoped = Visibility(ids=frozenset({engine.id}))
    with pytest.raises(MergeConflicts) as err:
        proposal_merge.merge(store, scoped, ADMIN, "RFC-T")
    # Refused, saying which edit, without naming what holds the identifier.
    assert [(c.edit, c.field) for c in err.value.conflicts] == [(0, "identifiers.fqdn")]
    text = err.value.message + " ".join(c.model_dump_json() for c in err.value.conflicts)
    assert "vm-hidden" not in text and held.id not in text
    # The unrestricted caller is told who holds it.
    with pytest.raises(MergeConflicts, match="vm-hidden"):
        proposal_merge.merge(store, ALL, ADMIN, "RFC-T")


def test_rebase_out_of_view_says_no_change_whether_or_not_it_has_a_proposal(
    sample_store: GraphStore,
) -> None:
    store = sample_store
    engine = resolve_ci(store, "booking-engine-1")
    # Two changes outside the token's view, one with a proposal; and one that is not.
    _change(store, "RFC-U", "bookings-db")
    _change(store, "RFC-V", "bookings-db")
    edit = {"op": "update_ci", "ci_id": "bookings-db", "fields": {"owner": "x"}}
    proposals.create(store, ALL, ADMIN, "RFC-V", [edit])
    scoped = Visibility(ids=frozenset({engine.id}))
    answers = []
    for cid in ("RFC-U", "RFC-V", "RFC-MISSING"):
        with pytest.raises(NotFound) as err:
            proposal_merge.rebase(store, scoped, ADMIN, cid)
        answers.append(err.value.message.replace(cid, "?"))
    assert answers[0] == answers[1] == answers[2]


def test_a_new_cis_validity_names_no_holder_outside_the_view(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store = sample_store
    engine = resolve_ci(store, "booking-engine-1")
    _change(store, "RFC-W", "booking-engine-1")
    fqdn = {"kind": "fqdn", "value": "vm-hidden.example.org"}
    vm = {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "vm-w", "identifiers": [fqdn]}}
    proposals.create(store, ALL, ADMIN, "RFC-W", [vm])
    hidden = {"class": "VirtualMachine", "name": "secret-box", "identifiers": [fqdn]}
    store.apply(
        ChangeSet(actor="d", source="ansible", ci_upserts=[CIUpsert.model_validate(hidden)])
    )
    held = resolve_ci(store, "secret-box")
    # The unrestricted reader is told who holds it; a scoped one that it is held.
    everything = proposals.get(store, ALL, "RFC-W", check=True).edits[0].validity
    assert everything is not None and "secret-box" in " ".join(everything.why)
    scoped = Visibility(ids=frozenset({engine.id}))
    seen = proposals.get(store, scoped, "RFC-W", check=True).edits[0].validity
    assert seen is not None and not seen.holds
    assert "secret-box" not in " ".join(seen.why) and held.id not in " ".join(seen.why)
