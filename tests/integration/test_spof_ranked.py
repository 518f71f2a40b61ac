"""Known answers of the ranked SPOF report on the shipped sample, on both stores: which CI
ranks first for Online Ferry Booking and why, the default top 10, all of them, and a
scoped caller's prices (cmdb.app.impact.spof over impact/spof_rank.py); then the demo as
``cmdb sample load`` makes it, with its year of history, where failure rates are observed.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from cmdb.app import impact as app
from cmdb.app.scope import Visibility
from cmdb.domain.model import CI
from cmdb.sample.history import load_history
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.refs import resolve_ci
from impact.queries import spof_report
from impact.spof import Spof
from impact.spof_rank import DEFAULT_LIMIT, REMEDIES
from tests.fakes import FakeClock

BOOKING, APP_API = "Online Ferry Booking", "Boarding Pass App API"
EVERY_SERVICE = {BOOKING, APP_API, "Identity & Sign-in", "Card Payments", "Passenger Notifications"}
EVERY_CUSTOMER = {"Leisure Travellers", "Freight Hauliers", "Island Residents' Card Holders"}
# The default answer: srv-03 takes every service; then what takes two or three of them
# and is down longest (a server, an instance at 99.9 %; VMs and databases at 99.95 %).
TOP_10 = [
    "srv-03",
    "payments-adapter-1",
    "srv-01",
    "vm-int-01",
    "notifier-1",
    "Harbourpay gateway endpoint",
    "identity-db",
    "vm-db-02",
    "srv-02",
    "bookings-db",
]


@pytest.fixture
def store(sample_store: GraphStore) -> GraphStore:
    return sample_store


def booking(store: GraphStore) -> CI:
    return resolve_ci(store, BOOKING)


def by_name(rows: list[Spof]) -> dict[str, Spof]:
    return {s.name: s for s in rows}


def test_srv_03_ranks_first_and_why(store: GraphStore) -> None:
    r = spof_report(store, booking(store))
    first = r.spofs[0]
    assert first.name == "srv-03" and first.rank == 1 and first.kind == "infrastructure"
    # Why: it takes down every service of the estate and all three customers (it hosts
    # identity-db's VM and the integration VM under payments and notifications) ...
    assert {s.name for s in first.services_lost} == EVERY_SERVICE
    assert set(first.customers_lost) == EVERY_CUSTOMER
    assert first.cost is not None and first.cost.sla_tightness == pytest.approx(0.6602, abs=1e-4)
    # ... and of the CIs that take every service, it is the one down longest (class
    # defaults: a server 99.9 %, a switch and a load balancer 99.99 %, a hall 99.995 %).
    everything = [s for s in r.spofs if {x.name for x in s.services_lost} == EVERY_SERVICE]
    assert [s.name for s in everything] == [
        "srv-03",
        "core-sw-01",
        "Gullhaven DC Hall 2",
        "Ironbridge Systems",
    ]
    assert [s.minutes_down for s in everything] == sorted(
        (s.minutes_down for s in everything), reverse=True
    )
    assert first.failure_rate_source == "default" and first.minutes_down == pytest.approx(526.0)
    assert first.remedy == REMEDIES["Compute"]


def test_every_row_says_what_would_remove_it(store: GraphStore) -> None:
    rows = by_name(spof_report(store, booking(store)).spofs)
    assert rows["srv-01"].remedy == (
        "spread the members of harbour-app-cluster over more hosts (this one carries 2 of 3)"
    )
    assert rows["bookings-db"].remedy == "a standby or replica"
    assert rows["core-sw-01"].remedy == "a redundant link"
    assert rows["Gullhaven DC Hall 2"].remedy == "a second site"
    assert rows["Gullhaven DC Hall 2"].kind == "location"
    assert rows["payments-adapter-1"].remedy == "a second instance of Payments Adapter"
    for name in ("Ironbridge Systems", "Harbourpay Ltd", "Card Payments"):
        assert rows[name].kind == "supplier"
        assert rows[name].remedy == "a second supplier or a contract with a stand-in"
    # bookings-db is Booking's and the app API's (both rest on the booking engine), not
    # the supporting services'.
    assert {s.name for s in rows["bookings-db"].services_lost} == {BOOKING, APP_API}


def test_the_default_top_10_and_all(store: GraphStore) -> None:
    top = app.spof(store, Visibility(), booking(store), limit=DEFAULT_LIMIT)
    assert [s.name for s in top.spofs] == TOP_10
    assert [s.rank for s in top.spofs] == list(range(1, 11))
    assert top.total == 27 and top.left_out == 17
    groups = {g.kind: g for g in top.groups}
    assert (groups["infrastructure"].found, groups["infrastructure"].shown) == (21, 10)
    assert (groups["supplier"].found, groups["supplier"].shown) == (5, 0)
    assert groups["supplier"].costliest == "Ironbridge Systems"
    assert (groups["location"].found, groups["location"].left_out) == (1, 1)
    assert groups["location"].costliest == "Gullhaven DC Hall 2"

    every = app.spof(store, Visibility(), booking(store))
    assert every.total == len(every.spofs) == 27 and every.left_out == 0
    assert [s.name for s in every.spofs[:10]] == TOP_10
    # The set is the redundancy-aware answer's: ranking changes the order only.
    unranked = {s.name for s in spof_report(store, booking(store)).spofs}
    assert {s.name for s in every.spofs} == unranked
    assert not {"vm-app-01", "vm-app-02", "booking-web-1"} & unranked


def test_a_scoped_caller_is_priced_over_the_services_it_sees(store: GraphStore) -> None:
    app_api = resolve_ci(store, APP_API)
    ids = frozenset(c.id for c in store.list_cis(CIFilter(), limit=1000).items) - {app_api.id}
    seen = app.spof(store, Visibility(ids), booking(store))
    first = seen.spofs[0]
    assert first.name == "srv-03"
    assert {s.name for s in first.services_lost} == EVERY_SERVICE - {APP_API}
    # The residents are only the app API's customers: not this caller's to see.
    assert set(first.customers_lost) == EVERY_CUSTOMER - {"Island Residents' Card Holders"}
    full = by_name(spof_report(store, booking(store)).spofs)["srv-03"]
    assert first.cost is not None and full.cost is not None
    assert first.cost.value < full.cost.value


# With the year of history: the figures observed where the CMDB recorded outages.
DEMO_TOP_10 = [
    "srv-03",
    "payments-adapter-1",
    "srv-01",
    "notifier-1",
    "Harbourpay gateway endpoint",
    "core-sw-01",
    "srv-02",
    "Notifier",
    "bookings-db",
    "vol-bookings-data",
]


@pytest.fixture
def demo_at(store: GraphStore, sample_clock: FakeClock) -> datetime:
    """The sample's year of history loaded; the instant to ask at (the history is placed
    relative to the load, so asking at a fixed instant after it keeps the year fixed)."""
    load_history(store, actor="tester")
    return sample_clock.advance(minutes=1)


def test_on_the_demo_srv_03_still_ranks_first_from_its_observed_outages(
    store: GraphStore, demo_at: datetime
) -> None:
    top = app.spof(store, Visibility(), booking(store), as_of=demo_at, limit=DEFAULT_LIMIT)
    assert [s.name for s in top.spofs] == DEMO_TOP_10
    assert top.total == 27 and top.left_out == 17
    first = top.spofs[0]
    assert {s.name for s in first.services_lost} == EVERY_SERVICE
    assert first.failure_rate_source == "observed"
    assert first.failure_rate_basis == "2 failures over 12 months"
    # Observed: less than the class default's 526 min a year, still the longest of the
    # CIs that take every service down (the switch was down once, 95 min).
    assert 400 < first.minutes_down < 526
    rows = by_name(app.spof(store, Visibility(), booking(store), as_of=demo_at).spofs)
    assert rows["core-sw-01"].failure_rate_basis == "1 failure over 12 months"
    assert rows["core-sw-01"].minutes_down < first.minutes_down
    # The flaky hosted gateway (six outages) climbs above the databases.
    assert rows["Harbourpay gateway endpoint"].failure_rate_basis == "6 failures over 12 months"
    assert rows["Harbourpay gateway endpoint"].rank < rows["identity-db"].rank
    # Nothing recorded for an instance in a year: its class default stands, and says so.
    assert rows["payments-adapter-1"].failure_rate_source == "default"
    assert "no outage recorded over 12 months" in rows["payments-adapter-1"].failure_rate_basis
