"""What the change page needs of a proposal answer (issue 17), REST and GraphQL, on both
stores: each edit carries its index in the whole proposal, also where a token scoped to
services is shown only some edits; and whether it still applies to the live graph, with
why not (a CI retired since, a relationship to retire already gone), for any version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cmdb.app.scope import Visibility
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ChangeSet, CIRef, RelRetire
from cmdb.domain.records import Change
from cmdb.practice.changes import save
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_graphql import data
from tests.api.test_proposals_api import call, ok

RFC = "RFC-2026-0300"
BASE = f"/changes/{RFC}/proposal"
STANDBY = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "examples" / "standby-pair.json").read_text()
)
REPOINT = [
    {"op": op, "type": "DEPENDS_ON", "source_id": f"booking-engine-{n}", "target_id": target}
    for n in (1, 2)
    for op, target in (("add_rel", "bookings-db-pair"), ("retire_rel", "bookings-db"))
]
QUERY = """query($change: ID!, $version: Int) {
  proposal(change: $change, version: $version) {
    version edits { index op validity { holds why } }
  }
}"""


def _rfc(api: Api, *cis: str) -> None:
    ids = [resolve_ci(api.store, c).id for c in cis]
    save(api.store, [Change(id=RFC, title="checks", ci_ids=ids)], actor="t")


def test_each_edit_says_whether_it_still_holds_for_any_version(api: Api) -> None:
    _rfc(api, "bookings-db")
    srv = ok(
        call(api, "POST", "/cis", {"class": "Server", "name": "srv-chk"}, role=Role.ADMIN), 201
    )
    edits: list[dict[str, Any]] = [
        {"op": "update_ci", "ci_id": srv["ci"]["id"], "fields": {"owner": "Night Ops"}},
        {
            "op": "retire_rel",
            "type": "DEPENDS_ON",
            "source_id": "booking-engine-1",
            "target_id": "bookings-db",
        },
        {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "vm-chk"}},
        {"op": "add_rel", "type": "HOSTED_ON", "source_id": "vm-chk", "target_id": "srv-01"},
        {"op": "update_ci", "ci_id": "srv-03", "fields": {"description": "rack 4"}},
    ]
    ok(call(api, "POST", BASE, {"edits": edits[:2]}), 201)
    ok(call(api, "POST", f"{BASE}/edits", {"edits": edits[2:]}))
    fresh = ok(call(api, "GET", BASE, role=Role.VIEWER))
    assert [e["index"] for e in fresh["edits"]] == [0, 1, 2, 3, 4]
    assert all(e["validity"] == {"holds": True, "why": []} for e in fresh["edits"])

    # Meanwhile, in the live graph: srv-chk retired, the engine's edge to the db retired.
    ok(call(api, "DELETE", f"/cis/{srv['ci']['id']}", role=Role.ADMIN))
    engine, db = (resolve_ci(api.store, n).id for n in ("booking-engine-1", "bookings-db"))
    api.store.apply(
        ChangeSet(
            actor="bob",
            source="manual",
            rel_retires=[
                RelRetire(type="DEPENDS_ON", source=CIRef(id=engine), target=CIRef(id=db))
            ],
        )
    )
    said = {
        0: {"holds": False, "why": ["srv-chk has been retired since (withdrawn)"]},
        1: {
            "holds": False,
            "why": ["booking-engine-1 -[DEPENDS_ON]-> bookings-db is no longer in the live graph"],
        },
    }
    for version, count in ((2, 5), (1, 2)):  # the latest, and an earlier one
        got = ok(call(api, "GET", BASE, role=Role.VIEWER, params={"version": version}))
        assert [(e["index"], e["validity"]) for e in got["edits"]] == [
            (i, said.get(i, {"holds": True, "why": []})) for i in range(count)
        ]
        # GraphQL answers the same.
        gql = data(api, QUERY, {"change": RFC, "version": version}, role=Role.VIEWER)["proposal"]
        assert [(e["index"], e["validity"]) for e in gql["edits"]] == [
            (i, said.get(i, {"holds": True, "why": []})) for i in range(count)
        ]
    # Lists carry the index, not the check (each would read the live graph).
    listed = ok(call(api, "GET", f"{BASE}/versions"))["items"][-1]["edits"]
    assert [(e["index"], e["validity"]) for e in listed] == [(i, None) for i in range(5)]


def test_a_scoped_token_sees_the_indexes_of_the_whole_proposal(api: Api) -> None:
    # The RFC names srv-01 too: Identity & Sign-in (on srv-01's cluster) reads it.
    _rfc(api, "bookings-db", "srv-01")
    ok(call(api, "POST", BASE, {"edits": STANDBY}), 201)
    full = ok(call(api, "POST", f"{BASE}/edits", {"edits": REPOINT}))["edits"]
    assert [e["index"] for e in full] == list(range(len(full)))
    identity = resolve_ci(api.store, "Identity & Sign-in").id
    token = api.token_for(Role.VIEWER, services=(identity,), name="identity")
    vis = Visibility.for_principal(api.store, Principal("p", Role.VIEWER, services=(identity,)))
    added = {e["ci"]["id"] for e in full if e["op"] == "add_ci"}

    def names(e: dict[str, Any]) -> list[str]:
        if e["op"] == "add_ci":
            return [e["ci"]["id"]]
        return [x for x in (e.get("ci_id"), e.get("source_id"), e.get("target_id")) if x]

    expected = [e["index"] for e in full if all(x in added or vis.allows(x) for x in names(e))]
    # Some edits, not the first ones only: a list numbered from 0 would be wrong.
    assert 0 < len(expected) < len(full) and expected != list(range(len(expected)))
    got = api.client.get(f"{API_PREFIX}{BASE}", headers=token).json()
    assert [e["index"] for e in got["edits"]] == expected
    assert all(e["validity"]["holds"] for e in got["edits"])
    gql = data(api, QUERY, {"change": RFC}, headers=token)["proposal"]
    assert [e["index"] for e in gql["edits"]] == expected
    # The index is what remove-edit takes: the edit at it in the whole proposal.
    shown = {e["index"]: e for e in got["edits"]}
    for i in expected:
        assert {k: v for k, v in shown[i].items() if k not in ("index", "validity")} == {
            k: v for k, v in full[i].items() if k not in ("index", "validity")
        }


def test_a_graphql_mutation_answers_each_edit_with_its_index(api: Api) -> None:
    _rfc(api, "bookings-db")
    create = (
        "mutation($c: ID!, $e: [ProposalEditInput!]) "
        "{ createProposal(change: $c, edits: $e) { edits { index op validity { holds } } } }"
    )
    edits = [
        {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "vm-ix"}},
        {"op": "add_rel", "type": "HOSTED_ON", "sourceId": "vm-ix", "targetId": "srv-01"},
    ]
    made = data(api, create, {"c": RFC, "e": edits})["createProposal"]["edits"]
    # A mutation's answer is not checked against the live graph (the query is).
    assert made == [
        {"index": 0, "op": "add_ci", "validity": None},
        {"index": 1, "op": "add_rel", "validity": None},
    ]
