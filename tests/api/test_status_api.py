"""``/status/services`` on both stores: each service's state now from the open incidents,
worst first, and this month's SLA budget with the month's outages spent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cmdb.auth.roles import Role
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.records import Incident
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api

BOOKING, APP_API, IDENTITY = "Online Ferry Booking", "Boarding Pass App API", "Identity & Sign-in"
CARDS, NOTIFY = "Card Payments", "Passenger Notifications"
# Tuesday 24 November 2026, 22:50 London (GMT): srv-01, a host of two cluster VMs, fails.
OPENED = datetime(2026, 11, 24, 22, 50, tzinfo=UTC)
AT = OPENED + timedelta(hours=2, minutes=10)  # 01:00 on Wednesday


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def board(api: Api, at: datetime, headers: dict[str, str] | None = None) -> dict[str, Any]:
    got = ok(
        api.client.get(
            f"{API_PREFIX}/status/services",
            params={"at": iso(at)},
            headers=headers or api.as_role(Role.VIEWER),
        )
    )
    assert got["at"].startswith(iso(at)[:16])
    return got


def by_name(got: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in got["items"]}


def open_incident(api: Api, body: dict[str, Any]) -> None:
    ok(
        api.client.post(
            f"{API_PREFIX}/incidents", json=body, headers=api.as_role(Role.CHANGE_MANAGER)
        ),
        201,
    )


RANK = ["down", "degraded", "ok"]


def states(got: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["state"] for s in got["items"]}


def assert_worst_first(got: dict[str, Any]) -> None:
    ranks = [RANK.index(s["state"]) for s in got["items"]]
    assert ranks == sorted(ranks), got["items"]


def test_services_go_down_with_an_open_outage_and_spend_their_budget(api: Api) -> None:
    # The sample has a past (incidents of its own): each answer is read against it.
    first = board(api, AT)
    before = by_name(first)
    assert set(before) == {BOOKING, APP_API, IDENTITY, CARDS, NOTIFY}
    assert_worst_first(first)
    assert before[CARDS]["budget"] is None and before[CARDS]["sla"] is None
    booking = before[BOOKING]["budget"]
    assert before[BOOKING]["sla"] == "Online Ferry Booking SLA"
    assert booking["target_percent"] == 99.9
    assert booking["period_start"].startswith("2026-11-01T00:00")  # November, London (GMT)
    assert abs(booking["allowed_minutes"] - booking["agreed_minutes"] * 0.001) < 1e-6
    assert booking["remaining_minutes"] == booking["allowed_minutes"] - booking["spent_minutes"]
    assert booking["breached"] is (booking["remaining_minutes"] < 0)

    open_incident(
        api,
        {"id": "INC-1", "title": "srv-01 down", "cis": ["srv-01"], "opened_at": iso(OPENED)},
    )
    got = board(api, AT)
    assert_worst_first(got)
    names = [s["name"] for s in got["items"]]
    # Down first, customer-facing (booking, the app API) before supporting (identity).
    assert set(names[:2]) == {BOOKING, APP_API} and names[2] == IDENTITY
    after = by_name(got)
    for name in (BOOKING, APP_API, IDENTITY):
        assert after[name]["state"] == "down"
        assert ("INC-1", True) in [(i["id"], i["outage"]) for i in after[name]["open_incidents"]]
    for name in (CARDS, NOTIFY):
        assert after[name] == before[name]
    # 22:50 to 01:00: booking's hours end at 23:00 (10 min), the app API's at midnight (70).
    spent = {
        n: after[n]["budget"]["spent_minutes"] - before[n]["budget"]["spent_minutes"]
        for n in (BOOKING, APP_API)
    }
    assert spent == {BOOKING: 10.0, APP_API: 70.0}
    assert after[BOOKING]["budget"]["remaining_minutes"] == (
        before[BOOKING]["budget"]["remaining_minutes"] - 10.0
    )

    # Resolved after an hour: as before, with the outage's minutes spent.
    ok(
        api.client.post(
            f"{API_PREFIX}/incidents/INC-1/resolve",
            json={"at": iso(OPENED + timedelta(hours=1))},
            headers=api.as_role(Role.CHANGE_MANAGER),
        )
    )
    resolved = board(api, AT)
    assert states(resolved) == states(first)
    again = by_name(resolved)
    assert again[BOOKING]["budget"]["spent_minutes"] == after[BOOKING]["budget"]["spent_minutes"]
    assert again[APP_API]["budget"]["spent_minutes"] == (
        before[APP_API]["budget"]["spent_minutes"] + 60.0
    )
    # Asked about an instant before it opened, INC-1 holds nothing.
    earlier = board(api, OPENED - timedelta(minutes=1))
    assert not any(i["id"] == "INC-1" for s in earlier["items"] for i in s["open_incidents"])


def test_a_reduction_in_quality_degrades_and_spends_nothing(api: Api) -> None:
    notify = resolve_ci(api.store, NOTIFY).id
    assert by_name(board(api, AT))[NOTIFY]["state"] == "ok"
    slow = Incident(
        id="INC-SLOW",
        title="texts arrive late",
        service_ids=[notify],
        opened_at=OPENED,
        outage=False,
    )
    api.store.apply(ChangeSet(actor="t", source="test", incidents=[slow]))
    got = board(api, AT)
    row = by_name(got)[NOTIFY]
    assert row["state"] == "degraded" and row["budget"] is None
    assert [(i["id"], i["outage"]) for i in row["open_incidents"]] == [("INC-SLOW", False)]
    assert_worst_first(got)


def test_a_scoped_token_sees_its_services_only(api: Api) -> None:
    open_incident(
        api,
        {"id": "INC-1", "title": "srv-01 down", "cis": ["srv-01"], "opened_at": iso(OPENED)},
    )
    cards = resolve_ci(api.store, CARDS).id
    scoped = api.token_for(Role.VIEWER, services=(cards,), name="scoped-cards")
    got = board(api, AT, headers=scoped)
    assert [(s["name"], s["state"], s["open_incidents"]) for s in got["items"]] == [
        (CARDS, "ok", [])
    ]
    booking = resolve_ci(api.store, BOOKING).id
    scoped = api.token_for(Role.VIEWER, services=(booking,), name="scoped-booking")
    rows = by_name(board(api, AT, headers=scoped))
    assert set(rows) == {BOOKING, IDENTITY, CARDS, NOTIFY}  # what booking rests on
    assert rows[BOOKING]["state"] == "down"


def test_a_bad_instant_names_the_field(api: Api) -> None:
    r = api.client.get(
        f"{API_PREFIX}/status/services", params={"at": "yesterday"}, headers=api.as_role("viewer")
    )
    assert r.status_code == 422 and r.json()["error"]["where"] == "query.at"
    for at in ("9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z"):
        r = api.client.get(
            f"{API_PREFIX}/status/services", params={"at": at}, headers=api.as_role("viewer")
        )
        assert r.status_code == 422 and r.json()["error"]["where"] == "at", r.text
    assert api.client.get(f"{API_PREFIX}/status/services").status_code == 401
