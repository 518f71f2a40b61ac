"""Agreements that hold each other up, on the sample estate, on both stores (the real Neo4j
runs under the ``neo4j`` mark; it never skips): the planted Tidewire contract promises a
P1 fix in 480 min under the Online Ferry Booking SLA's 240 min."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb.app import agreements, reports
from cmdb.app.report_tables import to_csv
from cmdb.app.scope import Visibility
from cmdb.practice.agreements import AgreementFinding
from cmdb.practice.changes import assess_change
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from impact.fetch import fetch
from tests.integration.test_practice_stores import APP_API, BOOKING, NOW, POLICY, rfc

ALL = Visibility()
TIDEWIRE = "Tidewire bulk messaging contract"


@pytest.fixture
def store(sample_store: GraphStore) -> GraphStore:
    """The sample estate on each store (tests/integration/conftest.py)."""
    return sample_store


def tidewire_under_booking(found: list[AgreementFinding]) -> AgreementFinding:
    (hit,) = [f for f in found if f.service.name == BOOKING and f.agreement.name == TIDEWIRE]
    return hit


def test_the_planted_contract_is_found_with_both_figures_and_the_path(store: GraphStore) -> None:
    hit = tidewire_under_booking(agreements.findings(store, ALL))
    assert (hit.sla, hit.agreement.kind, hit.agreement.party) == (
        "Online Ferry Booking SLA",
        "supplier_contract",
        "Tidewire Messaging",
    )
    assert hit.ci.name == "Passenger Notifications"
    assert hit.path.names == [BOOKING, "Passenger Notifications"]
    assert hit.path.phrases == ["depends on"]
    figures = {(g.target, g.priority): (g.agreement_value, g.sla_value) for g in hit.gaps}
    assert figures[("resolution", "P1")] == (480, 240)
    assert figures[("availability", None)] == (99.5, 99.9)
    assert "P1 resolution 480 min vs 240 min" in [g.text for g in hit.gaps]


def test_the_service_page_lists_what_holds_and_what_does_not(store: GraphStore) -> None:
    svc = resolve_ci(store, BOOKING)
    got = agreements.service_agreements(store, ALL, svc)
    holds = {c.agreement.name: c.holds for c in got.agreements}
    assert holds[TIDEWIRE] is False
    # The bookings database's OLA is at least as strong as this SLA on every target.
    assert holds["Bookings database OLA"] is True
    assert got.findings == sum(1 for v in holds.values() if not v) and not got.truncated
    db = next(c for c in got.agreements if c.agreement.name == "Bookings database OLA")
    assert db.path.names[0] == BOOKING and db.path.names[-1] == "bookings-db"


def test_the_health_report_and_the_cab_agenda_show_it(store: GraphStore) -> None:
    health = reports.health(store, ALL, NOW)
    hit = tidewire_under_booking(health.agreement_gaps)
    assert health.agreement_gaps_total == len(health.agreement_gaps) >= 1
    assert "P1 resolution 480 min vs 240 min" in to_csv(health)
    assert hit.path.text == f"{BOOKING} -(depends on)-> Passenger Notifications"

    rfc(store, "RFC-WEB", "booking-web-1")
    assess_change(store, "RFC-WEB", POLICY, actor="cm", now=NOW)
    agenda = reports.cab_agenda(store, ALL, POLICY, NOW, NOW + timedelta(days=60), NOW)
    (item,) = [i for i in agenda.decide if i.id == "RFC-WEB"]
    assert tidewire_under_booking(item.agreement_gaps)
    # Only the services the change touches: the booking web tier is not under the app API.
    assert {f.service.name for f in item.agreement_gaps} == {BOOKING}
    assert TIDEWIRE in to_csv(agenda)


def test_a_scoped_caller_sees_only_its_services_gaps(store: GraphStore) -> None:
    app_api = resolve_ci(store, APP_API)
    inside = fetch(store, [app_api], upstream=True, strategy="walk").subgraph.nodes
    vis = Visibility(frozenset(inside))
    found = agreements.findings(store, vis)
    assert found and {f.service.name for f in found} == {APP_API}
    assert all(vis.allows(i) for f in found for i in f.path.ci_ids)
    health = reports.health(store, vis, NOW)
    assert {f.service.name for f in health.agreement_gaps} == {APP_API}
