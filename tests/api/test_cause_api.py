"""REST and GraphQL carry the cause ranking's evidence (issue 14 item 5): each candidate's
reasons, its change and incident evidence, and how a tie was broken; the same answer
through both, on both stores, and a scoped caller's ties told among what it sees.

The sample is loaded at DEFAULT_START (tests/api/conftest.py), then its planted scenario
(cmdb/sample/planted.py) relative to that load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cmdb.auth.roles import Role
from cmdb.sample.planted import plant
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_graphql import data

BOOKING = "Online Ferry Booking"
APP_API = "Boarding Pass App API"
OPS = Path(__file__).resolve().parents[2] / "graphql" / "operations"

QUERY = """query($cis: [String!]!) {
  cause(cis: $cis, top: 4) {
    firstSymptom symptomIncidents failureWindowDays
    candidates {
      rank name score recency failureWeight meanDistance takesDown reasons tieBreak
      changes { kind ref weight note start at }
      failures { ref }
    }
  }
}"""


def ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def test_rest_and_graphql_show_the_evidence_and_the_ties(api: Api) -> None:
    planted = plant(api.store, actor="test-setup")
    h = api.as_role(Role.VIEWER)
    rest = ok(
        api.client.post(
            "/api/v1/impact/cause", json={"cis": [BOOKING, APP_API], "top": 4}, headers=h
        )
    )
    assert rest["symptom_incidents"] == list(planted.incident_ids)
    top = rest["candidates"][0]
    assert (top["rank"], top["name"], top["score"]) == (1, "Booking Engine", 2.594)
    assert top["reasons"][1] == (
        f"{planted.change_id} implemented: Booking Engine 4.8.0: new fare-quote cache,"
        " ended 15 min before the first symptom (weight 0.99)"
    )
    assert [(c["kind"], c["ref"], c["weight"]) for c in top["changes"]] == [
        ("change", planted.change_id, 0.99)
    ]
    assert top["tie_break"] is None
    second, third = rest["candidates"][1:3]
    assert second["tie_break"] == (
        "same evidence as Identity & Sign-in (score 2); comes before it, by name"
    )
    assert third["tie_break"] == (
        "same evidence as Card Payments (score 2); Card Payments comes first, by name"
    )

    got = data(api, QUERY, {"cis": [BOOKING, APP_API]}, role=Role.VIEWER)["cause"]
    assert got["symptomIncidents"] == rest["symptom_incidents"]
    assert got["failureWindowDays"] == 90
    assert [c["name"] for c in got["candidates"]] == [c["name"] for c in rest["candidates"]]
    for g, r in zip(got["candidates"], rest["candidates"], strict=True):
        assert (g["rank"], g["reasons"], g["tieBreak"], g["takesDown"]) == (
            r["rank"],
            r["reasons"],
            r["tie_break"],
            r["takes_down"],
        )
    assert got["candidates"][0]["changes"][0]["note"] == "ended 15 min before the first symptom"


def test_a_scoped_caller_gets_its_ranks_and_ties_among_what_it_sees(api: Api) -> None:
    plant(api.store, actor="test-setup")
    app_api = resolve_ci(api.store, APP_API).id
    scoped = api.token_for(Role.VIEWER, services=(app_api,), name="app-team")
    out = ok(
        api.client.post("/api/v1/impact/cause", json={"cis": [APP_API], "top": 50}, headers=scoped)
    )
    names = [c["name"] for c in out["candidates"]]
    assert names[0] == "Booking Engine" and BOOKING not in names and "Booking Web" not in names
    # Its own symptom only: the app's incident, 22 min after the release ended.
    assert len(out["symptom_incidents"]) == 1
    assert out["candidates"][0]["changes"][0]["note"] == "ended 22 min before the first symptom"
    assert [c["rank"] for c in out["candidates"]] == list(range(1, len(names) + 1))
    for c in out["candidates"]:
        if c["tie_break"]:
            named = c["tie_break"].removeprefix("same evidence as ").split(" (score")[0]
            assert named in names


def test_the_saved_operation(api: Api) -> None:
    plant(api.store, actor="test-setup")
    op = (OPS / "common_cause.graphql").read_text(encoding="utf-8")
    got = data(api, op, {"cis": [BOOKING, APP_API], "top": 2}, role=Role.VIEWER)["cause"]
    assert len(got["symptomIncidents"]) == 2
    first, second = got["candidates"]
    assert (first["rank"], first["name"], first["explained"]) == (1, "Booking Engine", 2)
    assert first["changes"][0]["note"] == "ended 15 min before the first symptom"
    assert first["paths"][0]["text"].startswith("Booking Engine -> Online Ferry Booking")
    assert second["tieBreak"] and second["tieBreak"].startswith("same evidence as")
