"""``/changes`` on both stores: the RFC through its lifecycle, risk, the schedule,
collisions (the joint quorum break), the suggested window, the review, permissions and
scope. Known answers as in tests/integration/test_practice_stores.py."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import httpx

from cmdb.auth.roles import Role
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.service import Blackout, ServiceCalendar, TimeRange, Weekday
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_graphql import data

BOOKING, APP_API, IDENTITY = "Online Ferry Booking", "Boarding Pass App API", "Identity & Sign-in"
NIGHT = ("2026-12-01T02:00:00Z", "2026-12-01T03:00:00Z")
CM = Role.CHANGE_MANAGER


def url(path: str) -> str:
    return f"{API_PREFIX}/changes{path}"


def cid(api: Api, ref: str) -> str:
    return resolve_ci(api.store, ref).id


def call(
    api: Api, method: str, path: str, body: Any = None, *, role: Role = CM, **kw: Any
) -> httpx.Response:
    return api.client.request(method, url(path), json=body, headers=api.as_role(role), **kw)


def rfc(api: Api, change_id: str, *cis: str, window: Any = NIGHT, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": change_id,
        "title": f"work on {', '.join(cis)}",
        "cis": list(cis),
        "reason": "security patches",
        "backout_plan": "restore the snapshot",
        **kw,
    }
    if window:
        body |= {"planned_start": window[0], "planned_end": window[1]}
    r = call(api, "POST", "", body)
    assert r.status_code == 201, r.text
    got: dict[str, Any] = r.json()
    return got


def ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def test_an_rfc_through_its_lifecycle(api: Api) -> None:
    made = rfc(api, "RFC-1", "vm-app-01", ci_versions={"vm-app-01": "5.15.2"})
    vm = cid(api, "vm-app-01")
    assert made["state"] == "draft" and made["allowed_next"] == ["assessed", "rejected"]
    assert made["ci_ids"] == [vm] and made["ci_versions"] == {vm: "5.15.2"}
    assert made["requester"] == "test-change-manager"
    assert ok(call(api, "GET", "/RFC-1"))["ci_ids"] == [vm]

    # An illegal step names the state and the allowed next ones.
    r = call(api, "POST", "/RFC-1/transition", {"to": "authorised"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert "allowed next: assessed, rejected" in err["message"] and err["where"] == "state"

    got = ok(call(api, "POST", "/RFC-1/assess"))
    assert got["assessment"]["risk_class"] == "low"
    assert got["assessment"]["approval"] == "change_manager"
    assert got["assessment"]["rule"] == "otherwise" and got["assessment"]["checks"]
    assert got["change"]["state"] == "assessed" and got["change"]["risk"]["risk_class"] == "low"

    for to in ("authorised", "scheduled", "implemented"):
        assert ok(call(api, "POST", "/RFC-1/transition", {"to": to, "note": to}))["state"] == to
    r = call(api, "POST", "/RFC-1/transition", {"to": "reviewed"})
    assert r.status_code == 422 and r.json()["error"]["where"] == "to"
    done = ok(call(api, "POST", "/RFC-1/review", {"outcome": "successful", "note": "fine"}))
    assert done["change"]["state"] == "reviewed" and done["change"]["outcome"] == "successful"
    assert done["linked_incidents"] == [] and done["change"]["allowed_next"] == ["closed"]
    log = [(e["state"], e["by"]) for e in ok(call(api, "GET", "/RFC-1"))["log"]]
    assert [s for s, _ in log] == [
        "draft",
        "assessed",
        "authorised",
        "scheduled",
        "implemented",
        "reviewed",
    ]
    assert {b for _, b in log} == {"test-change-manager"}
    # Every step is in history, with the request that made it.
    assert len(api.store.history("RFC-1")) >= 6


def test_amending_and_the_fields_a_client_may_not_set(api: Api) -> None:
    rfc(api, "RFC-1", "srv-01")
    ok(call(api, "POST", "/RFC-1/assess"))
    later = ("2026-12-02T02:00:00Z", "2026-12-02T03:00:00Z")
    got = ok(call(api, "PATCH", "/RFC-1", {"planned_start": later[0], "planned_end": later[1]}))
    assert got["risk"] is None and got["planned_start"].startswith("2026-12-02T02:00")
    assert ok(call(api, "PATCH", "/RFC-1", {"reason": "CVE-2026-0001"}))["reason"] == (
        "CVE-2026-0001"
    )
    for field, value in (("state", "closed"), ("risk", None), ("log", []), ("outcome", "failed")):
        r = call(api, "PATCH", "/RFC-1", {field: value})
        assert r.status_code == 422 and r.json()["error"]["where"].endswith(field), r.text
    r = call(api, "PATCH", "/RFC-1", {})
    assert r.status_code == 422
    # Once authorised, what it changes and when are fixed.
    ok(call(api, "POST", "/RFC-1/assess"))
    ok(call(api, "POST", "/RFC-1/transition", {"to": "authorised"}, role=Role.CAB))  # high risk
    r = call(api, "PATCH", "/RFC-1", {"cis": ["vm-app-01"]})
    assert r.status_code == 422 and "fixed once authorised" in r.json()["error"]["message"]


def test_bad_input_names_the_field(api: Api) -> None:
    r = call(api, "POST", "", {"id": "RFC-1"})
    assert r.status_code == 422 and r.json()["error"]["where"].endswith("title")
    r = call(
        api,
        "POST",
        "",
        {"id": "RFC-1", "title": "x", "planned_start": NIGHT[1], "planned_end": NIGHT[0]},
    )
    assert r.status_code == 422 and "planned_end" in r.json()["error"]["message"]
    r = call(api, "POST", "", {"id": "RFC-1", "title": "x", "type": "urgent"})
    assert r.status_code == 422 and r.json()["error"]["where"].endswith("type")
    r = call(api, "POST", "", {"id": "RFC-1", "title": "x", "cis": ["no-such-ci"]})
    assert r.status_code == 404 and r.json()["error"]["where"] == "cis.0"
    rfc(api, "RFC-1", "vm-app-01")
    r = call(api, "POST", "", {"id": "RFC-1", "title": "again"})
    assert r.status_code == 422 and r.json()["error"]["where"] == "id"
    r = call(api, "POST", "/RFC-1/transition", {"to": "bogus"})
    assert r.status_code == 422 and r.json()["error"]["where"].endswith("to")
    assert call(api, "GET", "/RFC-404").status_code == 404
    r = call(api, "GET", "/schedule", params={"days": 0})
    assert r.status_code == 422 and r.json()["error"]["where"].endswith("days")


def test_the_viewer_reads_but_may_not_write(api: Api) -> None:
    rfc(api, "RFC-1", "vm-app-01")
    before = (api.store.list_changes(), len(list(api.store.iter_history())))
    for method, path, body in (
        ("POST", "", {"id": "RFC-2", "title": "x"}),
        ("PATCH", "/RFC-1", {"reason": "x"}),
        ("POST", "/RFC-1/transition", {"to": "rejected"}),
        ("POST", "/RFC-1/assess", None),
        ("POST", "/RFC-1/review", {"outcome": "failed"}),
    ):
        for role in (Role.VIEWER, Role.DISCOVERY):
            r = call(api, method, path, body, role=role)
            assert r.status_code == 403, (role, method, path, r.text)
    assert (api.store.list_changes(), len(list(api.store.iter_history()))) == before
    assert ok(call(api, "GET", "/RFC-1", role=Role.VIEWER))["state"] == "draft"
    assert [c["id"] for c in ok(call(api, "GET", "", role=Role.VIEWER))["items"]] == ["RFC-1"]


def test_risk_known_answers_and_a_read_only_assessment(api: Api) -> None:
    rfc(api, "RFC-1", "srv-01")
    risk = ok(call(api, "GET", "/RFC-1/risk", role=Role.VIEWER))
    assert (risk["risk_class"], risk["approval"], risk["rule"]) == (
        "high",
        "cab",
        "customer-facing outage",
    )
    assert BOOKING in risk["facts"]["customer_facing_down"]
    assert ok(call(api, "GET", "/RFC-1"))["state"] == "draft"  # nothing recorded
    rfc(api, "RFC-2", "vm-app-01", type="standard")
    got = ok(call(api, "POST", "/RFC-2/assess"))
    assert (got["assessment"]["risk_class"], got["assessment"]["approval"]) == (
        "standard",
        "pre_approved",
    )
    assert got["change"]["state"] == "draft"  # pre-approved: draft -> authorised
    assert got["change"]["allowed_next"] == ["assessed", "authorised", "rejected"]


def test_two_changes_that_each_leave_quorum_break_it_together(api: Api) -> None:
    rfc(api, "RFC-1", "vm-app-01")
    rfc(api, "RFC-2", "vm-app-03", window=("2026-12-01T02:30:00Z", "2026-12-01T03:30:00Z"))
    every = ok(call(api, "GET", "/collisions", role=Role.VIEWER))
    assert {c["kind"] for c in every["collisions"]} == {"joint_quorum", "joint_service"}
    quorum = next(c for c in every["collisions"] if c["kind"] == "joint_quorum")
    assert (quorum["a"], quorum["b"], quorum["subjects"]) == (
        "RFC-1",
        "RFC-2",
        ["harbour-app-cluster"],
    )
    assert quorum["start"].startswith("2026-12-01T02:30") and quorum["end"].startswith(
        "2026-12-01T03:00"
    )
    joint = next(c for c in every["collisions"] if c["kind"] == "joint_service")
    assert set(joint["subjects"]) == {BOOKING, APP_API, IDENTITY}
    assert f"{BOOKING} down (alone: at_risk / at_risk)" in joint["detail"]
    assert ok(call(api, "GET", "/RFC-2/collisions"))["collisions"] == every["collisions"]
    # Moved apart: no clash.
    ok(
        call(
            api,
            "PATCH",
            "/RFC-2",
            {"planned_start": "2026-12-01T03:00:00Z", "planned_end": "2026-12-01T04:00:00Z"},
        )
    )
    assert ok(call(api, "GET", "/collisions"))["collisions"] == []


def set_service_windows(api: Api, name: str, **fields: Any) -> None:
    svc = resolve_ci(api.store, name)
    assert svc.service is not None
    details = svc.service.model_copy(update=fields)
    api.store.apply(
        ChangeSet(
            actor="tester",
            source="manual",
            ci_upserts=[
                {
                    "id": svc.id,
                    "class": "Service",
                    "name": svc.name,
                    "service": details.model_dump(mode="json"),
                }
            ],
        )
    )


def test_blackouts_and_the_suggested_window(api: Api) -> None:
    maint = ServiceCalendar(
        timezone="Europe/London", weekly={Weekday.SUN: [TimeRange(start=time(1), end=time(4))]}
    )
    freeze = Blackout(
        start=datetime(2026, 12, 5, tzinfo=UTC), end=datetime(2026, 12, 7, tzinfo=UTC)
    )
    set_service_windows(api, BOOKING, maintenance_windows=maint, blackouts=[freeze])
    rfc(api, "RFC-9", "bookings-db", window=("2026-12-13T01:00:00Z", "2026-12-13T02:30:00Z"))
    rfc(api, "RFC-1", "srv-01", window=None)
    got = ok(
        call(
            api,
            "GET",
            "/RFC-1/suggest-window",
            role=Role.VIEWER,
            params={"minutes": 60, "start": "2026-12-02T00:00:00Z", "days": 30},
        )
    )
    # Sunday 6th is frozen; Sunday 13th 01:00-02:30 is RFC-9's: 02:30-03:30 fits first.
    assert got["start"].startswith("2026-12-13T02:30") and got["end"].startswith("2026-12-13T03:30")
    assert got["avoided"] == ["RFC-9"] and f"{BOOKING} (down)" in got["services"]
    # A change in the freeze is reported.
    rfc(api, "RFC-2", "srv-01", window=("2026-12-06T02:00:00Z", "2026-12-06T03:00:00Z"))
    viol = ok(call(api, "GET", "/RFC-2/collisions"))["violations"]
    assert ("blackout", BOOKING) in {(v["kind"], v["service"]) for v in viol}
    r = call(api, "GET", "/RFC-1/suggest-window", params={"minutes": 0})
    assert r.status_code == 422 and r.json()["error"]["where"].endswith("minutes")


def test_the_schedule_by_period_service_and_ci(api: Api) -> None:
    rfc(api, "RFC-1", "vm-app-01")
    rfc(api, "RFC-2", "payments-adapter-1", window=("2026-12-04T02:00:00Z", "2026-12-04T03:00:00Z"))
    rfc(api, "RFC-3", "srv-03", window=None)
    december = {"start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}

    def ids(**params: Any) -> list[str]:
        got = ok(call(api, "GET", "/schedule", role=Role.VIEWER, params=params))
        return [r["id"] for r in got["items"]]

    assert ids(**december) == ["RFC-1", "RFC-2"]
    assert ids(start=december["start"], days=1) == ["RFC-1"]
    assert ids(**december, service="Card Payments") == ["RFC-2"]
    rows = ok(call(api, "GET", "/schedule", params={**december, "ci": "harbour-app-cluster"}))
    assert [r["id"] for r in rows["items"]] == ["RFC-1"]
    assert rows["items"][0]["cis"] == [{"id": cid(api, "vm-app-01"), "name": "vm-app-01"}]
    hit = {s["name"]: s["severity"] for s in rows["items"][0]["services"]}
    assert hit == {} or set(hit.values()) <= {"at_risk", "degraded", "down"}
    listed = ok(call(api, "GET", "", params={"ci": "srv-03"}))["items"]
    assert [c["id"] for c in listed] == ["RFC-3"]
    assert [c["id"] for c in ok(call(api, "GET", "", params={"state": "draft"}))["items"]] == [
        "RFC-1",
        "RFC-2",
        "RFC-3",
    ]


def test_the_review_links_incidents_opened_after_the_change(api: Api) -> None:
    rfc(api, "RFC-1", "vm-app-01", type="emergency", window=None)
    # Implemented before anyone authorised it: the emergency CAB's decision.
    moved = ok(call(api, "POST", "/RFC-1/transition", {"to": "implemented"}, role=Role.CAB))
    assert moved["review_required"] is True
    r = api.client.post(
        f"{API_PREFIX}/incidents",
        json={"id": "INC-1", "title": "vm-app-01 slow", "cis": ["vm-app-01"]},
        headers=api.as_role(CM),
    )
    assert r.status_code == 201, r.text
    # Documented after the fact: the review needs the window.
    r = call(api, "POST", "/RFC-1/review", {"outcome": "failed"})
    assert r.status_code == 422 and "planned window" in r.json()["error"]["message"]
    ok(call(api, "PATCH", "/RFC-1", {"planned_start": NIGHT[0], "planned_end": NIGHT[1]}))
    done = ok(call(api, "POST", "/RFC-1/review", {"outcome": "failed"}))
    assert done["linked_incidents"] == ["INC-1"]
    assert done["change"]["incident_ids"] == ["INC-1"] and not done["change"]["review_required"]
    inc = api.client.get(f"{API_PREFIX}/incidents/INC-1", headers=api.as_role(Role.VIEWER))
    assert inc.json()["change_ids"] == ["RFC-1"]


def test_a_scoped_token_sees_and_writes_only_inside_its_services(api: Api) -> None:
    scope = cid(api, APP_API)
    rfc(api, "RFC-IN", "vm-app-01")
    rfc(api, "RFC-OUT", "booking-web-1")
    viewer = api.token_for(Role.VIEWER, services=(scope,), name="scoped-viewer")
    editor = api.token_for(Role.CHANGE_MANAGER, services=(scope,), name="scoped-cm")

    def get(path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return api.client.get(url(path), headers=headers, **kw)

    assert [c["id"] for c in get("", viewer).json()["items"]] == ["RFC-IN"]
    assert get("/RFC-IN", viewer).status_code == 200
    for path in ("/RFC-OUT", "/RFC-OUT/collisions", "/RFC-OUT/risk", "/RFC-OUT/suggest-window"):
        r = get(path, viewer)
        assert r.status_code == 404, (path, r.text)
    assert get("", viewer, params={"ci": "booking-web-1"}).status_code == 404
    before = api.store.list_changes()
    r = api.client.post(
        url(""), json={"id": "RFC-X", "title": "x", "cis": ["booking-web-1"]}, headers=editor
    )
    assert r.status_code == 404
    r = api.client.post(url("/RFC-OUT/transition"), json={"to": "rejected"}, headers=editor)
    assert r.status_code == 404
    assert api.store.list_changes() == before
    r = api.client.post(url("/RFC-IN/transition"), json={"to": "rejected"}, headers=editor)
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    rows = get("/schedule", viewer, params={"start": "2026-12-01T00:00:00Z", "days": 2})
    assert [r["id"] for r in rows.json()["items"]] == []  # rejected: off the schedule


def test_a_scoped_token_sees_only_the_linked_incidents_it_reads(api: Api) -> None:
    """A change's linked incidents are trimmed like an incident's linked changes: a scoped
    token is not shown the id of an incident it cannot read (REST and GraphQL)."""
    rfc(api, "RFC-MIX", "vm-app-01", "booking-web-1", type="emergency", window=None)
    ok(call(api, "POST", "/RFC-MIX/transition", {"to": "implemented"}, role=Role.CAB))
    for inc_id, ci in (("INC-IN", "vm-app-01"), ("INC-OUT", "booking-web-1")):
        r = api.client.post(
            f"{API_PREFIX}/incidents",
            json={"id": inc_id, "title": f"{ci} slow", "cis": [ci]},
            headers=api.as_role(CM),
        )
        assert r.status_code == 201, r.text
    ok(call(api, "PATCH", "/RFC-MIX", {"planned_start": NIGHT[0], "planned_end": NIGHT[1]}))
    done = ok(call(api, "POST", "/RFC-MIX/review", {"outcome": "failed"}))
    assert sorted(done["change"]["incident_ids"]) == ["INC-IN", "INC-OUT"]

    viewer = api.token_for(Role.VIEWER, services=(cid(api, APP_API),), name="scoped-viewer")
    incidents = api.client.get(f"{API_PREFIX}/incidents", headers=viewer).json()["items"]
    assert [i["id"] for i in incidents] == ["INC-IN"]  # INC-OUT is outside its view
    one = api.client.get(url("/RFC-MIX"), headers=viewer).json()
    assert one["incident_ids"] == ["INC-IN"] and one["ci_ids"] == [cid(api, "vm-app-01")]
    listed = api.client.get(url(""), headers=viewer).json()["items"]
    assert [c["incident_ids"] for c in listed] == [["INC-IN"]]
    q = '{ change(id: "RFC-MIX") { incidentIds } changes { incidentIds } }'
    assert data(api, q, headers=viewer) == {
        "change": {"incidentIds": ["INC-IN"]},
        "changes": [{"incidentIds": ["INC-IN"]}],
    }
    # Unscoped callers see both.
    assert sorted(ok(call(api, "GET", "/RFC-MIX", role=Role.VIEWER))["incident_ids"]) == [
        "INC-IN",
        "INC-OUT",
    ]
    every = data(api, q, role=Role.VIEWER)["change"]["incidentIds"]
    assert sorted(every) == ["INC-IN", "INC-OUT"]


def test_a_scoped_token_gets_the_risk_without_what_lies_beyond(api: Api) -> None:
    """srv-01 at night takes the customer-facing Online Ferry Booking down: a token scoped to
    Identity & Sign-in (which srv-01 also serves) reads the change and its risk class, not
    the names and ids of the services and customers outside its view."""
    rfc(api, "RFC-1", "srv-01")
    assessed = ok(call(api, "POST", "/RFC-1/assess"))["change"]
    booking = cid(api, BOOKING)
    assert booking in assessed["risk"]["service_ids"] and assessed["risk"]["why"]
    scoped = api.token_for(
        Role.VIEWER, services=(cid(api, "Identity & Sign-in"),), name="scoped-risk"
    )
    rfc(api, "RFC-SECRET", "notifier-1")  # outside Identity & Sign-in
    ok(call(api, "PATCH", "/RFC-1", {"related_changes": ["RFC-SECRET"]}))
    assert api.client.get(url("/RFC-SECRET"), headers=scoped).status_code == 404
    mine = api.client.get(url("/RFC-1"), headers=scoped).json()
    assert mine["related_changes"] == [] and all(e["note"] == "" for e in mine["log"])
    assert any(e["note"] for e in ok(call(api, "GET", "/RFC-1"))["log"])  # the assessment's
    assert mine["risk"]["risk_class"] == assessed["risk"]["risk_class"]
    assert mine["risk"]["why"] == "" and booking not in mine["risk"]["service_ids"]
    live = api.client.get(url("/RFC-1/risk"), headers=scoped).json()
    assert live["risk_class"] == assessed["risk"]["risk_class"] and live["why"] == ""
    assert BOOKING not in str(live) and booking not in str(live)
    # The changes report counts the services the assessment found, not only those named.
    report = api.client.get(f"{API_PREFIX}/reports/changes", headers=api.as_role(Role.VIEWER))
    assert booking in {c["key"] for c in report.json()["by_service"]}


def test_a_scoped_review_links_only_incidents_the_token_reads(api: Api) -> None:
    """srv-03 hosts vm-int-01, which runs notifier-1 and payments-adapter-1: a change on it
    takes Passenger Notifications down, and the booking services with it. A CAB token
    scoped to Passenger Notifications reviews it: the incidents it reads (on that service,
    on notifier-1) are linked; the one on payments-adapter-1, outside its view, is not
    written."""
    rfc(api, "RFC-1", "srv-03", type="emergency")
    ok(call(api, "POST", "/RFC-1/transition", {"to": "implemented"}, role=Role.CAB))
    for iid, ci in (
        ("INC-S", "Passenger Notifications"),
        ("INC-N", "notifier-1"),
        ("INC-P", "payments-adapter-1"),
    ):
        r = api.client.post(
            f"{API_PREFIX}/incidents",
            json={"id": iid, "title": f"{ci} down", "cis": [ci]},
            headers=api.as_role(CM),
        )
        assert r.status_code == 201, r.text
    scoped = api.token_for(
        Role.CAB, services=(cid(api, "Passenger Notifications"),), name="scoped-cab"
    )
    r = api.client.post(url("/RFC-1/review"), json={"outcome": "failed"}, headers=scoped)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["linked_incidents"]) == ["INC-N", "INC-S"]
    assert api.store.get_incident("INC-S").change_ids == ["RFC-1"]
    assert api.store.get_incident("INC-N").change_ids == ["RFC-1"]
    assert api.store.get_incident("INC-P").change_ids == []
    assert api.store.get_change("RFC-1").incident_ids == ["INC-N", "INC-S"]
