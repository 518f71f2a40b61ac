"""Approval levels by role (issue 7), through REST and GraphQL with real tokens: deciding a
change (authorising it, or rejecting it once assessed) needs a token whose role holds a
change authority at least the approval the change needs; a junior one gets 403 (GraphQL:
FORBIDDEN) naming the levels and the RFC, and nothing is written. The risk classes come
from the default policy over the sample estate (as in tests/api/test_changes_api.py):
vm-app-01 at night is low (change manager), srv-01 at night high (CAB), srv-01 at noon
very high (customer-facing outage in service hours: the board)."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.auth.roles import Role
from cmdb.domain.changeset import ChangeSet
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_changes_api import call, ok, rfc
from tests.api.test_graphql import data, error_of, gql

CM, CAB, BOARD = Role.CHANGE_MANAGER, Role.CAB, Role.CHANGE_BOARD
NOON = ("2026-12-01T12:00:00Z", "2026-12-01T12:30:00Z")
LOG = "query Log($id: ID!) { change(id: $id) { log { state authority } } }"
MOVE = "mutation Move($id: ID!, $to: ChangeState!) { transitionChange(id: $id, to: $to) { state } }"


def assessed(api: Api, change_id: str, *cis: str, approval: str, **kw: Any) -> None:
    """An RFC made and assessed by the change manager, needing ``approval``."""
    rfc(api, change_id, *cis, **kw)
    got = ok(call(api, "POST", f"/{change_id}/assess"))
    assert got["assessment"]["approval"] == approval, got["assessment"]


def move(api: Api, change_id: str, to: str, role: Role) -> Any:
    return call(api, "POST", f"/{change_id}/transition", {"to": to, "note": role.value}, role=role)


def refused(api: Api, change_id: str, to: str, role: Role, needed: str) -> None:
    """403 naming the RFC, the level needed and the caller's; nothing written."""
    before = (api.store.get_change(change_id), len(api.store.history(change_id)))
    r = move(api, change_id, to, role)
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["type"] == "forbidden" and err["where"] == "to"
    held = {CM: "change_manager", CAB: "cab"}[role]
    assert err["message"].startswith(f"{change_id} needs {needed} approval (")
    assert err["message"].endswith(f"the caller's change authority is {held}")
    assert (api.store.get_change(change_id), len(api.store.history(change_id))) == before


def decided_by(api: Api, change_id: str) -> tuple[str, str, str | None]:
    last = ok(call(api, "GET", f"/{change_id}", role=Role.VIEWER))["log"][-1]
    return last["state"], last["by"], last["authority"]


@pytest.mark.slow
def test_each_role_decides_what_its_authority_covers(api: Api) -> None:
    """On both stores: the log entry's authority is stored with the change."""
    assessed(api, "RFC-LOW", "vm-app-01", approval="change_manager")
    assert ok(move(api, "RFC-LOW", "authorised", CM))["state"] == "authorised"
    assert decided_by(api, "RFC-LOW") == ("authorised", "test-change-manager", "change_manager")

    assessed(api, "RFC-HIGH", "srv-01", approval="cab")
    refused(api, "RFC-HIGH", "authorised", CM, "cab")
    refused(api, "RFC-HIGH", "rejected", CM, "cab")  # rejecting is deciding too
    assert ok(move(api, "RFC-HIGH", "authorised", CAB))["state"] == "authorised"
    assert decided_by(api, "RFC-HIGH") == ("authorised", "test-cab", "cab")
    # What follows the decision is anyone's with the edit permission, and decides nothing.
    ok(move(api, "RFC-HIGH", "scheduled", CM))
    assert decided_by(api, "RFC-HIGH") == ("scheduled", "test-change-manager", None)

    assessed(api, "RFC-VH", "srv-01", window=NOON, approval="board")
    refused(api, "RFC-VH", "authorised", CAB, "board")
    refused(api, "RFC-VH", "authorised", CM, "board")
    assert ok(move(api, "RFC-VH", "rejected", BOARD))["state"] == "rejected"
    assert decided_by(api, "RFC-VH") == ("rejected", "test-change-board", "board")


def test_a_change_on_many_sites_needs_the_board(api_embedded: Api) -> None:
    api = api_embedded
    vm = resolve_ci(api.store, "vm-app-03")
    moved = {"id": vm.id, "class": vm.ci_class, "name": vm.name, "location": "Skerry Terminal"}
    api.store.apply(ChangeSet(actor="t", source="manual", ci_upserts=[moved]))
    assessed(api, "RFC-SITES", "vm-app-01", "vm-app-03", approval="board")
    refused(api, "RFC-SITES", "authorised", CAB, "board")
    ok(move(api, "RFC-SITES", "authorised", Role.ADMIN))  # the admin holds the board's
    assert decided_by(api, "RFC-SITES")[2] == "board"


def test_an_emergency_change_needs_the_emergency_cab(api_embedded: Api) -> None:
    api = api_embedded
    rfc(api, "RFC-E", "vm-app-01", type="emergency", window=None)
    refused(api, "RFC-E", "authorised", CM, "cab")
    assert "emergency CAB" in move(api, "RFC-E", "authorised", CM).json()["error"]["message"]
    ok(move(api, "RFC-E", "authorised", CAB))
    assert decided_by(api, "RFC-E") == ("authorised", "test-cab", "cab")


def test_a_standard_change_is_pre_approved_only_within_the_ceiling(api: Api) -> None:
    """Authorised straight from draft, unassessed: assessed in the same write, so its
    pre-approval holds only while a normal change would be low risk (the policy's
    standard_ceiling). srv-01 at night is a customer-facing outage: high, the CAB's."""
    rfc(api, "RFC-S", "vm-app-01", type="standard")
    ok(move(api, "RFC-S", "authorised", CM))
    assert decided_by(api, "RFC-S") == ("authorised", "test-change-manager", "change_manager")
    risk = api.store.get_change("RFC-S").risk
    assert risk is not None and risk.approval.value == "pre_approved"  # recorded with it

    rfc(api, "RFC-BIG", "srv-01", type="standard")
    refused(api, "RFC-BIG", "authorised", CM, "cab")
    message = move(api, "RFC-BIG", "authorised", CM).json()["error"]["message"]
    assert "(high risk: customer-facing outage)" in message
    assert api.store.get_change("RFC-BIG").risk is None  # the refusal wrote nothing
    assert ok(move(api, "RFC-BIG", "authorised", CAB))["risk"]["approval"] == "cab"
    assert decided_by(api, "RFC-BIG") == ("authorised", "test-cab", "cab")


def test_withdrawing_a_draft_decides_nothing(api_embedded: Api) -> None:
    api = api_embedded
    rfc(api, "RFC-D", "srv-01")
    ok(move(api, "RFC-D", "rejected", CM))
    assert decided_by(api, "RFC-D") == ("rejected", "test-change-manager", None)


def test_roles_without_the_edit_permission_still_get_403(api_embedded: Api) -> None:
    api = api_embedded
    assessed(api, "RFC-LOW", "vm-app-01", approval="change_manager")
    for role in (Role.VIEWER, Role.DISCOVERY):
        r = move(api, "RFC-LOW", "authorised", role)
        assert r.status_code == 403 and "may not edit" in r.json()["error"]["message"]
    assert api.store.get_change("RFC-LOW").state.value == "assessed"


@pytest.mark.parametrize(
    ("role", "authority"),
    [(Role.VIEWER, None), (CM, "change_manager"), (CAB, "cab"), (BOARD, "board")],
)
def test_whoami_shows_the_authority(api_embedded: Api, role: Role, authority: str | None) -> None:
    r = api_embedded.client.get(f"{API_PREFIX}/auth/whoami", headers=api_embedded.as_role(role))
    assert r.status_code == 200 and r.json()["authority"] == authority


def test_an_admin_creates_tokens_of_the_new_roles(api_embedded: Api) -> None:
    admin = api_embedded.as_role(Role.ADMIN)
    for role in ("cab", "change-board"):
        r = api_embedded.client.post(
            f"{API_PREFIX}/tokens", json={"name": f"chair-{role}", "role": role}, headers=admin
        )
        assert r.status_code == 201 and r.json()["info"]["role"] == role, r.text


# -- GraphQL ---------------------------------------------------------------------------------


def test_graphql_applies_the_same_levels(api_embedded: Api) -> None:
    api = api_embedded
    assessed(api, "RFC-HIGH", "srv-01", approval="cab")
    before = (api.store.get_change("RFC-HIGH"), len(api.store.history("RFC-HIGH")))
    for to in ("AUTHORISED", "REJECTED"):
        err = error_of(gql(api, MOVE, {"id": "RFC-HIGH", "to": to}, role=CM))
        assert err["extensions"]["code"] == "FORBIDDEN", err
        assert "RFC-HIGH needs cab approval" in err["message"]
        assert "authority is change_manager" in err["message"]
    assert (api.store.get_change("RFC-HIGH"), len(api.store.history("RFC-HIGH"))) == before

    got = data(api, MOVE, {"id": "RFC-HIGH", "to": "AUTHORISED"}, role=CAB)
    assert got == {"transitionChange": {"state": "AUTHORISED"}}
    assert decided_by(api, "RFC-HIGH") == ("authorised", "test-cab", "cab")
    # The log shows at which authority it was decided (steps that decide nothing: null).
    log = data(api, LOG, {"id": "RFC-HIGH"}, role=Role.VIEWER)["change"]["log"]
    assert [(e["state"], e["authority"]) for e in log][-2:] == [
        ("ASSESSED", None),
        ("AUTHORISED", "CAB"),
    ]
    me = data(api, "{ me { authority } }", role=CAB)
    assert me == {"me": {"authority": "CAB"}}

    assessed(api, "RFC-VH", "srv-01", window=NOON, approval="board")
    err = error_of(gql(api, MOVE, {"id": "RFC-VH", "to": "AUTHORISED"}, role=CAB))
    assert err["extensions"]["code"] == "FORBIDDEN" and "needs board approval" in err["message"]
    got = data(api, MOVE, {"id": "RFC-VH", "to": "AUTHORISED"}, role=BOARD)
    assert got == {"transitionChange": {"state": "AUTHORISED"}}

    # A standard change is assessed on the way, as through REST.
    rfc(api, "RFC-S", "srv-01", type="standard")
    err = error_of(gql(api, MOVE, {"id": "RFC-S", "to": "AUTHORISED"}, role=CM))
    assert err["extensions"]["code"] == "FORBIDDEN" and "RFC-S needs cab approval" in err["message"]
    got = data(api, MOVE, {"id": "RFC-S", "to": "AUTHORISED"}, role=CAB)
    assert got == {"transitionChange": {"state": "AUTHORISED"}}
