"""``/api/v1/impact``: the engine's questions over HTTP, on both stores, with the answers the
CLI gives on the sample estate (tests/unit/impact/test_cli_impact.py), roles and scope."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.auth.roles import Role
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api

WINDOW = {"start": "2030-03-12T10:00:00Z", "end": "2030-03-12T10:45:00Z"}
BOOKING = "Online Ferry Booking"
APP_API = "Boarding Pass App API"


def ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def severities(report: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["severity"] for s in report["services"]}


def test_change_impact_of_a_host_with_paths_and_window_exposure(api: Api) -> None:
    viewer = api.as_role(Role.VIEWER)
    out = ok(
        api.client.post("/api/v1/impact/change", json={"cis": ["srv-01"], **WINDOW}, headers=viewer)
    )
    assert severities(out) == {BOOKING: "down", APP_API: "down", "Identity & Sign-in": "down"}
    assert out["failed"][0]["name"] == "srv-01" and out["failed"][0]["mode"] == "down"
    assert out["score"] == max(s["score"]["value"] for s in out["services"]) > 0
    booking = next(s for s in out["services"] if s["name"] == BOOKING)
    assert booking["window"]["minutes_in_hours"] == 45
    assert booking["window"]["scheduled_interruption"] is True
    assert booking["sla"] and booking["customers"]
    path = booking["paths"][0]
    assert path["ci_ids"][0] == out["failed"][0]["id"] and path["names"][-1] == BOOKING
    assert "harbour-app-cluster" in path["names"]
    # The same CI by serial, degraded instead of down: a lesser answer, no window budget spent.
    degraded = ok(
        api.client.post(
            "/api/v1/impact/change",
            json={"cis": ["serial=IBX7-40117"], "mode": "degraded", **WINDOW, "paths": 1},
            headers=viewer,
        )
    )
    assert degraded["services"] and all(s["severity"] != "down" for s in degraded["services"])


def test_one_cluster_vm_only_puts_services_at_risk(api: Api) -> None:
    out = ok(
        api.client.post(
            "/api/v1/impact/change",
            json={"cis": ["vm-app-03"], **WINDOW},
            headers=api.as_role(Role.VIEWER),
        )
    )
    assert {s["severity"] for s in out["services"]} <= {"at_risk", "degraded"}
    assert any("redundancy reduced" in c["reason"] for c in out["cis"])


def test_incident_spof_availability_cause_recovery(api: Api) -> None:
    h = api.as_role(Role.VIEWER)
    inc = ok(api.client.post("/api/v1/impact/incident", json={"cis": ["bookings-db"]}, headers=h))
    assert set(severities(inc)) == {BOOKING, APP_API}
    assert all(s["incident"] is not None for s in inc["services"])

    spof = ok(api.client.get(f"/api/v1/impact/spof/{BOOKING}", headers=h))
    names = {s["name"] for s in spof["spofs"]}
    assert {"bookings-db", "harbour-app-cluster", "core-sw-01"} <= names
    assert "vm-app-01" not in names  # a cluster member: the quorum covers it

    avail = ok(api.client.get(f"/api/v1/impact/availability/{BOOKING}", headers=h))
    assert avail["exact"] and 0.99 < avail["availability"] < 1
    assert avail["target_percent"] == 99.9 and 0 <= avail["breach_probability"] <= 1

    cause = ok(api.client.post("/api/v1/impact/cause", json={"cis": [BOOKING, APP_API]}, headers=h))
    assert cause["candidates"][0]["explained"] == 2

    plan = ok(api.client.get(f"/api/v1/impact/recovery/{BOOKING}", headers=h))
    assert plan["steps"][-1]["name"] == BOOKING and plan["cold_start"] is True


def test_as_of_reaches_the_engine(api: Api) -> None:
    h = api.as_role(Role.VIEWER)
    before = api.client.get(
        f"/api/v1/impact/spof/{BOOKING}", params={"as_of": "2001-01-01T00:00:00Z"}, headers=h
    )
    assert before.status_code == 404
    later = ok(
        api.client.get(
            f"/api/v1/impact/spof/{BOOKING}", params={"as_of": "2100-01-01T00:00:00Z"}, headers=h
        )
    )
    assert later["spofs"]
    # A reference with slashes (a key) fits in the path too.
    by_key = ok(
        api.client.get("/api/v1/impact/recovery/key=service:online ferry booking", headers=h)
    )
    assert by_key["service_name"] == BOOKING
    change = api.client.post(
        "/api/v1/impact/change",
        json={"cis": ["srv-01"], **WINDOW, "as_of": "2001-01-01T00:00:00Z"},
        headers=h,
    )
    assert change.status_code == 404


def test_a_scoped_token_sees_only_its_services_and_what_they_rest_on(api: Api) -> None:
    app_api = resolve_ci(api.store, APP_API).id
    scoped = api.token_for(Role.VIEWER, services=(app_api,), name="app-team")
    out = ok(
        api.client.post("/api/v1/impact/change", json={"cis": ["srv-01"], **WINDOW}, headers=scoped)
    )
    assert severities(out) == {APP_API: "down", "Identity & Sign-in": "down"}
    visible_names = {n for s in out["services"] for p in s["paths"] for n in p["names"]}
    assert BOOKING not in visible_names and "Booking Web" not in visible_names
    assert all(c["name"] not in (BOOKING, "Booking Web") for c in out["cis"])
    assert out["score"] == max(s["score"]["value"] for s in out["services"])
    # Inputs outside the scope are as missing: 404, never a hint they exist.
    for r in (
        api.client.post(
            "/api/v1/impact/change", json={"cis": ["Booking Web"], **WINDOW}, headers=scoped
        ),
        api.client.post("/api/v1/impact/incident", json={"cis": ["booking-web-1"]}, headers=scoped),
        api.client.get(f"/api/v1/impact/spof/{BOOKING}", headers=scoped),
        api.client.get(f"/api/v1/impact/availability/{BOOKING}", headers=scoped),
        api.client.get(f"/api/v1/impact/recovery/{BOOKING}", headers=scoped),
        api.client.post("/api/v1/impact/cause", json={"cis": [BOOKING]}, headers=scoped),
    ):
        assert r.status_code == 404, r.text
        assert r.json()["error"]["type"] == "not_found"
    # Inside the scope the same questions answer.
    assert ok(api.client.get(f"/api/v1/impact/spof/{APP_API}", headers=scoped))["spofs"]
    inc = ok(
        api.client.post("/api/v1/impact/incident", json={"cis": ["bookings-db"]}, headers=scoped)
    )
    assert set(severities(inc)) == {APP_API}


def test_roles_and_tokens(api_embedded: Api) -> None:
    api = api_embedded
    body = {"cis": ["srv-01"], **WINDOW}
    assert api.client.post("/api/v1/impact/change", json=body).status_code == 401
    bad = {"Authorization": "Bearer cmdb_nope_nope"}
    assert api.client.post("/api/v1/impact/change", json=body, headers=bad).status_code == 401
    for role in Role:
        r = api.client.post("/api/v1/impact/change", json=body, headers=api.as_role(role))
        assert r.status_code == 200, (role, r.text)


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "where"),
    [
        ("get", "/api/v1/impact/spof/srv-01", None, 422, "service"),
        ("post", "/api/v1/impact/change", {"cis": ["nope"], **WINDOW}, 404, "cis.0"),
        ("post", "/api/v1/impact/change", {"cis": [], **WINDOW}, 422, "body.cis"),
        (
            "post",
            "/api/v1/impact/change",
            {"cis": ["srv-01"], "start": WINDOW["end"], "end": WINDOW["start"]},
            422,
            "end",
        ),
        ("post", "/api/v1/impact/change", {"cis": ["srv-01"], "start": "soon"}, 422, "body.start"),
        (
            "post",
            "/api/v1/impact/incident",
            {"cis": ["srv-01"], "mode": "melted"},
            422,
            "body.mode",
        ),
        ("post", "/api/v1/impact/incident", {"cis": ["Service"]}, 404, "cis.0"),
        ("get", "/api/v1/impact/recovery/x?depth=-1", None, 422, "query.depth"),
    ],
)
def test_bad_input_says_where(
    api_embedded: Api, method: str, url: str, body: Any, status: int, where: str
) -> None:
    h = api_embedded.as_role(Role.VIEWER)
    if method == "get":
        r = api_embedded.client.get(url, headers=h)
    else:
        r = api_embedded.client.post(url, json=body, headers=h)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["where"] == where and err["request_id"], err


def test_an_ambiguous_name_lists_candidates(api_embedded: Api) -> None:
    api = api_embedded
    admin = api.as_role(Role.ADMIN)
    from cmdb.domain.changeset import ChangeSet, CIUpsert
    from cmdb.domain.identifiers import Identifier, IdentifierKind

    twin = CIUpsert.model_validate(
        {
            "class": "Server",
            "name": "srv-01",
            "identifiers": [Identifier(kind=IdentifierKind.SERIAL, value="TWIN-1")],
        }
    )
    api.store.apply(ChangeSet(actor="test", source="test", ci_upserts=[twin]))
    r = api.client.post("/api/v1/impact/incident", json={"cis": ["srv-01"]}, headers=admin)
    assert r.status_code == 409 and len(r.json()["error"]["candidates"]) == 2


def test_operation_ids_are_stable(api_embedded: Api) -> None:
    spec = api_embedded.client.get("/api/v1/openapi.json").json()
    ops = {
        op["operationId"]
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/impact/")
        for op in item.values()
    }
    assert ops == {
        "impactChange",
        "impactIncident",
        "impactSpof",
        "impactAvailability",
        "impactCause",
        "impactRecovery",
    }
