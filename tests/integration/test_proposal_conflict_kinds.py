"""A merge conflict says what kind of thing moved (``MergeConflict.kind``), and rebase
decides by that, never by the conflict's words: a field a source outranking the merge owns
is not cleared by rebasing, a field changed since is (issue 17). On both stores.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.app import proposal_merge, proposals
from cmdb.app.proposal_merge import ConflictKind, MergeConflict
from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.errors import InvalidInput
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.integration.test_proposal_merge import ADMIN, ALL, POLICY, _change


def _conflict(kind: ConflictKind, why: str) -> MergeConflict:
    return MergeConflict(edit=0, kind=kind, ci_id="ci_1", field="attributes.os", why=why)


def test_rebase_decides_by_kind_whatever_the_words() -> None:
    """Reworded messages change nothing: a precedence conflict that does not say "source
    precedence" still stops a rebase, and another that happens to say it does not."""
    owned = _conflict(ConflictKind.PRECEDENCE, "netbox reports this field; drop the edit")
    worded = _conflict(ConflictKind.CHANGED, "changed since staged (source precedence unmoved)")
    assert proposal_merge.uncleared([owned, worded]) == [owned]
    assert proposal_merge.uncleared([worded]) == []


def _up(name: str, ci_class: str, **fields: Any) -> CIUpsert:
    return CIUpsert.model_validate(
        {
            "class": ci_class,
            "name": name,
            "identifiers": [{"kind": "key", "value": f"k-{name}"}],
            **fields,
        }
    )


def test_each_conflict_has_its_kind_and_rebase_keeps_the_owned_field(store: GraphStore) -> None:
    # json discovers vm-k, and owns its attributes.os (POLICY); db-k is made by hand.
    store.apply(
        ChangeSet(
            actor="discovery",
            source="json",
            precedence=POLICY,
            ci_upserts=[_up("vm-k", "VirtualMachine", attributes={"os": "debian"})],
        )
    )
    store.apply(ChangeSet(actor="t", source="manual", ci_upserts=[_up("db-k", "Database")]))
    vm, db = resolve_ci(store, "vm-k").id, resolve_ci(store, "db-k").id
    _change(store, "RFC-K", "vm-k", "db-k")
    proposals.create(
        store,
        ALL,
        ADMIN,
        "RFC-K",
        [
            {"op": "update_ci", "ci_id": vm, "fields": {"attributes": {"os": "alpine"}}},
            {"op": "update_ci", "ci_id": db, "fields": {"owner": "dba"}},
            {"op": "retire_ci", "ci_id": db},
        ],
    )
    # Meanwhile someone records db-k's version on the live CI.
    store.apply(
        ChangeSet(actor="bob", source="manual", ci_upserts=[_up("db-k", "Database", version="16")])
    )

    found = proposal_merge.conflicts(store, ALL, ADMIN, "RFC-K", precedence=POLICY)
    assert [(c.edit, c.kind, c.field) for c in found] == [
        (0, ConflictKind.PRECEDENCE, "attributes.os"),
        (1, ConflictKind.CHANGED, "version"),
    ]

    # Rebasing does not clear the owned field: refused, naming the edit; nothing saved.
    with pytest.raises(InvalidInput) as err:
        proposal_merge.rebase(store, ALL, ADMIN, "RFC-K", precedence=POLICY)
    assert err.value.where == "edits[0]"
    assert store.get_proposal("RFC-K").version == 1

    # Without that edit the rebase accepts the changed field, and says so by kind.
    proposals.remove_edit(store, ALL, ADMIN, "RFC-K", 0)
    made, accepted = proposal_merge.rebase(store, ALL, ADMIN, "RFC-K", precedence=POLICY)
    assert made.version == 3
    assert [(c.edit, c.kind, c.field) for c in accepted] == [(0, ConflictKind.CHANGED, "version")]
    assert proposal_merge.conflicts(store, ALL, ADMIN, "RFC-K", precedence=POLICY) == []
