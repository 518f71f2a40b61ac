"""The impact engine on the shipped sample estate, the same answers on both stores.

Each test runs once on the embedded store and once on a real Neo4j (``neo4j`` mark; the
session starts the server, it never skips). Answers are compared by CI name: ids differ
between stores, the impact must not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cmdb.domain.changeset import ChangeSet, CIRef, RelRetire, RelUpsert
from cmdb.domain.identifiers import natural_key
from cmdb.domain.model import CI
from cmdb.domain.records import Incident
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from impact.queries import (
    Limits,
    availability_report,
    cause_report,
    change_impact,
    incident_impact,
    recovery_report,
    spof_report,
)
from impact.report import ImpactReport
from tests.fakes import FakeClock

LOADED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
BOOKING, APP_API, IDENTITY = "Online Ferry Booking", "Boarding Pass App API", "Identity & Sign-in"


@pytest.fixture
def sample_clock() -> FakeClock:
    """The sample is loaded at LOADED here, not at the conftest's instant."""
    return FakeClock(LOADED)


@pytest.fixture
def clock(sample_clock: FakeClock) -> FakeClock:
    return sample_clock


@pytest.fixture
def store(sample_store: GraphStore) -> GraphStore:
    """The sample estate on each store (tests/integration/conftest.py)."""
    return sample_store


def ci(store: GraphStore, name: str) -> CI:
    return resolve_ci(store, name)


def services(report: ImpactReport) -> dict[str, str]:
    return {s.name: s.severity for s in report.services}


def record(store: GraphStore, **records: Any) -> None:
    store.apply(ChangeSet(actor="tester", source="manual", **records))


def test_a_host_under_two_of_three_cluster_vms_takes_both_customer_services_down(
    store: GraphStore,
) -> None:
    r = change_impact(store, [ci(store, "srv-01")], *WINDOW, now=LOADED)
    assert services(r) == {BOOKING: "down", APP_API: "down", IDENTITY: "down"}
    by_name = {c.name: c for c in r.cis}
    # The quorum and every member srv-01 takes with it (issue 14 item 7).
    quorum = "harbour-app-cluster: 2 of 3 members needed, 1 left (vm-app-01, vm-app-02 down)"
    assert by_name["harbour-app-cluster"].reason == quorum + ": below quorum"
    booking = next(s for s in r.services if s.name == BOOKING)
    assert booking.paths[0].names[:3] == [
        "srv-01",
        booking.paths[0].names[1],
        "harbour-app-cluster",
    ]
    # The path goes through one VM, and says the cluster lost two.
    for s in r.services:
        assert quorum in s.paths[0].text, s.paths[0].text
        note = next(n for n in s.paths[0].groups if n.kind == "cluster")
        assert (note.name, note.needed, note.members, note.left) == (
            "harbour-app-cluster", 2, 3, 1
        )  # fmt: skip
        assert sorted(store.get_ci(i).name for i in note.named) == ["vm-app-01", "vm-app-02"]
    # ... and that the application on it lost both replicas (which one, the ids decide).
    replicas = next(n for n in booking.paths[0].groups if n.kind == "replicas")
    assert (replicas.needed, replicas.members, replicas.left) == (1, 2, 0)
    assert booking.paths[0].names[-1] == BOOKING and booking.customers == [
        "Freight Hauliers",
        "Leisure Travellers",
    ]
    # 02:00-03:00 UTC is outside the booking service's hours (05:00-23:00 London).
    assert booking.window is not None and booking.window.minutes_in_hours == 0
    assert r.caps.strategy == "walk" and r.caps.store_calls == 1
    assert not r.caps.truncated_by_nodes
    assert {c.name for c in r.cis if c.ci_class == "Customer"} == {
        "Freight Hauliers", "Leisure Travellers", "Island Residents' Card Holders"
    }  # fmt: skip


def test_one_replica_leaves_its_application_at_risk(store: GraphStore) -> None:
    """The walk brings the other replica (a leaf), so one instance down is not an outage."""
    r = change_impact(store, [ci(store, "booking-web-1")], *WINDOW, now=LOADED)
    assert services(r) == {BOOKING: "at_risk"}
    web = next(c for c in r.cis if c.name == "Booking Web")
    assert web.severity == "at_risk" and web.reason == (
        "Booking Web: 1 of 2 replicas needed, 1 left (booking-web-1 down): redundancy reduced"
    )
    assert r.caps.strategy == "walk" and r.caps.store_calls == 1


def test_a_hall_down_leaves_its_data_centre_affected_not_down(store: GraphStore) -> None:
    r = change_impact(store, [ci(store, "Gullhaven DC Hall 2")], *WINDOW, now=LOADED)
    by_name = {c.name: c for c in r.cis}
    assert by_name["srv-01"].severity == "down"  # located in the hall
    dc = by_name["Gullhaven Data Centre"]
    assert dc.severity == "degraded"
    assert dc.reason == "Gullhaven Data Centre: 1 of 1 members hit (Gullhaven DC Hall 2 down)"
    assert dc.paths[0].names == ["Gullhaven DC Hall 2", "Gullhaven Data Centre"]


def test_one_vm_is_at_risk_and_a_second_failure_tips_the_quorum(
    store: GraphStore, clock: FakeClock
) -> None:
    vm3, vm1 = ci(store, "vm-app-03"), ci(store, "vm-app-01")
    one = change_impact(store, [vm3], *WINDOW, now=LOADED)
    assert services(one) == {BOOKING: "at_risk", APP_API: "at_risk", IDENTITY: "at_risk"}
    assert next(c for c in one.cis if c.name == "harbour-app-cluster").reason.endswith(
        "redundancy reduced"
    )
    clock.advance(minutes=5)
    record(
        store,
        incidents=[
            Incident(
                id="INC-1",
                title="vm-app-03 lost",
                ci_ids=[vm3.id],
                opened_at=LOADED + timedelta(minutes=1),
            )
        ],
    )
    two = change_impact(store, [vm1], *WINDOW, now=LOADED + timedelta(minutes=6))
    assert services(two) == {BOOKING: "down", APP_API: "down", IDENTITY: "down"}
    assert [f.name for f in two.already_down] == ["vm-app-03"]
    assert all(s.new for s in two.services)


def test_single_points_of_failure_of_the_booking_service(store: GraphStore) -> None:
    r = spof_report(store, ci(store, BOOKING))
    names = {s.name for s in r.spofs}
    assert {"bookings-db", "srv-01", "srv-02", "harbour-app-cluster", "lb-edge-01"} <= names
    assert not names & {"vm-app-01", "vm-app-02", "vm-app-03", "booking-web-1", "booking-engine-2"}
    assert {s.name: s.funnel for s in r.spofs}["srv-01"] == "harbour-app-cluster"
    assert len(r.spofs) == 27 and r.cone_size == 37


def test_availability_and_recovery(store: GraphStore) -> None:
    a = availability_report(store, ci(store, BOOKING), now=LOADED)
    assert a.exact and a.method == "factoring"
    assert a.availability == pytest.approx(0.991727393730115, abs=1e-12)
    assert a.target_percent == 99.9 and a.agreed_minutes == 31 * 18 * 60
    assert 0.9 < (a.breach_probability or 0) < 1
    plan = recovery_report(store, ci(store, BOOKING))
    assert plan.cold_start
    assert {"vm-app-01", "vm-app-02", "vm-app-03"} & set(plan.deferred)
    order = [s.name for s in plan.steps]
    assert order.index("srv-02") < order.index("vm-db-01") < order.index("bookings-db")
    assert order[-1] == BOOKING


def test_every_fetch_strategy_agrees(store: GraphStore) -> None:
    for name in ("srv-01", "vm-app-03", "core-sw-01", "Gullhaven DC Hall 2"):
        one = change_impact(
            store, [ci(store, name)], *WINDOW, now=LOADED, limits=Limits(strategy="one-call")
        )
        rounds = change_impact(
            store, [ci(store, name)], *WINDOW, now=LOADED, limits=Limits(strategy="rounds")
        )
        walk = change_impact(
            store, [ci(store, name)], *WINDOW, now=LOADED, limits=Limits(strategy="walk")
        )
        assert {c.name: c.severity for c in one.cis} == {c.name: c.severity for c in rounds.cis}
        assert {c.name: c.severity for c in walk.cis} == {c.name: c.severity for c in rounds.cis}
        assert rounds.caps.fetched_cis <= one.caps.fetched_cis
        assert walk.caps.fetched_cis == rounds.caps.fetched_cis and walk.caps.store_calls == 1


def test_as_of_answers_on_the_graph_as_it_was(store: GraphStore, clock: FakeClock) -> None:
    before = clock.advance(hours=1)
    clock.advance(hours=1)
    vm = CIRef(identifier=natural_key("VirtualMachine", "vm-db-01"))
    record(
        store,
        rel_retires=[
            RelRetire(
                type="HOSTED_ON",
                source=vm,
                target=CIRef(identifier=natural_key("Server", "srv-02")),
            )
        ],
        rel_upserts=[
            RelUpsert(
                type="HOSTED_ON",
                source=vm,
                target=CIRef(identifier=natural_key("Server", "srv-03")),
            )
        ],
    )
    srv2, srv3 = ci(store, "srv-02"), ci(store, "srv-03")
    then = change_impact(store, [srv2], *WINDOW, as_of=before)
    now = change_impact(store, [srv2], *WINDOW)
    assert "vm-db-01" in {c.name for c in then.cis} and then.as_of == before
    assert "vm-db-01" not in {c.name for c in now.cis}
    assert "vm-db-01" in {c.name for c in change_impact(store, [srv3], *WINDOW).cis}
    assert "vm-db-01" not in {
        c.name for c in change_impact(store, [srv3], *WINDOW, as_of=before).cis
    }
    assert "srv-02" in {s.name for s in spof_report(store, ci(store, BOOKING), as_of=before).spofs}


def test_incident_time_left_before_breach(store: GraphStore) -> None:
    db = ci(store, "bookings-db")
    opened = datetime(2026, 3, 10, 11, 50, tzinfo=UTC)
    record(
        store,
        incidents=[
            Incident(
                id="INC-7",
                title="bookings-db down",
                ci_ids=[db.id],
                opened_at=opened,
                priority="P1",
            )
        ],
    )
    r = incident_impact(store, [db], now=opened + timedelta(minutes=10))
    booking = next(s for s in r.services if s.name == BOOKING)
    assert booking.severity == "down" and booking.incident is not None
    # March: 31 days of 05:00-23:00 = 33,480 minutes; 0.1 % = 33.48 allowed; 10 spent.
    assert booking.incident.minutes_so_far == 10
    assert booking.incident.service_minutes_left == pytest.approx(23.48)
    assert booking.incident.breach_at == datetime(2026, 3, 10, 12, 23, 28, 800000, tzinfo=UTC)
    assert r.services[0].score.value >= booking.score.value


def test_common_cause_favours_the_recent_change(store: GraphStore, clock: FakeClock) -> None:
    clock.advance(hours=2)
    record(
        store,
        ci_upserts=[
            {
                "class": "Database",
                "name": "bookings-db",
                "identifiers": [natural_key("Database", "bookings-db")],
                "version": "16.5",
            }
        ],
    )
    clock.advance(minutes=30)
    affected = [ci(store, BOOKING), ci(store, APP_API)]
    r = cause_report(store, affected, lookback=timedelta(hours=24), now=clock.now)
    top = r.candidates[0]
    assert top.name == "bookings-db" and top.explained == 2 and top.recency > 0.9
    assert top.changes and "version" in top.changes[0].what


def test_a_report_built_without_validation_is_the_validated_one(store: GraphStore) -> None:
    # The engine builds its CIs and paths with cmdb.domain.built (no validation): each is
    # what validating the same values gives, dumps and fields set included.
    for report in (
        change_impact(store, [ci(store, "srv-01")], *WINDOW, now=LOADED),
        incident_impact(store, [ci(store, "vm-app-01")], now=LOADED),
    ):
        assert report.cis and any(c.paths for c in report.cis)
        checked = ImpactReport.model_validate(report.model_dump())
        assert checked == report
        assert checked.model_dump_json() == report.model_dump_json()
        for item, again in zip(report.cis, checked.cis, strict=True):
            assert item.model_fields_set == again.model_fields_set
            for path, path_again in zip(item.paths, again.paths, strict=True):
                assert path.model_fields_set == path_again.model_fields_set
