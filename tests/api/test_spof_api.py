"""The ranked SPOF report over REST (``limit``) and GraphQL (``limit``), on both stores:
the same answer as the CLI's (tests/unit/impact/test_cli_spof.py)."""

from __future__ import annotations

from typing import Any

from cmdb.auth.roles import Role
from tests.api.conftest import Api
from tests.api.test_graphql import error_of, gql
from tests.api.test_graphql_operations import run

BOOKING = "Online Ferry Booking"


def ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def test_rest_ranks_and_limits(api: Api) -> None:
    h = api.as_role(Role.VIEWER)
    every = ok(api.client.get(f"/api/v1/impact/spof/{BOOKING}", headers=h))
    assert every["total"] == len(every["spofs"]) == 27 and every["left_out"] == 0
    assert [s["rank"] for s in every["spofs"]] == list(range(1, 28))
    first = every["spofs"][0]
    assert first["name"] == "srv-03" and first["remedy"] == "a second host to fail over to"
    assert {s["name"] for s in first["services_lost"]} >= {BOOKING, "Boarding Pass App API"}
    top = ok(api.client.get(f"/api/v1/impact/spof/{BOOKING}", params={"limit": 10}, headers=h))
    assert [s["name"] for s in top["spofs"]] == [s["name"] for s in every["spofs"][:10]]
    assert top["left_out"] == 17
    kinds = {g["kind"]: g for g in top["groups"]}
    assert kinds["supplier"] == {
        "kind": "supplier",
        "found": 5,
        "shown": 0,
        "left_out": 5,
        "costliest": "Ironbridge Systems",
        "costliest_cost": every["spofs"][[s["name"] for s in every["spofs"]].index(
            "Ironbridge Systems")]["cost"]["value"],
    }  # fmt: skip


def test_rest_refuses_a_bad_limit_naming_it(api_embedded: Api) -> None:
    r = api_embedded.client.get(
        f"/api/v1/impact/spof/{BOOKING}",
        params={"limit": 0},
        headers=api_embedded.as_role(Role.VIEWER),
    )
    assert r.status_code == 422 and "query.limit" in r.text, r.text


def test_graphql_limit(api: Api) -> None:
    got = run(api, "spof", {"service": BOOKING, "limit": 2})["spof"]
    assert [s["rank"] for s in got["spofs"]] == [1, 2]
    assert got["spofs"][0]["name"] == "srv-03" and got["spofs"][0]["kind"] == "infrastructure"
    assert got["total"] == 27 and got["leftOut"] == 25
    assert got["spofs"][0]["remedy"] == "a second host to fail over to"
    every = run(api, "spof", {"service": BOOKING})["spof"]
    assert len(every["spofs"]) == every["total"] == 27


def test_graphql_refuses_a_bad_limit_naming_it(api_embedded: Api) -> None:
    body = gql(api_embedded, '{ spof(service: "Online Ferry Booking", limit: 0) { total } }')
    err = error_of(body)
    assert err["extensions"]["code"] == "INVALID_INPUT" and err["extensions"]["where"] == "limit"
