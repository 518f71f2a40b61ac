"""``/cis`` on both stores: lists and pages, references, writes with history, as-of,
neighbours, roles and service scope, errors with ``where``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cmdb.auth.roles import Role
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.fakes import FakeClock

V1 = "/api/v1"

CARD_PAYMENTS_SCOPE = {
    "Card Payments",
    "Gullhaven DC Hall 2",
    "Harbourpay Ltd",
    "Harbourpay gateway endpoint",
    "Ironbridge Systems",
    "Payments Adapter",
    "core-sw-01",
    "payments-adapter-1",
    "srv-03",
    "vm-int-01",
}


def clock_of(api: Api) -> FakeClock:
    # Both stores keep the test's FakeClock; moving it makes as-of instants distinct.
    clock = vars(api.store)["_clock"]
    assert isinstance(clock, FakeClock)
    return clock


def ci_id(api: Api, ref: str) -> str:
    return resolve_ci(api.store, ref).id


def names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(i["name"] for i in items)


def all_pages(api: Api, url: str, headers: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor: str | None = None
    while True:
        sep = "&" if "?" in url else "?"
        r = api.client.get(url + (f"{sep}cursor={cursor}" if cursor else ""), headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def test_list_filters_by_class_status_and_name(api: Api) -> None:
    h = api.as_role("viewer")
    r = api.client.get(f"{V1}/cis", params={"class": "Server"}, headers=h)
    assert r.status_code == 200
    assert names(r.json()["items"]) == ["srv-01", "srv-02", "srv-03"]
    assert r.json()["items"][0]["class"] == "Server"
    r = api.client.get(f"{V1}/cis", params={"class": "Service", "status": "live"}, headers=h)
    assert len(r.json()["items"]) == 5
    r = api.client.get(f"{V1}/cis", params={"name_contains": "vm-app"}, headers=h)
    assert names(r.json()["items"]) == ["vm-app-01", "vm-app-02", "vm-app-03"]
    r = api.client.get(f"{V1}/cis", params={"name": "srv-02"}, headers=h)
    assert names(r.json()["items"]) == ["srv-02"]
    r = api.client.get(
        f"{V1}/cis", params=[("status", "withdrawn"), ("status", "disposed")], headers=h
    )
    assert r.json()["items"] == []


def test_pages_through_everything_once(api: Api) -> None:
    items, pages = all_pages(api, f"{V1}/cis?class=VirtualMachine&limit=2", api.as_role("viewer"))
    assert pages == 3
    assert names(items) == [
        f"vm-{n}" for n in ("app-01", "app-02", "app-03", "db-01", "db-02", "int-01")
    ]
    everything, _ = all_pages(api, f"{V1}/cis?limit=10", api.as_role("viewer"))
    assert len(everything) == 47 and len({c["id"] for c in everything}) == 47


def test_limit_and_cursor_errors_name_the_parameter(api_embedded: Api) -> None:
    api, h = api_embedded, api_embedded.as_role("viewer")
    over = api.settings.page_limit_max + 1
    r = api.client.get(f"{V1}/cis", params={"limit": over}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["where"] == "limit"
    r = api.client.get(f"{V1}/cis", params={"cursor": "!!not-base64!!"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["where"] == "cursor"
    r = api.client.get(f"{V1}/cis", params={"class": "Spaceship"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["where"] == "class"


def test_get_by_id_identifier_or_name(api: Api) -> None:
    h = api.as_role("viewer")
    srv = api.client.get(f"{V1}/cis/serial=IBX7-40117", headers=h).json()
    assert srv["name"] == "srv-01" and srv["location"] == "Gullhaven DC Hall 2"
    assert api.client.get(f"{V1}/cis/{srv['id']}", headers=h).json()["name"] == "srv-01"
    assert api.client.get(f"{V1}/cis/srv-01", headers=h).json()["id"] == srv["id"]
    svc = api.client.get(f"{V1}/cis/fqdn=book.saltmarsh.example", headers=h).json()
    assert svc["name"] == "Online Ferry Booking" and svc["service"]["kind"] == "customer_facing"
    # An identifier with a slash in it is still one reference.
    cloud = "cloud_id=harbourpay:merchant/SMF-0042/gateway"
    assert api.client.get(f"{V1}/cis/{cloud}", headers=h).json()["class"] == "CloudResource"


def test_missing_and_ambiguous_references(api: Api) -> None:
    h = api.as_role("viewer")
    r = api.client.get(f"{V1}/cis/no-such-ci", headers=h)
    assert r.status_code == 404 and r.json()["error"]["where"] == "ref"
    body = {"class": "VirtualMachine", "name": "srv-01", "identifiers": ["fqdn=srv-01.vm.example"]}
    assert (
        api.client.post(f"{V1}/cis", json=body, headers=api.as_role("change-manager")).status_code
        == 201
    )
    r = api.client.get(f"{V1}/cis/srv-01", headers=h)
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["type"] == "ambiguous_reference" and err["where"] == "ref"
    assert len(err["candidates"]) == 2 and all("srv-01" in c for c in err["candidates"])


def test_create_then_upsert_by_identifier(api: Api) -> None:
    h = api.as_role("change-manager")
    body = {
        "class": "Server",
        "name": "web-07",
        "identifiers": ["serial=SN-77", {"kind": "hostname", "value": "web-07"}],
        "attributes": {"cores": 16, "rack": "R09"},
        "owner": "Platform Engineering",
        "environment": "production",
    }
    r = api.client.post(f"{V1}/cis", json=body, headers={**h, "X-Request-ID": "req-create-1"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["outcome"] == "created"
    ci = created["ci"]
    assert ci["attributes"] == {"cores": 16, "rack": "R09"} and ci["status"] == "live"
    assert "api" in ci["sources"]
    again = api.client.post(f"{V1}/cis", json=body, headers=h)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    moved = api.client.post(f"{V1}/cis", json={**body, "attributes": {"rack": "R10"}}, headers=h)
    assert moved.json()["outcome"] == "updated"
    assert moved.json()["ci"]["id"] == ci["id"]
    assert moved.json()["ci"]["attributes"] == {"cores": 16, "rack": "R10"}
    rows = api.store.history(ci["id"])
    assert rows[0].actor == "test-change-manager" and rows[0].source == "api"
    assert rows[0].request_id == "req-create-1"


def test_create_without_identifier_gets_a_natural_key(api: Api) -> None:
    h = api.as_role("change-manager")
    r = api.client.post(f"{V1}/cis", json={"class": "Team", "name": "Night Shift"}, headers=h)
    assert r.status_code == 201
    assert {"kind": "key", "value": "team:night shift"} in r.json()["ci"]["identifiers"]
    r = api.client.post(f"{V1}/cis", json={"class": "Team", "name": "Night Shift"}, headers=h)
    assert r.status_code == 200 and r.json()["outcome"] == "unchanged"


def test_create_refuses_server_owned_and_unknown_fields(api_embedded: Api) -> None:
    api, h = api_embedded, api_embedded.as_role("change-manager")
    before = api.store.counts()
    for field, value in (
        ("id", "ci_mine"),
        ("created_at", "2026-01-01T00:00:00Z"),
        ("created_by", "me"),
        ("sources", {}),
        ("provenance", {}),
        ("colour", "red"),
    ):
        body = {"class": "Server", "name": "web-08", field: value}
        r = api.client.post(f"{V1}/cis", json=body, headers=h)
        assert r.status_code == 422, field
        assert r.json()["error"]["where"] == f"body.{field}"
    r = api.client.post(f"{V1}/cis", json={"class": "Spaceship", "name": "x"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["where"] == "body.class"
    r = api.client.post(
        f"{V1}/cis", json={"class": "Server", "name": "x", "identifiers": ["colour=red"]}, headers=h
    )
    assert r.status_code == 422 and "identifiers" in r.json()["error"]["where"]
    r = api.client.post(
        f"{V1}/cis", json={"class": "Server", "name": "x", "redundancy": {"min_up": 2}}, headers=h
    )
    assert r.status_code == 422 and "redundancy" in r.json()["error"]["message"]
    assert r.json()["error"]["where"].startswith("body")
    # Integers past 64 bits, which no store keeps: refused naming where, not a 500.
    huge = 2**64
    for body, where in (
        ({"class": "Server", "name": "x", "attributes": {"n": huge}}, "attributes"),
        ({"class": "Server", "name": "x", "attributes": {"a": [1, {"b": -huge}]}}, "a[1].b"),
        ({"class": "Cluster", "name": "x", "redundancy": {"min_up": huge}}, "min_up"),
        (
            {
                "class": "Server",
                "name": "x",
                "agreements": [
                    {"kind": "ola", "name": "o", "party": "p", "response_minutes": {"P1": huge}}
                ],
            },
            "response_minutes",
        ),
    ):
        r = api.client.post(f"{V1}/cis", json=body, headers=h)
        assert r.status_code == 422, r.text
        assert where in r.json()["error"]["where"] + r.json()["error"]["message"], r.text
    assert api.store.counts() == before
    ok = {"class": "Server", "name": "x", "attributes": {"n": 2**63 - 1, "m": -(2**63)}}
    assert api.client.post(f"{V1}/cis", json=ok, headers=h).status_code == 201
    assert api.store.get_ci(resolve_ci(api.store, "x").id).attributes["n"] == 2**63 - 1


def test_patch_changes_only_what_is_sent_and_as_of_sees_before(api: Api) -> None:
    clock = clock_of(api)
    loaded = clock.now
    clock.advance(hours=1)
    h = api.as_role("change-manager")
    r = api.client.patch(
        f"{V1}/cis/srv-02",
        json={"owner": "Night Shift", "attributes": {"rack": "R01"}, "status": "under_change"},
        headers={**h, "X-Request-ID": "req-patch-1"},
    )
    assert r.status_code == 200, r.text
    ci = r.json()["ci"]
    assert r.json()["outcome"] == "updated"
    assert ci["owner"] == "Night Shift" and ci["status"] == "under_change"
    assert ci["location"] == "Gullhaven DC Hall 2" and ci["attributes"]["rack"] == "R01"
    v = api.as_role("viewer")
    then = api.client.get(f"{V1}/cis/srv-02", params={"as_of": loaded.isoformat()}, headers=v)
    assert then.status_code == 200
    assert then.json()["owner"] == "Platform Engineering" and then.json()["status"] == "live"
    before = (loaded - timedelta(seconds=1)).isoformat()
    r = api.client.get(f"{V1}/cis/srv-02", params={"as_of": before}, headers=v)
    assert r.status_code == 404
    hist = api.client.get(f"{V1}/cis/srv-02/history", headers=v).json()
    changed = [row for row in hist["history"] if row["request_id"] == "req-patch-1"]
    assert {row["field"] for row in changed} == {"owner", "status", "attributes.rack"}
    assert all(row["actor"] == "test-change-manager" and row["source"] == "api" for row in changed)
    past = api.client.get(
        f"{V1}/cis/srv-02/history", params={"as_of": loaded.isoformat()}, headers=v
    ).json()
    assert past["ci"]["owner"] == "Platform Engineering"
    assert all(row["request_id"] != "req-patch-1" for row in past["history"])


def test_patch_refuses_nulls_and_server_owned_fields(api_embedded: Api) -> None:
    api, h = api_embedded, api_embedded.as_role("change-manager")
    for body, where in (
        ({"name": None}, "body.name"),
        ({"id": "ci_x"}, "body.id"),
        ({"class": "Server"}, "body.class"),
        ({"sources": {}}, "body.sources"),
    ):
        r = api.client.patch(f"{V1}/cis/srv-02", json=body, headers=h)
        assert r.status_code == 422 and r.json()["error"]["where"] == where, body
    assert api.client.patch(f"{V1}/cis/nope", json={}, headers=h).status_code == 404


def test_delete_retires_and_keeps_history(api: Api) -> None:
    h = api.as_role("change-manager")
    r = api.client.delete(f"{V1}/cis/vm-db-02", params={"status": "disposed"}, headers=h)
    assert r.status_code == 200
    assert r.json()["outcome"] == "retired" and r.json()["ci"]["status"] == "disposed"
    again = api.client.delete(f"{V1}/cis/vm-db-02", headers=h)
    assert again.json()["outcome"] == "unchanged"
    ci = api.client.get(f"{V1}/cis/vm-db-02", headers=api.as_role("viewer")).json()
    assert ci["status"] == "disposed"
    rows = api.client.get(f"{V1}/cis/vm-db-02/history", headers=api.as_role("viewer")).json()
    assert rows["history"][0]["op"] == "create" and rows["history"][-1]["after"] == "disposed"
    r = api.client.delete(f"{V1}/cis/vm-db-02", params={"status": "live"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["where"] == "query.status"


def test_neighbours_by_direction_and_type(api: Api) -> None:
    h = api.as_role("viewer")
    r = api.client.get(
        f"{V1}/cis/harbour-app-cluster/neighbours",
        params=[("direction", "in"), ("type", "member of")],
        headers=h,
    )
    assert r.status_code == 200
    assert sorted(n["ci"]["name"] for n in r.json()) == ["vm-app-01", "vm-app-02", "vm-app-03"]
    assert {n["direction"] for n in r.json()} == {"in"}
    r = api.client.get(
        f"{V1}/cis/harbour-app-cluster/neighbours", params={"direction": "in"}, headers=h
    )
    assert len(r.json()) == 11
    r = api.client.get(f"{V1}/cis/srv-01/neighbours", params={"type": "teleports"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["where"] == "type"


def test_a_viewer_cannot_write(api: Api) -> None:
    h = api.as_role("viewer")
    before = api.store.counts()
    srv = api.store.get_ci(ci_id(api, "srv-01"))
    r = api.client.post(f"{V1}/cis", json={"class": "Team", "name": "Sneaky"}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
    assert api.client.patch(f"{V1}/cis/srv-01", json={"owner": "x"}, headers=h).status_code == 403
    assert api.client.delete(f"{V1}/cis/srv-01", headers=h).status_code == 403
    assert api.client.post(f"{V1}/cis", json={"class": "Team", "name": "x"}).status_code == 401
    assert api.store.counts() == before
    assert api.store.get_ci(srv.id) == srv


def test_a_scoped_token_sees_only_its_service_closure(api: Api) -> None:
    service = ci_id(api, "Card Payments")
    h = api.token_for(Role.VIEWER, services=(service,))
    items, _ = all_pages(api, f"{V1}/cis?limit=3", h)
    assert set(names(items)) == CARD_PAYMENTS_SCOPE
    assert api.client.get(f"{V1}/cis/Card Payments", headers=h).status_code == 200
    hidden = ci_id(api, "Online Ferry Booking")
    missing = api.client.get(f"{V1}/cis/no-such-ci", headers=h)
    for ref in (hidden, "Online Ferry Booking", "fqdn=book.saltmarsh.example"):
        r = api.client.get(f"{V1}/cis/{ref}", headers=h)
        assert r.status_code == 404, ref
        assert r.json()["error"]["type"] == missing.json()["error"]["type"]
    assert api.client.get(f"{V1}/cis/{hidden}/history", headers=h).status_code == 404
    r = api.client.get(f"{V1}/cis/Card Payments/neighbours", headers=h)
    assert sorted(n["ci"]["name"] for n in r.json()) == ["Harbourpay Ltd", "Payments Adapter"]
    # By id (the store asked directly) the same answer; a hidden id as a missing one.
    assert api.client.get(f"{V1}/cis/{service}/neighbours", headers=h).json() == r.json()
    gone = api.client.get(f"{V1}/cis/no-such-ci/neighbours", headers=h)
    assert gone.status_code == 404
    for ref in (hidden, f" {hidden} ", "Online Ferry Booking"):
        r = api.client.get(f"{V1}/cis/{ref}/neighbours", headers=h)
        assert r.status_code == 404, ref
        assert r.json()["error"]["type"] == gone.json()["error"]["type"]
    everyone = api.as_role("viewer")
    by_name = api.client.get(f"{V1}/cis/Online Ferry Booking/neighbours", headers=everyone)
    by_id = api.client.get(f"{V1}/cis/ {hidden} /neighbours", headers=everyone)
    assert by_name.status_code == 200 and by_id.json() == by_name.json() != []


def test_a_scoped_editor_cannot_write_outside_its_scope(api: Api) -> None:
    service = ci_id(api, "Card Payments")
    h = api.token_for(Role.CHANGE_MANAGER, services=(service,))
    before = api.store.counts()
    booking = api.store.get_ci(ci_id(api, "Online Ferry Booking"))
    r = api.client.patch(f"{V1}/cis/{booking.id}", json={"owner": "x"}, headers=h)
    assert r.status_code == 404
    assert api.client.delete(f"{V1}/cis/{booking.id}", headers=h).status_code == 404
    body = {"class": "Service", "name": "Online Ferry Booking", "description": "x"}
    assert api.client.post(f"{V1}/cis", json=body, headers=h).status_code == 404
    new = {"class": "Team", "name": "Elsewhere"}
    assert api.client.post(f"{V1}/cis", json=new, headers=h).status_code == 404
    assert api.store.counts() == before
    assert api.store.get_ci(booking.id) == booking
    # Inside the scope the same token writes.
    r = api.client.patch(f"{V1}/cis/srv-03", json={"attributes": {"rack": "R03"}}, headers=h)
    assert r.status_code == 200 and r.json()["ci"]["attributes"]["rack"] == "R03"
