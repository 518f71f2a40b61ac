"""Changes and incidents in GraphQL on both stores: the saved operations (a CAB's view of a
change; an incident with its priority and SLA clocks), the schedule and collisions at the
root, and a scoped caller's view. Records are made through REST (tests/api/test_*_api.py
cover those routes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cmdb.api.app import API_PREFIX
from cmdb.auth.roles import Role
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_changes_api import BOOKING, NIGHT, rfc
from tests.api.test_graphql import data, error_of, gql
from tests.api.test_graphql_operations import run
from tests.api.test_incidents_api import OPENED, iso

LATER = ("2026-12-01T02:30:00Z", "2026-12-01T03:30:00Z")


def rest(api: Api, path: str, body: Any = None) -> Any:
    r = api.client.post(f"{API_PREFIX}{path}", json=body, headers=api.as_role(Role.CHANGE_MANAGER))
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_a_cab_view_of_a_change(api: Api) -> None:
    rfc(api, "RFC-1", "vm-app-01")
    rfc(api, "RFC-2", "vm-app-03", window=LATER)
    rest(api, "/changes/RFC-1/assess")
    got = run(api, "cab_change", {"id": "RFC-1"}, role=Role.VIEWER)["change"]
    assert (got["state"], got["type"], got["priority"]) == ("ASSESSED", "NORMAL", "NORMAL")
    assert got["allowedNext"] == ["AUTHORISED", "REJECTED"]
    assert [c["name"] for c in got["cis"]] == ["vm-app-01"]
    assert got["risk"]["riskClass"] == "LOW" and got["risk"]["approval"] == "CHANGE_MANAGER"
    live = got["assessment"]
    assert (live["riskClass"], live["rule"]) == ("LOW", "otherwise")
    assert [c["fired"] for c in live["checks"]][-1] and live["checks"][-1]["rule"] == "otherwise"
    assert not any(c["fired"] for c in live["checks"][:-1])
    assert live["facts"]["history"] == {"reviewed": 0, "failed": 0, "rate": None}
    kinds = {c["kind"]: c for c in got["collisions"]["collisions"]}
    assert set(kinds) == {"joint_quorum", "joint_service"}
    assert kinds["joint_quorum"]["subjects"] == ["harbour-app-cluster"]
    assert (kinds["joint_quorum"]["a"], kinds["joint_quorum"]["b"]) == ("RFC-1", "RFC-2")
    assert got["collisions"]["violations"] == []
    assert [e["state"] for e in got["log"]] == ["DRAFT", "ASSESSED"]
    assert got["plannedStart"].startswith(NIGHT[0][:16])


def test_an_incident_with_its_priority_and_sla_clock(api: Api) -> None:
    rest(
        api,
        "/incidents",
        {"id": "INC-1", "title": "srv-01 down", "cis": ["srv-01"], "opened_at": iso(OPENED)},
    )
    at_2am = iso(OPENED + timedelta(hours=3, minutes=10))
    got = run(api, "incident_clock", {"id": "INC-1", "at": at_2am}, role=Role.VIEWER)["incident"]
    assert (got["priority"], got["impact"], got["urgency"], got["major"]) == (
        "P2",
        "HIGH",
        "MEDIUM",
        False,
    )
    assert got["outage"] and got["respondedAt"] is None
    booking = next(c for c in got["clocks"] if c["service"] == BOOKING)
    assert booking["timezone"] == "Europe/London" and booking["priority"] == "P2"
    assert booking["response"]["elapsedMinutes"] == 10
    assert booking["response"]["dueAt"].startswith("2026-11-25T05:20")
    assert booking["response"]["running"] and not booking["response"]["breached"]


def test_the_schedule_and_every_collision_at_the_root(api: Api) -> None:
    rfc(api, "RFC-1", "vm-app-01")
    rfc(api, "RFC-2", "vm-app-03", window=LATER)
    rfc(api, "RFC-3", "srv-03", window=None)
    q = """query($s: DateTime, $e: DateTime, $ci: String) {
      changeSchedule(start: $s, end: $e, ci: $ci) {
        items { id state cis { name } services { name severity } }
      }
      changeCollisions { collisions { a b kind } }
    }"""
    got = data(api, q, {"s": "2026-12-01T00:00:00Z", "e": "2027-01-01T00:00:00Z"}, role=Role.VIEWER)
    assert [r["id"] for r in got["changeSchedule"]["items"]] == ["RFC-1", "RFC-2"]
    assert {(c["a"], c["b"], c["kind"]) for c in got["changeCollisions"]["collisions"]} == {
        ("RFC-1", "RFC-2", "joint_quorum"),
        ("RFC-1", "RFC-2", "joint_service"),
    }
    one = data(
        api,
        q,
        {"s": "2026-12-01T00:00:00Z", "e": "2027-01-01T00:00:00Z", "ci": "vm-app-03"},
    )
    assert [r["id"] for r in one["changeSchedule"]["items"]] == ["RFC-2"]
    assert one["changeSchedule"]["items"][0]["cis"] == [{"name": "vm-app-03"}]


def test_a_scoped_caller_sees_only_its_services_changes_and_incidents(api: Api) -> None:
    rfc(api, "RFC-IN", "vm-app-01")
    rfc(api, "RFC-OUT", "booking-web-1")
    rest(api, "/incidents", {"id": "INC-OUT", "title": "web down", "cis": ["booking-web-1"]})
    scope = resolve_ci(api.store, "Boarding Pass App API").id
    viewer = api.token_for(Role.VIEWER, services=(scope,), name="scoped-viewer")
    got = data(api, "{ changes { id } incidents { id } }", headers=viewer)
    assert got == {"changes": [{"id": "RFC-IN"}], "incidents": []}
    for q in (
        '{ change(id: "RFC-OUT") { id collisions { collisions { a } } } }',
        '{ incident(id: "INC-OUT") { id clocks { service } } }',
    ):
        err = error_of(gql(api, q, headers=viewer))
        assert err["message"] in ("no change 'RFC-OUT'", "no incident 'INC-OUT'"), err
    sched = data(
        api,
        '{ changeSchedule(start: "2026-12-01T00:00:00Z", days: 2) { items { id } } }',
        headers=viewer,
    )
    assert sched["changeSchedule"]["items"] == [{"id": "RFC-IN"}]
    editor = api.token_for(Role.CHANGE_MANAGER, services=(scope,), name="scoped-cm")
    before = api.store.list_changes()
    move = 'mutation { transitionChange(id: "RFC-OUT", to: REJECTED) { state } }'
    assert error_of(gql(api, move, headers=editor))["message"] == "no change 'RFC-OUT'"
    assert api.store.list_changes() == before
    move = 'mutation { transitionChange(id: "RFC-IN", to: REJECTED) { state } }'
    assert data(api, move, headers=editor) == {"transitionChange": {"state": "REJECTED"}}


MUTATE = """
mutation Create($input: ChangeInput!) { createChange(input: $input) { id state requester } }
mutation Assess($id: ID!) { assessChange(id: $id) { state risk { riskClass approval } } }
mutation Move($id: ID!, $to: ChangeState!) { transitionChange(id: $id, to: $to) { state } }
mutation Review($id: ID!) { reviewChange(id: $id, outcome: FAILED) { state outcome } }
mutation Open($id: ID!, $cis: [String!]!, $at: DateTime) {
  openIncident(id: $id, title: "down", cis: $cis, urgency: MEDIUM, openedAt: $at) {
    priority major impact
  }
}
mutation Prio($id: ID!) { prioritiseIncident(id: $id, urgency: HIGH) { priority major } }
mutation Resolve($id: ID!) { resolveIncident(id: $id) { state resolvedAt respondedAt } }
"""


def test_mutations_for_changes_and_incidents(api: Api) -> None:
    cm = Role.CHANGE_MANAGER

    def m(op: str, variables: dict[str, Any], role: Role = cm) -> Any:
        return data(api, MUTATE, variables, op=op, role=role)

    change = {
        "id": "RFC-1",
        "title": "kernel patch",
        "cis": ["vm-app-01"],
        "plannedStart": NIGHT[0],
        "plannedEnd": NIGHT[1],
        "reason": "CVE-2026-0001",
        "backoutPlan": "restore the snapshot",
    }
    # The viewer may not: an error, and nothing written.
    before = (api.store.list_changes(), api.store.list_incidents())
    for op, variables in (
        ("Create", {"input": change}),
        ("Open", {"id": "INC-1", "cis": ["srv-01"]}),
    ):
        err = error_of(gql(api, MUTATE, variables, op=op, role=Role.VIEWER))
        assert "may not" in err["message"], err
    assert (api.store.list_changes(), api.store.list_incidents()) == before

    made = m("Create", {"input": change})["createChange"]
    assert made == {"id": "RFC-1", "state": "DRAFT", "requester": "test-change-manager"}
    err = error_of(gql(api, MUTATE, {"id": "RFC-1", "to": "CLOSED"}, op="Move", role=cm))
    assert "allowed next: assessed, rejected" in err["message"]
    got = m("Assess", {"id": "RFC-1"})["assessChange"]
    assert got == {"state": "ASSESSED", "risk": {"riskClass": "LOW", "approval": "CHANGE_MANAGER"}}
    for to in ("AUTHORISED", "SCHEDULED", "IMPLEMENTED"):
        assert m("Move", {"id": "RFC-1", "to": to})["transitionChange"]["state"] == to
    assert m("Review", {"id": "RFC-1"})["reviewChange"] == {
        "state": "REVIEWED",
        "outcome": "FAILED",
    }
    bad = error_of(gql(api, MUTATE, {"input": {**change, "id": "RFC 2"}}, op="Create", role=cm))
    assert "input.id" in str(bad)

    inc = m("Open", {"id": "INC-1", "cis": ["srv-01"], "at": iso(OPENED)})["openIncident"]
    assert inc == {"priority": "P2", "major": False, "impact": "HIGH"}
    assert m("Prio", {"id": "INC-1"})["prioritiseIncident"] == {"priority": "P1", "major": True}
    done = m("Resolve", {"id": "INC-1"})["resolveIncident"]
    assert done["state"] == "RESOLVED" and done["respondedAt"] == done["resolvedAt"]
