"""REST and GraphQL carry the evidence behind availability, breach and recovery (issue 14
items 1 and 4): each figure's source, the count of components on class defaults, and when
each service is back; the same answer through both, on both stores."""

from __future__ import annotations

from typing import Any

from cmdb.auth.roles import Role
from cmdb.sample.history import load_history
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_graphql import data
from tests.fakes import DEFAULT_START

BOOKING = "Online Ferry Booking"
AT = DEFAULT_START.isoformat().replace("+00:00", "Z")  # the instant the sample was loaded

QUERY = """query($at: DateTime) {
  availability(service: "Online Ferry Booking", asOf: $at) {
    availability warning observedAvailability observedBasis
    evidence { observed declared default observedOver }
    figures { figure value source basis }
    components { name evidence basis failures mttrMinutes mttrSource logical }
  }
  recovery(service: "Online Ferry Booking", asOf: $at) {
    totalMinutes onDefaults timedSteps warning unknownTimes
    services { name backMinute }
    steps { name recoveryMinutes timeKnown source basis }
  }
}"""


def ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def test_every_figure_says_where_it_came_from(api: Api) -> None:
    h = api.as_role(Role.VIEWER)
    bare = ok(api.client.get(f"/api/v1/impact/availability/{BOOKING}", headers=h))
    assert bare["warning"].startswith("this availability rests mostly on class defaults")
    # 24 components; with the history two applications (Notifier, Booking Engine) join
    # them: failures of their own are recorded.
    assert bare["evidence"]["observed"] == 0 and bare["evidence"]["default"] == 24
    plan = ok(api.client.get(f"/api/v1/impact/recovery/{BOOKING}", headers=h))
    assert plan["warning"] and all(s["time_known"] for s in plan["steps"])

    load_history(api.store, actor="test-setup")
    avail = ok(
        api.client.get(f"/api/v1/impact/availability/{BOOKING}", params={"as_of": AT}, headers=h)
    )
    assert avail["warning"] is None
    assert avail["evidence"] == {
        "observed": 17,
        "declared": 0,
        "default": 9,
        "observed_over": "over 12 months",
    }
    sources = {f["figure"]: f["source"] for f in avail["figures"]}
    assert sources["availability"] == sources["P(breach)"] == "observed"
    assert sources["allowed downtime"] == "declared"
    srv = next(c for c in avail["components"] if c["name"] == "srv-01")
    assert (srv["evidence"], srv["failures"], srv["mttr_minutes"]) == ("observed", 2, 261.0)
    assert avail["observed_basis"] == "32 outages, 2376 min over 12 months"

    plan = ok(api.client.get(f"/api/v1/impact/recovery/{BOOKING}", params={"as_of": AT}, headers=h))
    assert plan["services"][-1] == {
        "id": resolve_ci(api.store, BOOKING).id,
        "name": BOOKING,
        "back_minute": plan["total_minutes"],
    }
    step = next(s for s in plan["steps"] if s["name"] == "srv-01")
    assert (step["source"], step["basis"]) == (
        "observed",
        "mean of 2 recorded repairs over 12 months",
    )

    # GraphQL answers the same.
    got = data(api, QUERY, {"at": AT})
    g, r = got["availability"], got["recovery"]
    assert g["availability"] == avail["availability"] and g["warning"] is None
    assert g["evidence"]["observedOver"] == "over 12 months" and g["evidence"]["default"] == 9
    assert [f["source"] for f in g["figures"]] == [f["source"] for f in avail["figures"]]
    assert g["observedBasis"] == avail["observed_basis"]
    assert [(s["name"], s["backMinute"]) for s in r["services"]] == [
        (s["name"], s["back_minute"]) for s in plan["services"]
    ]
    assert {s["name"]: s["source"] for s in r["steps"]} == {
        s["name"]: s["source"] for s in plan["steps"]
    }
    assert (r["onDefaults"], r["timedSteps"]) == (plan["on_defaults"], plan["timed_steps"])


def test_a_scoped_token_sees_the_services_back_it_may_see(api: Api) -> None:
    app_api = resolve_ci(api.store, "Boarding Pass App API").id
    scoped = api.token_for(Role.VIEWER, services=(app_api,), name="app-team")
    plan = ok(api.client.get("/api/v1/impact/recovery/Boarding Pass App API", headers=scoped))
    names = {s["name"] for s in plan["services"]}
    assert "Boarding Pass App API" in names and BOOKING not in names
    assert names <= {s["name"] for s in plan["steps"]}
