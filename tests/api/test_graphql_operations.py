"""The saved operations (graphql/operations/*.graphql), run on both stores.

They are the examples an architect starts from, so each is checked against what the
Saltmarsh Ferries estate holds (see README, "The sample estate").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cmdb.auth.roles import Role
from cmdb.practice.problems import link, log_problem
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_changes_api import NIGHT, call, rfc
from tests.api.test_graphql import data
from tests.fakes import DEFAULT_START

OPS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


def run(api: Api, name: str, variables: dict[str, Any], **kw: Any) -> Any:
    return data(api, (OPS / f"{name}.graphql").read_text(encoding="utf-8"), variables, **kw)


def test_service_tree(api: Api) -> None:
    svc = run(api, "service_tree", {"service": "Online Ferry Booking"})["service"]
    assert svc["kind"] == "CUSTOMER_FACING"
    assert svc["sla"]["availabilityTarget"] == 99.9
    assert svc["sla"]["resolutionMinutes"]["P1"] == 240
    apps = {a["name"]: a for a in svc["contains"]}
    assert set(apps) == {"Booking Engine", "Booking Web"}
    web = apps["Booking Web"]["contains"]
    assert [i["name"] for i in web] == ["booking-web-1", "booking-web-2"]
    for inst in web:
        assert inst["runsOn"] == [
            {"__typename": "Cluster", "name": "harbour-app-cluster", "redundancy": {"minUp": 2}}
        ]
    assert {d["name"] for d in svc["dependsOn"]} == {
        "Identity & Sign-in",
        "Card Payments",
        "Passenger Notifications",
        "lb-edge-01",
    }
    assert [c["name"] for c in svc["customersServed"]] == ["Freight Hauliers", "Leisure Travellers"]


def test_ci_with_neighbours(api: Api) -> None:
    ci = run(api, "ci_neighbours", {"ref": "serial=IBX7-40117"})["ci"]
    assert (ci["__typename"], ci["name"]) == ("Server", "srv-01")
    assert ci["lineage"] == ["Server", "Compute", "ConfigurationItem"]
    assert {"kind": "serial", "value": "IBX7-40117"} in ci["identifiers"]
    seen = {(n["direction"], n["relationship"]["type"], n["ci"]["name"]) for n in ci["neighbours"]}
    assert ("IN", "HOSTED_ON", "vm-app-01") in seen and ("IN", "HOSTED_ON", "vm-app-02") in seen
    assert ("OUT", "SUPPLIED_BY", "Ironbridge Systems") in seen
    assert ("OUT", "LOCATED_IN", "Gullhaven DC Hall 2") in seen


def test_change_impact(api: Api) -> None:
    # srv-01 hosts two of the three cluster members, and the cluster needs two up.
    report = run(
        api,
        "change_impact",
        {"cis": ["srv-01"], "start": "2026-01-06T10:00:00Z", "end": "2026-01-06T12:00:00Z"},
    )["impact"]
    services = {s["name"]: s for s in report["services"]}
    assert {"Online Ferry Booking", "Boarding Pass App API"} <= set(services)
    booking = services["Online Ferry Booking"]
    assert booking["severity"] == "down"
    assert booking["window"]["minutesInHours"] == 120.0 and booking["window"]["breach"] is True
    assert booking["customers"] == ["Freight Hauliers", "Leisure Travellers"]
    path = booking["paths"][0]["names"]
    assert path[0] == "srv-01" and path[-1] == "Online Ferry Booking"
    assert "harbour-app-cluster" in path
    assert report["score"] == max(s["score"]["value"] for s in report["services"]) > 50
    assert {"name": "harbour-app-cluster", "severity": "down"} in report["cis"]


def test_spof(api: Api) -> None:
    got = run(api, "spof", {"service": "Online Ferry Booking"})["spof"]
    names = {s["name"]: s["ciClass"] for s in got["spofs"]}
    assert names["bookings-db"] == "Database"  # no standby: the planted weakness
    assert names["harbour-app-cluster"] == "Cluster"
    assert "booking-web-1" not in names  # two instances: no single point
    assert got["coneSize"] > len(names)


def test_history_as_of(api: Api) -> None:
    clock = api.store._clock  # type: ignore[attr-defined]  # the test's FakeClock
    clock.advance(hours=2)
    run(
        api,
        "edit_model",
        {"input": {"class": "Server", "name": "srv-01", "owner": "Night Shift"}},
        op="AddServer",
        role=Role.CHANGE_MANAGER,
    )
    then = (DEFAULT_START + timedelta(hours=1)).isoformat()
    got = run(api, "history_as_of", {"ref": "srv-01", "asOf": then})
    assert got["then"]["owner"] == "Platform Engineering"
    assert got["then"]["history"] == [
        {"op": "CREATE", "field": "*", "actor": "test-setup", "source": "sample"}
    ]
    assert got["now"]["owner"] == "Night Shift"
    last = got["now"]["history"][-1]
    assert (last["op"], last["field"], last["before"], last["after"]) == (
        "UPDATE",
        "owner",
        "Platform Engineering",
        "Night Shift",
    )
    assert (last["actor"], last["source"]) == ("test-change-manager", "graphql")


def test_edit_model(api: Api) -> None:
    def edit(op: str, variables: dict[str, Any]) -> Any:
        return run(api, "edit_model", variables, op=op, role=Role.CHANGE_MANAGER)

    web = {"class": "Server", "name": "web-07", "identifiers": ["serial=SN-77"]}
    added = edit("AddServer", {"input": {**web, "attributes": {"cores": 16}}})["upsertCi"]
    assert added["outcome"] == "CREATED" and added["ci"]["attributes"] == {"cores": 16}
    ends = {"source": "Gullhaven DC Hall 2", "type": "location of", "target": "web-07"}
    rel = edit("Relate", ends)["upsertRelationship"]
    assert rel["outcome"] == "CREATED"
    assert rel["relationship"] == {  # "location of" is LOCATED_IN read backwards
        "type": "LOCATED_IN",
        "source": {"name": "web-07"},
        "target": {"name": "Gullhaven DC Hall 2"},
    }
    assert edit("Relate", ends)["upsertRelationship"]["outcome"] == "UNCHANGED"
    assert edit("Unrelate", ends)["retireRelationship"] == {"retired": True}
    assert edit("Unrelate", ends)["retireRelationship"] == {"retired": False}
    gone = edit("Retire", {"ref": "serial=SN-77"})["retireCi"]
    assert gone == {"retired": True, "ci": {"status": "DISPOSED"}}


def test_cab_agenda(api: Api) -> None:
    # Two members of the app cluster, the same night: the cluster needs two of three up.
    rfc(api, "RFC-1", "vm-app-01")
    rfc(api, "RFC-2", "vm-app-03")
    for rfc_id in ("RFC-1", "RFC-2"):
        assert call(api, "POST", f"/{rfc_id}/assess").status_code == 200
    got = run(api, "cab_agenda", {"from": NIGHT[0], "to": NIGHT[1]}, role=Role.VIEWER)
    agenda = got["cabAgenda"]
    assert (agenda["scheduled"], agenda["review"]) == ([], [])
    assert [i["id"] for i in agenda["decide"]] == ["RFC-1", "RFC-2"]
    first = agenda["decide"][0]
    assert (first["state"], first["requester"]) == ("assessed", "test-change-manager")
    assert first["recordedRisk"] == first["riskClass"] and first["why"]
    kinds = {(c["a"], c["b"], c["kind"]): c for c in first["collisions"]}
    quorum = kinds[("RFC-1", "RFC-2", "joint_quorum")]
    assert quorum["subjects"] == ["harbour-app-cluster"]
    # Together they take the cluster down, and with it the booking service.
    assert ("RFC-1", "RFC-2", "joint_service") in kinds


def test_similar_problems(api: Api) -> None:
    store, now = api.store, datetime.now(UTC)
    db = resolve_ci(store, "bookings-db")
    log_problem(
        store, problem_id="PRB-10", title="connection pool exhausted", cis=[db],
        symptoms=["FATAL: too many connections"], workaround="restart pgbouncer",
        actor="test", now=now,
    )  # fmt: skip
    log_problem(
        store, problem_id="PRB-11", title="web tier 502s",
        cis=[resolve_ci(store, "booking-web-1")], actor="test", now=now,
    )  # fmt: skip
    incident = {"id": "INC-1", "title": "bookings slow", "cis": ["bookings-db"]}
    r = api.client.post(f"{API_PREFIX}/incidents", json=incident, headers=api.as_role(Role.ADMIN))
    assert r.status_code == 201, r.text
    link(store, "PRB-10", incident_ids=["INC-1"], actor="test")
    # vm-db-01 hosts the database: a problem there starts from PRB-10.
    asked = {"ci": "vm-db-01", "text": "too many connections"}
    got = run(api, "similar_problems", asked)["similarProblems"]
    assert [s["problem"]["id"] for s in got] == ["PRB-10"]
    best = got[0]
    assert best["reasons"] == [
        "shares words: connections, many, too",
        "bookings-db at fault is near: bookings-db RUNS_ON vm-db-01",
    ]
    assert best["knownError"] and best["problem"]["state"] == "KNOWN_ERROR"
    assert best["problem"]["workaround"] == "restart pgbouncer"
    assert best["problem"]["cis"] == [{"name": "bookings-db"}]
    assert best["problem"]["incidents"] == [{"id": "INC-1", "state": "OPEN"}]
    assert "Online Ferry Booking" in {s["name"] for s in best["problem"]["services"]}
