"""``/services``, ``/services/{ref}/sla`` and ``/slas`` on both stores."""

from __future__ import annotations

from cmdb.auth.roles import Role
from tests.api.conftest import Api
from tests.api.test_cis import V1, all_pages, ci_id, clock_of


def test_every_service_with_its_details(api: Api) -> None:
    items, pages = all_pages(api, f"{V1}/services?limit=2", api.as_role("viewer"))
    assert pages == 3
    by_name = {s["name"]: s for s in items}
    assert sorted(by_name) == [
        "Boarding Pass App API",
        "Card Payments",
        "Identity & Sign-in",
        "Online Ferry Booking",
        "Passenger Notifications",
    ]
    bp = by_name["Boarding Pass App API"]
    assert bp["kind"] == "customer_facing" and bp["criticality"] == "critical"
    assert bp["customers"] == ["Leisure Travellers", "Island Residents' Card Holders"]
    assert bp["sla"]["availability_target"] == 99.95
    card = by_name["Card Payments"]
    assert card["kind"] == "supporting" and card["sla"] is None
    assert card["agreements"][0]["party"] == "Harbourpay Ltd"


def test_one_service_and_its_sla(api: Api) -> None:
    h = api.as_role("viewer")
    svc = api.client.get(f"{V1}/services/Online Ferry Booking", headers=h).json()
    assert svc["customers"] == ["Leisure Travellers", "Freight Hauliers"]
    assert svc["portfolio"] == "live" and svc["owner"] == "Digital Channels"
    sla = api.client.get(f"{V1}/services/fqdn=book.saltmarsh.example/sla", headers=h).json()
    assert sla["name"] == "Online Ferry Booking SLA" and sla["availability_target"] == 99.9
    assert sla["service_hours"]["timezone"] == "Europe/London"
    assert sla["response_minutes"]["P1"] == 15 and sla["resolution_minutes"]["P1"] == 240
    assert sla["scheduled_interruptions"]["per_month"] == 2
    r = api.client.get(f"{V1}/services/Card Payments/sla", headers=h)
    assert r.status_code == 404 and r.json()["error"]["where"] == "sla"
    r = api.client.get(f"{V1}/services/srv-01", headers=h)
    assert r.status_code == 404 and r.json()["error"]["where"] == "ref"
    assert api.client.get(f"{V1}/services/nope", headers=h).status_code == 404


def test_every_sla_with_its_service(api: Api) -> None:
    r = api.client.get(f"{V1}/slas", headers=api.as_role("viewer"))
    got = sorted((i["service_name"], i["sla"]["name"]) for i in r.json()["items"])
    assert got == [
        ("Boarding Pass App API", "Boarding Pass App API SLA"),
        ("Online Ferry Booking", "Online Ferry Booking SLA"),
    ]


def test_a_service_as_of(api: Api) -> None:
    clock = clock_of(api)
    loaded = clock.now
    clock.advance(days=1)
    patch = {"service": {"kind": "customer_facing", "customers": ["Freight Hauliers"]}}
    r = api.client.patch(
        f"{V1}/cis/Card Payments", json=patch, headers=api.as_role("change-manager")
    )
    assert r.status_code == 200, r.text
    h = api.as_role("viewer")
    now = api.client.get(f"{V1}/services/Card Payments", headers=h).json()
    assert now["kind"] == "customer_facing" and now["customers"] == ["Freight Hauliers"]
    then = api.client.get(
        f"{V1}/services/Card Payments", params={"as_of": loaded.isoformat()}, headers=h
    ).json()
    assert then["kind"] == "supporting" and then["customers"] == []


def test_a_scoped_token_sees_its_services_only(api: Api) -> None:
    h = api.token_for(Role.VIEWER, services=(ci_id(api, "Boarding Pass App API"),))
    items, _ = all_pages(api, f"{V1}/services", h)
    # Boarding Pass depends on the three supporting services, not on Online Ferry Booking.
    assert sorted(s["name"] for s in items) == [
        "Boarding Pass App API",
        "Card Payments",
        "Identity & Sign-in",
        "Passenger Notifications",
    ]
    slas = api.client.get(f"{V1}/slas", headers=h).json()["items"]
    assert [i["service_name"] for i in slas] == ["Boarding Pass App API"]
    assert api.client.get(f"{V1}/services/Online Ferry Booking", headers=h).status_code == 404


def test_the_agreements_a_service_rests_on_checked_against_its_sla(api: Api) -> None:
    """The planted supplier contract: Tidewire's P1 fix (480 min) under the Online Ferry
    Booking SLA's 240 min, with the path from the service."""
    h = api.as_role("viewer")
    r = api.client.get(f"{V1}/services/Online Ferry Booking/agreements", headers=h)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["sla"] == "Online Ferry Booking SLA" and got["truncated"] is False
    by_name = {a["agreement"]["name"]: a for a in got["agreements"]}
    tidewire = by_name["Tidewire bulk messaging contract"]
    assert tidewire["holds"] is False and tidewire["shielded_by"] is None
    assert tidewire["path"]["names"] == ["Online Ferry Booking", "Passenger Notifications"]
    gaps = {g["text"]: (g["agreement_value"], g["sla_value"]) for g in tidewire["gaps"]}
    assert gaps["P1 resolution 480 min vs 240 min"] == (480, 240)
    assert gaps["availability 99.5 % vs 99.9 %"] == (99.5, 99.9)
    assert by_name["Bookings database OLA"]["holds"] is True
    assert got["findings"] == sum(1 for a in got["agreements"] if not a["holds"])
    # A supporting service without an SLA: its agreements listed, nothing compared.
    card = api.client.get(f"{V1}/services/Card Payments/agreements", headers=h).json()
    assert card["sla"] is None and card["findings"] == 0 and card["agreements"]
    r = api.client.get(f"{V1}/services/srv-01/agreements", headers=h)
    assert r.status_code == 404 and r.json()["error"]["where"] == "ref"


def test_a_scoped_token_sees_agreements_on_its_services_only(api: Api) -> None:
    app_api = ci_id(api, "Boarding Pass App API")
    token = api.token_for(Role.VIEWER, services=(app_api,), name="scoped")
    r = api.client.get(f"{V1}/services/Boarding Pass App API/agreements", headers=token)
    assert r.status_code == 200 and r.json()["findings"] >= 1
    r = api.client.get(f"{V1}/services/Online Ferry Booking/agreements", headers=token)
    assert r.status_code == 404
