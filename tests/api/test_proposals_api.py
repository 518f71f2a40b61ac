"""``/changes/{id}/proposal`` and ``/proposals`` on both stores: stage edits (from a list
and from an import document), a bad edit refused with why and nothing saved, versions,
the impact diff (the numbers of tests/integration/test_proposals_stores.py), withdraw,
and scope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cmdb.app import proposals
from cmdb.app.scope import Visibility
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.domain.errors import NotFound
from cmdb.domain.records import Change
from cmdb.practice.changes import save
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.integration.test_proposals_stores import STANDBY

CM = Role.CHANGE_MANAGER
RFC = "RFC-2026-0200"


def call(
    api: Api, method: str, path: str, body: Any = None, *, role: Role = CM, **kw: Any
) -> httpx.Response:
    return api.client.request(
        method, f"{API_PREFIX}{path}", json=body, headers=api.as_role(role), **kw
    )


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _change(api: Api, cid: str = RFC) -> None:
    db = resolve_ci(api.store, "bookings-db").id
    save(api.store, [Change(id=cid, title="standby pair", ci_ids=[db])], actor="t")


def _api_edits() -> list[dict[str, Any]]:
    # The API names a new CI by its name in later edits (its id is the server's choice).
    return [e for e in STANDBY if e["op"] != "set_redundancy"] + [
        e for e in STANDBY if e["op"] == "set_redundancy"
    ]


def test_stage_version_diff_and_withdraw(api: Api) -> None:
    _change(api)
    base = f"/changes/{RFC}/proposal"
    made = ok(call(api, "POST", base, {"edits": _api_edits()[:4], "note": "first"}), 201)
    assert (made["version"], len(made["edits"]), made["author"]) == (1, 4, "test-change-manager")
    more = ok(call(api, "POST", f"{base}/edits", {"edits": _api_edits()[4:]}))
    assert (more["version"], len(more["edits"])) == (2, 12)

    # A bad edit: 422 naming it and why; nothing saved.
    bad = {"op": "add_rel", "type": "SERVES", "source_id": "bookings-db", "target_id": "srv-01"}
    r = call(api, "POST", f"{base}/edits", {"edits": [bad]})
    err = r.json()["error"]
    assert r.status_code == 422 and err["where"] == "edits[12]", r.text
    assert "is not allowed from a Database" in err["message"]
    assert ok(call(api, "GET", base))["version"] == 2

    diff = ok(call(api, "GET", f"{base}/diff", role=Role.VIEWER))
    svc = next(s for s in diff["services"] if s["name"] == "Online Ferry Booking")
    assert [x["name"] for x in svc["spofs_introduced"]] == ["bookings-db-pair"]
    assert "bookings-db" in {x["name"] for x in svc["spofs_removed"]}
    assert svc["availability_before"]["value"] == pytest.approx(0.991727393730, abs=1e-12)
    assert svc["availability_after"]["value"] == pytest.approx(0.993760240015, abs=1e-12)
    assert svc["sla"] == "Online Ferry Booking SLA"

    versions = ok(call(api, "GET", f"{base}/versions"))["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert len(ok(call(api, "GET", base, params={"version": 1}))["edits"]) == 4
    # A version no proposal can have: refused or not found, never a 500 (SQLite cannot
    # bind an int past 64 bits; the app layer checks every shell's version).
    for path in (base, f"{base}/diff"):
        assert call(api, "GET", path, params={"version": 2**63}).status_code == 422
    everyone = Visibility.for_principal(api.store, Principal("p", Role.VIEWER))
    for version in (2**63, 2**31):
        with pytest.raises(NotFound):
            proposals.get(api.store, everyone, RFC, version=version)
    removed = ok(call(api, "POST", f"{base}/remove-edit", {"index": 11}))
    assert removed["version"] == 3
    gone = ok(call(api, "POST", f"{base}/withdraw", {"note": "CAB said no"}))
    assert (gone["state"], gone["note"]) == ("withdrawn", "CAB said no")
    listed = ok(call(api, "GET", "/proposals", params={"state": "withdrawn"}))["items"]
    assert [p["id"] for p in listed] == [RFC]
    assert ok(call(api, "GET", "/proposals", params={"state": "open"}))["items"] == []


def test_from_a_document_and_refusals(api: Api) -> None:
    _change(api)
    doc = {
        "version": 1,
        "cis": [{"key": "sb", "class": "Database", "name": "bookings-db-standby"}],
        "relationships": [{"source": "sb", "type": "DEPENDS_ON", "target": "vol-x"}],
    }
    r = call(api, "POST", f"/changes/{RFC}/proposal", {"document": doc})
    assert r.status_code == 422 and "vol-x" in r.json()["error"]["message"], r.text
    assert call(api, "GET", f"/changes/{RFC}/proposal").status_code == 404
    doc["relationships"] = []
    made = ok(call(api, "POST", f"/changes/{RFC}/proposal", {"document": doc}), 201)
    assert [e["op"] for e in made["edits"]] == ["add_ci"]
    # A new CI's id is the server's: a body choosing it is refused.
    new = {"op": "add_ci", "ci": {"id": "ci_mine", "class": "Database", "name": "x"}}
    r = call(api, "POST", f"/changes/{RFC}/proposal/edits", {"edits": [new]})
    assert r.status_code == 422 and "chosen by the server" in r.text
    # A viewer may read, not write.
    assert (
        call(api, "POST", f"/changes/{RFC}/proposal/withdraw", {}, role=Role.VIEWER).status_code
        == 403
    )


def test_a_scoped_reader_sees_only_what_is_in_view(api: Api) -> None:
    _change(api)
    ok(call(api, "POST", f"/changes/{RFC}/proposal", {"edits": _api_edits()}), 201)
    identity = resolve_ci(api.store, "Identity & Sign-in").id
    app_api = resolve_ci(api.store, "Boarding Pass App API").id
    outside = api.token_for(Role.VIEWER, services=(identity,), name="identity")
    r = api.client.get(f"{API_PREFIX}/changes/{RFC}/proposal/diff", headers=outside)
    assert r.status_code == 404
    inside = api.token_for(Role.VIEWER, services=(app_api,), name="app")
    got = api.client.get(f"{API_PREFIX}/changes/{RFC}/proposal/diff", headers=inside).json()
    vis = Visibility.for_principal(api.store, Principal("p", Role.VIEWER, services=(app_api,)))
    shown = {s["name"]: s["id"] for s in got["services"]}
    assert "Boarding Pass App API" in shown and all(vis.allows(i) for i in shown.values())
    # The booking service is not upstream of the app API: out of view, left out.
    everything = ok(call(api, "GET", f"/changes/{RFC}/proposal/diff"))["services"]
    assert "Online Ferry Booking" in {s["name"] for s in everything}
    assert "Online Ferry Booking" not in shown


def test_graphql_shows_the_proposal_and_its_diff(api: Api) -> None:
    from tests.api.test_graphql_operations import run

    _change(api)
    ok(call(api, "POST", f"/changes/{RFC}/proposal", {"edits": _api_edits()}), 201)
    got = run(api, "proposal_diff", {"change": RFC})
    assert (got["proposal"]["version"], len(got["proposal"]["edits"])) == (1, 12)
    rest = ok(call(api, "GET", f"/changes/{RFC}/proposal/diff"))
    by_name = {s["name"]: s for s in got["proposalDiff"]["services"]}
    for s in rest["services"]:
        mine = by_name[s["name"]]
        assert mine["changed"] == s["changed"]
        assert [x["name"] for x in mine["spofsRemoved"]] == [x["name"] for x in s["spofs_removed"]]
        after = mine["availabilityAfter"]
        assert (after and after["value"]) == (s["availability_after"] or {}).get("value")
    assert by_name["Online Ferry Booking"]["availabilityAfter"]["value"] == pytest.approx(
        0.993760240015, abs=1e-12
    )


def test_graphql_stages_edits_with_the_edit_permission(api: Api) -> None:
    from tests.api.test_graphql import error_of, gql

    _change(api)
    create = (
        "mutation($c: ID!, $e: [ProposalEditInput!]) "
        "{ createProposal(change: $c, edits: $e) { version edits { op text } } }"
    )
    add = (
        "mutation($c: ID!, $e: [ProposalEditInput!]!) "
        "{ addProposalEdits(change: $c, edits: $e) { version } }"
    )
    edits = [{_camel(k): v for k, v in e.items()} for e in _api_edits()]
    err = error_of(gql(api, create, {"c": RFC, "e": edits[:2]}, role=Role.VIEWER))
    assert err["extensions"]["code"] == "FORBIDDEN"
    with pytest.raises(NotFound):
        api.store.get_proposal(RFC)
    made = gql(api, create, {"c": RFC, "e": edits[:2]})["data"]["createProposal"]
    assert (made["version"], [e["op"] for e in made["edits"]]) == (1, ["add_ci", "add_rel"])
    bad = {"op": "add_rel", "type": "SERVES", "sourceId": "bookings-db", "targetId": "srv-01"}
    err = error_of(gql(api, add, {"c": RFC, "e": [bad]}))
    assert "edits[2]" in err["message"] and "is not allowed from a Database" in err["message"]
    assert api.store.get_proposal(RFC).version == 1
    withdraw = "mutation($c: ID!) { withdrawProposal(change: $c) { state version } }"
    got = gql(api, withdraw, {"c": RFC})["data"]["withdrawProposal"]
    assert got == {"state": "WITHDRAWN", "version": 2}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.capitalize() for w in rest)
