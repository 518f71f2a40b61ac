"""Changes and incidents in GraphQL on both stores: the saved operations (a CAB's view of a
change; an incident with its priority and SLA clocks), the schedule and collisions at the
root, and a scoped caller's view. Records are made through REST (tests/api/test_*_api.py
cover those routes)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from cmdb.auth.roles import Role
from cmdb.domain.service import Blackout, ServiceCalendar, TimeRange, Weekday
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_changes_api import (
    APP_API,
    BOOKING,
    NIGHT,
    call,
    cid,
    ok,
    rfc,
    set_service_windows,
)
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


UPDATE = """mutation Update($id: ID!, $input: ChangeUpdateInput!) {
  updateChange(id: $id, input: $input) {
    state reviewRequired cis { name } serviceIds ciVersions { ciId version }
    reason plannedStart
  }
}
mutation Review($id: ID!) { reviewChange(id: $id, outcome: SUCCESSFUL) { state reviewRequired } }
"""


def test_an_emergency_change_documented_after_the_fact_through_graphql(api: Api) -> None:
    """updateChange: REST's PATCH (its fields, lists replacing, its scope and permission),
    so an emergency change implemented undocumented can be documented, then reviewed."""
    cm = Role.CHANGE_MANAGER
    rfc(api, "RFC-E", type="emergency", window=None, reason="", backout_plan="")
    ok(call(api, "POST", "/RFC-E/transition", {"to": "implemented"}, role=Role.CAB))
    err = error_of(gql(api, UPDATE, {"id": "RFC-E"}, op="Review", role=cm))
    assert "before it is documented" in err["message"]

    doc = {
        "cis": ["vm-app-01", "vm-app-03"],
        "ciVersions": [{"ci": "vm-app-03", "version": "5.15.2"}],
        "services": [APP_API],
        "plannedStart": NIGHT[0],
        "plannedEnd": NIGHT[1],
        "reason": "CVE-2026-0001",
        "backoutPlan": "restore the snapshot",
    }
    before = api.store.get_change("RFC-E")
    for role in (Role.VIEWER, Role.DISCOVERY):
        err = error_of(gql(api, UPDATE, {"id": "RFC-E", "input": doc}, op="Update", role=role))
        assert "may not" in err["message"], err
    err = error_of(gql(api, UPDATE, {"id": "RFC-E", "input": {}}, op="Update", role=cm))
    assert err["extensions"]["where"] == "input" and "nothing to change" in err["message"]
    assert api.store.get_change("RFC-E") == before

    got = data(api, UPDATE, {"id": "RFC-E", "input": doc}, op="Update", role=cm)["updateChange"]
    assert [c["name"] for c in got["cis"]] == ["vm-app-01", "vm-app-03"]
    assert got["ciVersions"] == [{"ciId": cid(api, "vm-app-03"), "version": "5.15.2"}]
    assert got["serviceIds"] == [cid(api, APP_API)] and got["reason"] == "CVE-2026-0001"
    assert got["plannedStart"].startswith(NIGHT[0][:16]) and got["reviewRequired"]
    # The lists given replace the stored ones, as in REST (a version only for a CI kept).
    bad = {"id": "RFC-E", "input": {"cis": ["vm-app-01"]}}
    err = error_of(gql(api, UPDATE, bad, op="Update", role=cm))
    assert err["extensions"]["code"] == "INVALID_INPUT" and "ci_versions" in err["message"]
    fewer = {"cis": ["vm-app-01"], "ciVersions": [], "services": []}
    got = data(api, UPDATE, {"id": "RFC-E", "input": fewer}, op="Update", role=cm)
    assert got["updateChange"]["cis"] == [{"name": "vm-app-01"}]
    assert (got["updateChange"]["ciVersions"], got["updateChange"]["serviceIds"]) == ([], [])
    rest_view = ok(call(api, "GET", "/RFC-E"))
    assert (rest_view["ci_ids"], rest_view["ci_versions"]) == ([cid(api, "vm-app-01")], {})
    assert rest_view["reason"] == "CVE-2026-0001"  # what was not given is kept

    reviewed = data(api, UPDATE, {"id": "RFC-E"}, op="Review", role=cm)["reviewChange"]
    assert reviewed == {"state": "REVIEWED", "reviewRequired": False}
    amended = [h for h in api.store.history("RFC-E") if h.field == "ci_versions"][-1]
    assert amended.actor == "test-change-manager" and amended.request_id  # in history


def test_update_change_keeps_a_scoped_caller_inside_its_view(api: Api) -> None:
    rfc(api, "RFC-IN", "vm-app-01")
    rfc(api, "RFC-OUT", "booking-web-1")
    editor = api.token_for(Role.CHANGE_MANAGER, services=(cid(api, APP_API),), name="scoped-cm")
    before = api.store.list_changes()
    err = error_of(
        gql(api, UPDATE, {"id": "RFC-OUT", "input": {"reason": "x"}}, op="Update", headers=editor)
    )
    assert err["message"] == "no change 'RFC-OUT'"
    outside = {"id": "RFC-IN", "input": {"cis": ["vm-app-01", "booking-web-1"]}}
    err = error_of(gql(api, UPDATE, outside, op="Update", headers=editor))
    assert err["extensions"]["code"] == "NOT_FOUND" and err["extensions"]["where"] == "cis.1"
    assert api.store.list_changes() == before
    got = data(api, UPDATE, {"id": "RFC-IN", "input": {"reason": "y"}}, op="Update", headers=editor)
    assert got["updateChange"]["reason"] == "y"


def test_a_change_shows_its_declared_versions_within_the_callers_scope(api: Api) -> None:
    versions = {"vm-app-01": "5.15.2", "booking-web-1": "2.0"}
    rfc(api, "RFC-MIX", "vm-app-01", "booking-web-1", ci_versions=versions)
    q = '{ change(id: "RFC-MIX") { ciVersions { ciId version } } }'
    every = data(api, q, role=Role.VIEWER)["change"]["ciVersions"]
    assert sorted((v["ciId"], v["version"]) for v in every) == sorted(
        (cid(api, ref), v) for ref, v in versions.items()
    )
    viewer = api.token_for(Role.VIEWER, services=(cid(api, APP_API),), name="scoped-viewer")
    mine = [{"ciId": cid(api, "vm-app-01"), "version": "5.15.2"}]
    assert data(api, q, headers=viewer) == {"change": {"ciVersions": mine}}
    listed = data(api, "{ changes { ciVersions { ciId version } } }", headers=viewer)
    assert listed == {"changes": [{"ciVersions": mine}]}
    on_ci = data(
        api, '{ ci(ref: "vm-app-01") { changes { ciVersions { ciId } } } }', headers=viewer
    )
    assert on_ci["ci"]["changes"] == [{"ciVersions": [{"ciId": mine[0]["ciId"]}]}]
    assert cid(api, "booking-web-1") not in str(gql(api, q, headers=viewer))
    # createChange declares them as REST's POST does.
    made = data(
        api,
        "mutation($i: ChangeInput!) { createChange(input: $i) { ciIds ciVersions { version } } }",
        {"i": {"id": "RFC-V", "title": "v", "ciVersions": [{"ci": "vm-app-03", "version": "6"}]}},
        role=Role.CHANGE_MANAGER,
    )["createChange"]
    assert made == {"ciIds": [cid(api, "vm-app-03")], "ciVersions": [{"version": "6"}]}


SUGGEST = """query($id: ID!, $minutes: Int!, $start: DateTime, $days: Int) {
  suggestChangeWindow(id: $id, minutes: $minutes, start: $start, days: $days) {
    changeId start end durationMinutes searchedFrom searchedTo services avoided
  }
}"""


def test_the_suggested_window_as_rest_answers_it(api: Api) -> None:
    maint = ServiceCalendar(
        timezone="Europe/London", weekly={Weekday.SUN: [TimeRange(start=time(1), end=time(4))]}
    )
    freeze = Blackout(
        start=datetime(2026, 12, 5, tzinfo=UTC), end=datetime(2026, 12, 7, tzinfo=UTC)
    )
    set_service_windows(api, BOOKING, maintenance_windows=maint, blackouts=[freeze])
    rfc(api, "RFC-9", "bookings-db", window=("2026-12-13T01:00:00Z", "2026-12-13T02:30:00Z"))
    rfc(api, "RFC-1", "srv-01", window=None)
    asked = {"minutes": 60, "start": "2026-12-02T00:00:00", "days": 30}  # no zone: UTC
    got = data(api, SUGGEST, {"id": "RFC-1", **asked}, role=Role.VIEWER)["suggestChangeWindow"]
    assert got["start"].startswith("2026-12-13T02:30") and got["end"].startswith("2026-12-13T03:30")
    assert got["avoided"] == ["RFC-9"] and f"{BOOKING} (down)" in got["services"]
    rest_answer = ok(call(api, "GET", "/RFC-1/suggest-window", role=Role.VIEWER, params=asked))
    assert got == {
        "changeId": rest_answer["change_id"],
        "start": rest_answer["start"].replace("Z", "+00:00"),
        "end": rest_answer["end"].replace("Z", "+00:00"),
        "durationMinutes": rest_answer["duration_minutes"],
        "searchedFrom": rest_answer["searched_from"].replace("Z", "+00:00"),
        "searchedTo": rest_answer["searched_to"].replace("Z", "+00:00"),
        "services": rest_answer["services"],
        "avoided": rest_answer["avoided"],
    }
    for bad, where in (({"minutes": 0}, "minutes"), ({"minutes": 60, "days": 0}, "days")):
        err = error_of(gql(api, SUGGEST, {"id": "RFC-1", **bad}))
        assert (err["extensions"]["code"], err["extensions"]["where"]) == ("INVALID_INPUT", where)
    rfc(api, "RFC-OUT", "booking-web-1", window=None)
    viewer = api.token_for(Role.VIEWER, services=(cid(api, APP_API),), name="scoped-viewer")
    err = error_of(gql(api, SUGGEST, {"id": "RFC-OUT", "minutes": 60}, headers=viewer))
    assert err["message"] == "no change 'RFC-OUT'"


def test_incident_lists_by_ci_and_open_equal_the_stores(api: Api) -> None:
    """A CI's incidents (open ones or all) and the root's incidents(ci:, openOnly:) are read
    through the store's links and state, and give what the store lists, in view."""
    rest(api, "/incidents", {"id": "INC-A", "title": "app down", "cis": ["vm-app-01"]})
    rest(api, "/incidents", {"id": "INC-B", "title": "web down", "cis": ["booking-web-1"]})
    rest(api, "/incidents", {"id": "INC-C", "title": "app slow", "cis": ["vm-app-01"]})
    rest(api, "/incidents/INC-C/resolve", {})
    vm = resolve_ci(api.store, "vm-app-01").id
    query = """{ ci(ref: "vm-app-01") {
        all: incidents { id } open: incidents(openOnly: true) { id } }
      byCi: incidents(ci: "vm-app-01") { id }
      openByCi: incidents(ci: "vm-app-01", openOnly: true) { id }
      open: incidents(openOnly: true) { id }
      every: incidents { id } }"""

    def ids(found: list[Any]) -> list[dict[str, str]]:
        return [{"id": i.id} for i in found]

    got = data(api, query)
    assert got["ci"]["all"] == got["byCi"] == ids(api.store.list_incidents(ci_id=vm))
    assert got["ci"]["open"] == got["openByCi"] == [{"id": "INC-A"}]
    assert got["open"] == ids(api.store.list_incidents(open_only=True))
    assert got["every"] == ids(api.store.list_incidents())
    assert {"id": "INC-B"} in got["open"] and {"id": "INC-C"} not in got["open"]
    # A reader scoped to the app's service sees the app's incidents, not the web's.
    scope = resolve_ci(api.store, "Boarding Pass App API").id
    viewer = api.token_for(Role.VIEWER, services=(scope,), name="scoped-incidents")
    mine = data(api, query, headers=viewer)
    assert mine["ci"]["open"] == mine["openByCi"] == [{"id": "INC-A"}]
    assert {"id": "INC-B"} not in mine["open"] and {"id": "INC-B"} not in mine["every"]
