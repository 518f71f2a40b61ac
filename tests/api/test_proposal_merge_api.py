"""Merging a proposal over REST and GraphQL, on both stores: the conflicts listed (nothing
written), rebase, merge, a second merge refused, and a viewer refused."""

from __future__ import annotations

from typing import Any

from cmdb.auth.roles import Role
from cmdb.domain.changeset import ChangeSet, CIRef, RelRetire
from cmdb.domain.records import ChangeState
from cmdb.practice.changes import save
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_proposals_api import RFC, _api_edits, _change, call, ok

BASE = f"/changes/{RFC}/proposal"


def _implemented(api: Api) -> None:
    change = api.store.get_change(RFC)
    save(api.store, [change.model_copy(update={"state": ChangeState.IMPLEMENTED})], actor="t")


def test_conflicts_rebase_and_merge_over_rest(api: Api) -> None:
    _change(api)
    ok(call(api, "POST", BASE, {"edits": _api_edits()}), 201)
    _implemented(api)
    # Meanwhile the edge the proposal retires is retired by someone else.
    engine = resolve_ci(api.store, "booking-engine-1").id
    db = resolve_ci(api.store, "bookings-db").id
    api.store.apply(
        ChangeSet(
            actor="bob",
            source="netbox",
            rel_retires=[
                RelRetire(type="DEPENDS_ON", source=CIRef(id=engine), target=CIRef(id=db))
            ],
        )
    )
    listed = ok(call(api, "GET", f"{BASE}/conflicts", role=Role.VIEWER))["items"]
    assert [
        (c["edit"], c["kind"], c["field"], c["proposed_on"], c["now"], c["changed_by"])
        for c in listed
    ] == [(8, "relationship", "relationship", "active", "absent", "bob")]
    from tests.api.test_graphql import gql

    query = "query($c: ID!) { proposalConflicts(change: $c) { edit kind field } }"
    assert gql(api, query, {"c": RFC})["data"]["proposalConflicts"] == [
        {"edit": 8, "kind": "RELATIONSHIP", "field": "relationship"}
    ]
    r = call(api, "POST", f"{BASE}/merge")
    assert r.status_code == 409 and r.json()["error"]["type"] == "write_conflict"
    assert "edits[8]" in r.json()["error"]["message"]
    assert api.store.get_proposal(RFC).state.value == "open"
    assert call(api, "POST", f"{BASE}/merge", role=Role.VIEWER).status_code == 403
    # Rebasing keeps refusing an edit the live graph no longer allows; removing it works.
    r = call(api, "POST", f"{BASE}/rebase")
    assert r.status_code == 422 and "edits[8]" in r.json()["error"]["message"]
    ok(call(api, "POST", f"{BASE}/remove-edit", {"index": 8}))
    rebased = ok(call(api, "POST", f"{BASE}/rebase"))
    assert rebased["proposal"]["version"] == 3 and rebased["accepted"] == []
    assert ok(call(api, "GET", f"{BASE}/conflicts"))["items"] == []
    merged = ok(call(api, "POST", f"{BASE}/merge"))
    assert merged["reason"] == f"{RFC} proposal v3"
    assert (merged["created"], merged["rels_created"], merged["rels_retired"]) == (3, 6, 1)
    assert merged["proposal"]["state"] == "merged"
    r = call(api, "POST", f"{BASE}/merge")
    assert r.status_code == 422 and "merged already" in r.json()["error"]["message"]
    history = api.store.history(resolve_ci(api.store, "bookings-db-pair").id)
    # Created, then its redundancy set (the last edit): both rows of the merge.
    assert [(h.op.value, h.reason, h.actor) for h in history] == [
        ("create", f"{RFC} proposal v3", "test-change-manager"),
        ("update", f"{RFC} proposal v3", "test-change-manager"),
    ]


def test_merge_over_graphql(api: Api) -> None:
    from tests.api.test_graphql import error_of, gql

    _change(api)
    ok(call(api, "POST", BASE, {"edits": _api_edits()}), 201)
    merge = (
        "mutation($c: ID!) { mergeProposal(change: $c) { reason created relsCreated"
        " proposal { state version } } }"
    )
    conflicts = "query($c: ID!) { proposalConflicts(change: $c) { edit kind field why } }"
    err = error_of(gql(api, merge, {"c": RFC}))
    assert "implemented" in err["message"]
    _implemented(api)
    assert gql(api, conflicts, {"c": RFC})["data"]["proposalConflicts"] == []
    err = error_of(gql(api, merge, {"c": RFC}, role=Role.VIEWER))
    assert err["extensions"]["code"] == "FORBIDDEN"
    got: dict[str, Any] = gql(api, merge, {"c": RFC})["data"]["mergeProposal"]
    assert got == {
        "reason": f"{RFC} proposal v1",
        "created": 3,
        "relsCreated": 6,
        "proposal": {"state": "MERGED", "version": 2},
    }
    rows = gql(api, '{ history(ref: "bookings-db-pair") { op reason } }')["data"]["history"]
    assert {(r["op"], r["reason"]) for r in rows} == {
        ("CREATE", f"{RFC} proposal v1"),
        ("UPDATE", f"{RFC} proposal v1"),
    }
