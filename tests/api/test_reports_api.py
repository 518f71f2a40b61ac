"""``/api/v1/reports/...`` on both stores with the sample estate: JSON and CSV, the
Reader permission, and a service-scoped token's reports counting its scope only: the CIs
inside it, and the changes and incidents it reads in ``/changes`` and ``/incidents``."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from cmdb.auth.roles import Role
from cmdb.practice.problems import log_problem
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_changes_api import APP_API, BOOKING, NIGHT, call, rfc
from tests.api.test_graphql import data

R = f"{API_PREFIX}/reports"
REPORTS = ("changes", "incidents", "problems", "cis", "health", "cab-agenda")


def test_every_report_answers_json_and_csv(api: Api) -> None:
    viewer = api.as_role(Role.VIEWER)
    for name in REPORTS:
        r = api.client.get(f"{R}/{name}", headers=viewer)
        assert r.status_code == 200, (name, r.text)
        assert r.headers["content-type"].startswith("application/json")
        as_csv = api.client.get(f"{R}/{name}", params={"format": "csv"}, headers=viewer)
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        header = next(csv.reader(io.StringIO(as_csv.text)))
        assert header[0] == "section"
        accepted = api.client.get(f"{R}/{name}", headers={**viewer, "Accept": "text/csv"})
        assert accepted.text == as_csv.text or name == "cab-agenda"  # the agenda is made "now"
    cis = api.client.get(f"{R}/cis", headers=viewer).json()
    assert cis["total"] == 47
    health = api.client.get(f"{R}/health", headers=viewer).json()
    assert health["incomplete_total"] == 2 and health["orphans_total"] == 0


def test_operation_ids_and_bad_input(api: Api) -> None:
    spec = api.client.get(f"{API_PREFIX}/openapi.json").json()["paths"]
    ids = {spec[f"{R}/{n}"]["get"]["operationId"] for n in REPORTS}
    assert ids == {
        "reportChanges",
        "reportIncidents",
        "reportProblems",
        "reportCis",
        "reportHealth",
        "reportCabAgenda",
    }
    admin = api.as_role(Role.ADMIN)
    bad = api.client.get(
        f"{R}/changes",
        params={"from": "2026-12-02T00:00Z", "to": "2026-12-01T00:00Z"},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["error"]["where"] == "to"
    assert api.client.get(f"{R}/cis", params={"top": 0}, headers=admin).status_code == 422
    assert api.client.get(f"{R}/cis").status_code == 401


def test_a_scoped_token_reports_on_its_scope(api: Api) -> None:
    service = resolve_ci(api.store, "Boarding Pass App API").id
    scoped = api.token_for(Role.VIEWER, services=(service,), name="scoped")
    full = api.client.get(f"{R}/cis", headers=api.as_role(Role.VIEWER)).json()
    mine = api.client.get(f"{R}/cis", headers=scoped).json()
    assert 2 < mine["total"] < full["total"]
    health = api.client.get(f"{R}/health", headers=scoped).json()
    assert health["total"] == mine["total"]
    booking = resolve_ci(api.store, "Online Ferry Booking").id
    assert (
        booking not in api.client.get(f"{R}/health", params={"format": "csv"}, headers=scoped).text
    )


def test_a_scoped_token_counts_what_it_reads_in_changes_and_incidents(api: Api) -> None:
    """The reports read changes and incidents by the routers' rule: a record naming one CI
    in view and one outside counts, showing only the id in view."""
    scope, booking = resolve_ci(api.store, APP_API).id, resolve_ci(api.store, BOOKING).id
    inside, outside = (
        resolve_ci(api.store, "vm-app-01").id,
        resolve_ci(api.store, "booking-web-1").id,
    )
    rfc(api, "RFC-MIX", "vm-app-01", "booking-web-1", title="patch the app tier")
    rfc(api, "RFC-OUT", "booking-web-1", title="patch the booking web tier")
    assert call(api, "POST", "/RFC-MIX/assess").status_code == 200
    cm = api.as_role(Role.CHANGE_MANAGER)
    for inc_id, ci in (("INC-MIX", "srv-01"), ("INC-OUT", "booking-web-1")):
        body = {"id": inc_id, "title": "disk errors", "cis": [ci]}
        r = api.client.post(f"{API_PREFIX}/incidents", json=body, headers=cm)
        assert r.status_code == 201, r.text
    # srv-01 is in view, but an incident on it takes Online Ferry Booking down too.
    assert booking in api.store.get_incident("INC-MIX").service_ids
    scoped = api.token_for(Role.VIEWER, services=(scope,), name="scoped")

    def get(path: str, **params: str) -> Any:
        r = api.client.get(f"{API_PREFIX}{path}", params=params, headers=scoped)
        assert r.status_code == 200, r.text
        return r

    listed = get("/changes").json()["items"]
    assert [(c["id"], c["ci_ids"]) for c in listed] == [("RFC-MIX", [inside])]
    changes = get("/reports/changes").json()
    assert changes["total"] == len(listed) == 1
    assert [c["key"] for c in changes["by_ci"]] == [inside]
    assert [i["id"] for i in changes["backlog"]["oldest"]] == ["RFC-MIX"]

    assert [i["id"] for i in get("/incidents").json()["items"]] == ["INC-MIX"]
    incidents = get("/reports/incidents").json()
    assert incidents["total"] == 1
    assert [c["key"] for c in incidents["by_ci"]] == [resolve_ci(api.store, "srv-01").id]
    assert booking not in {s["key"] for s in incidents["by_service"]}
    assert all(b["service_id"] != booking for b in incidents["breaches"])

    cis = get("/reports/cis").json()
    assert [c["name"] for c in cis["most_incidents"]] == ["srv-01"]

    agenda = get("/reports/cab-agenda", **{"from": NIGHT[0], "to": NIGHT[1]}).json()
    assert [i["id"] for i in agenda["decide"]] == ["RFC-MIX"]
    assert agenda["decide"][0]["why"] == ""
    assert all(s["id"] != booking for s in agenda["decide"][0]["services"])

    # Nothing outside the view shows, in JSON or CSV.
    for name in REPORTS:
        for fmt in ("json", "csv"):
            text = get(f"/reports/{name}", format=fmt, **{"from": NIGHT[0]}).text
            for hidden in (outside, "booking-web-1", booking, BOOKING, "RFC-OUT", "INC-OUT"):
                assert hidden not in text, (name, fmt, hidden)


def test_the_problems_report_counts_known_errors_and_trims_a_scope(api: Api) -> None:
    db = resolve_ci(api.store, "bookings-db")
    switch = resolve_ci(api.store, "core-sw-01")
    now = datetime.now(UTC)
    log_problem(
        api.store,
        problem_id="PRB-1",
        title="pool",
        cis=[db],
        workaround="restart",
        actor="pm",
        now=now,
    )
    log_problem(api.store, problem_id="PRB-2", title="flaps", cis=[db, switch], actor="pm", now=now)
    viewer = api.as_role(Role.VIEWER)
    full = api.client.get(f"{R}/problems", headers=viewer).json()
    assert (full["total"], full["open"], full["known_errors"]) == (2, 2, 1)
    assert {c["key"]: c["count"] for c in full["by_ci"]} == {db.id: 2, switch.id: 1}
    # Identity & Sign-in depends on the switch but not on bookings-db: its token reads only
    # PRB-2 (it names the switch), and is not shown the database.
    service = resolve_ci(api.store, "Identity & Sign-in").id
    scoped = api.token_for(Role.VIEWER, services=(service,), name="scoped-problems")
    assert api.client.get(f"{API_PREFIX}/cis/{db.id}", headers=scoped).status_code == 404
    mine = api.client.get(f"{R}/problems", headers=scoped).json()
    assert (mine["total"], mine["known_errors"]) == (1, 0)
    assert [c["key"] for c in mine["by_ci"]] == [switch.id]
    text = api.client.get(f"{R}/problems", params={"format": "csv"}, headers=scoped).text
    assert "PRB-2" in text and db.id not in text and db.name not in text


def test_at_sets_the_reports_instant(api: Api) -> None:
    """``at`` is the CLI's --at: the instant ages and SLA clocks are read at (no zone: UTC),
    on every report that has one, REST and GraphQL alike."""
    viewer = api.as_role(Role.VIEWER)
    then = "2030-01-01T00:00:00"
    for name in REPORTS:
        r = api.client.get(f"{R}/{name}", params={"at": then}, headers=viewer)
        assert r.status_code == 200, (name, r.text)
        assert r.json()["generated_at"] == then + "Z", name
    bad = api.client.get(f"{R}/changes", params={"at": "soon"}, headers=viewer)
    assert bad.status_code == 422 and bad.json()["error"]["where"].endswith("at")

    rfc(api, "RFC-1", "vm-app-01")
    r = api.client.post(
        f"{API_PREFIX}/incidents",
        json={"id": "INC-1", "title": "srv-01 down", "cis": ["srv-01"]},
        headers=api.as_role(Role.CHANGE_MANAGER),
    )
    assert r.status_code == 201, r.text
    raised = api.store.get_change("RFC-1").log[0].at
    later = (raised + timedelta(days=10)).isoformat()
    backlog = api.client.get(f"{R}/changes", params={"at": later}, headers=viewer).json()["backlog"]
    assert abs(backlog["oldest"][0]["age_days"] - 10) < 0.01
    now = api.client.get(f"{R}/changes", headers=viewer).json()["backlog"]
    assert now["oldest"][0]["age_days"] < 1
    # A month on, the open incident's clocks are long past their targets.
    month = (raised + timedelta(days=30)).isoformat()
    incidents = api.client.get(f"{R}/incidents", params={"at": month}, headers=viewer).json()
    assert incidents["breached_incidents"] == 1 and incidents["breaches"]
    assert api.client.get(f"{R}/incidents", headers=viewer).json()["breached_incidents"] == 0

    q = """query($at: DateTime) {
      changeReport(at: $at) { generatedAt backlog { oldest { id ageDays } } }
      incidentReport(at: $at) { breachedIncidents }
      problemReport(at: $at) { generatedAt }
      ciReport(at: $at) { generatedAt }
      cmdbHealth(at: $at) { generatedAt }
      cabAgenda(at: $at) { generatedAt }
    }"""
    got = data(api, q, {"at": later}, role=Role.VIEWER)
    assert (
        got["changeReport"]["backlog"]["oldest"][0]["ageDays"] == backlog["oldest"][0]["age_days"]
    )
    got = data(api, q, {"at": then}, role=Role.VIEWER)
    assert {got[k]["generatedAt"] for k in got if k != "incidentReport"} == {then + "+00:00"}
    assert got["incidentReport"]["breachedIncidents"] == 1
