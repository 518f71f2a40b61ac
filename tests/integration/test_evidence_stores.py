"""The demo's year of history and the evidence behind availability, breach and recovery
(issue 14 items 1, 2 and 4): known answers on both stores, for both ways of loading the
sample (the estate file, and through the discovery adapters as ``make demo`` does).

The history is placed relative to the load (the store's FakeClock at SAMPLE_NOW), so every
figure here is fixed by the seed, whatever day the tests run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from cmdb.domain.records import ChangeOutcome, ChangeState, IncidentState
from cmdb.practice.lifecycle import NEXT, SHORTCUTS
from cmdb.practice.policy import default_policy
from cmdb.sample.history import load_history
from cmdb.sample.load import load_sample
from cmdb.sample.via_discovery import load_via_discovery
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.refs import resolve_ci
from impact.queries import availability_report, recovery_report
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import FakeClock
from tests.integration.conftest import SAMPLE_NOW

BOOKING = "Online Ferry Booking"
PLANTED = {"INC-2026-08871", "INC-2026-08872", "RFC-2026-0871"}  # cmdb/sample/planted.py

# What differs between the two loads: the estate file has ten application instances
# (on class defaults), discovery has Kubernetes workloads, containers and their balancers.
KNOWN = {
    "estate": {"availability": 0.9934247075272377, "defaults": 9, "back": 1092.75},
    "discovery": {"availability": 0.9916900783169714, "defaults": 8, "back": 1099.75},
}


@pytest.fixture(
    params=[
        pytest.param((kind, how), id=f"{kind}-{how}", marks=STORE_MARKS.get(kind, ()))
        for kind in STORE_FACTORIES
        for how in ("estate", "discovery")
    ]
)
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[GraphStore, str]]:
    kind, how = request.param
    s = STORE_FACTORIES[kind](tmp_path, FakeClock(SAMPLE_NOW), request)
    if how == "estate":
        load_sample(s, actor="tester", history=True)
    else:
        load_via_discovery(s, actor="tester", history=True)
    try:
        yield s, how
    finally:
        s.close()


def test_a_year_of_valid_history(demo: tuple[GraphStore, str]) -> None:
    store, _how = demo
    incidents = [i for i in store.list_incidents() if i.id not in PLANTED]
    changes = [c for c in store.list_changes() if c.id not in PLANTED]
    assert (len(incidents), len(changes), len(store.list_problems())) == (37, 58, 2)
    year = SAMPLE_NOW - timedelta(days=365)  # the records start 364 days before the load day
    policy = default_policy()
    for inc in incidents:
        assert inc.resolved_at is not None and year < inc.opened_at < inc.resolved_at
        assert inc.resolved_at < SAMPLE_NOW - timedelta(days=2)  # the last two days are quiet
        closed = SAMPLE_NOW - inc.resolved_at > timedelta(days=7)
        assert inc.state is (IncidentState.CLOSED if closed else IncidentState.RESOLVED)
        assert inc.impact is not None and inc.urgency is not None and len(inc.ci_ids) == 1
        assert inc.priority is policy.priority_for(inc.impact, inc.urgency)
        assert inc.major == (inc.priority in policy.major_priorities)
    # Outages of one CI never overlap (each incident is one failure).
    by_ci: dict[str, list[tuple[datetime, datetime]]] = {}
    for inc in incidents:
        assert inc.resolved_at is not None
        by_ci.setdefault(inc.ci_ids[0], []).append((inc.opened_at, inc.resolved_at))
    for spans in by_ci.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in pairwise(spans))
    # Every change walked the lifecycle in order, as the practice allows.
    for ch in changes:
        steps = [e.state for e in ch.log]
        assert steps[0] is ChangeState.DRAFT and steps[-1] is ch.state
        for a, b in pairwise(steps):
            assert b in (*NEXT[a], *SHORTCUTS[ch.type].get(a, ())), (ch.id, a, b)
        assert [e.at for e in ch.log] == sorted(e.at for e in ch.log)
    # The failed changes caused the incidents their reviews link, and those name them back.
    failed = [c for c in changes if c.outcome in (ChangeOutcome.FAILED, ChangeOutcome.BACKED_OUT)]
    assert len(failed) == 4
    linked = {i.id: i for i in incidents if i.change_ids}
    assert sorted(i for c in failed for i in c.incident_ids) == sorted(linked)
    for c in failed:
        inc = linked[c.incident_ids[0]]
        assert inc.change_ids == [c.id] and c.planned_start is not None
        assert c.planned_start < inc.opened_at < c.planned_start + timedelta(hours=1)
    upcoming = [c for c in changes if c.planned_start and c.planned_start > SAMPLE_NOW]
    assert {c.state for c in upcoming} == {ChangeState.SCHEDULED} and len(upcoming) == 2
    # Loading again writes nothing.
    assert load_history(store, actor="tester").written == 0


def test_availability_breach_and_recovery_rest_on_the_history(
    demo: tuple[GraphStore, str],
) -> None:
    store, how = demo
    known = KNOWN[how]
    booking = resolve_ci(store, BOOKING)
    a = availability_report(store, booking, now=SAMPLE_NOW)
    assert a.availability == pytest.approx(known["availability"], abs=1e-12)
    assert a.evidence is not None and a.warning is None
    assert (a.evidence.observed, a.evidence.declared, a.evidence.default) == (
        17,
        0,
        known["defaults"],
    )
    assert a.evidence.observed_over == "over 12 months"
    srv = next(c for c in a.components if c.name == "srv-01")
    assert (srv.evidence, srv.failures, srv.mttr_minutes) == ("observed", 2, 261.0)
    assert srv.basis == "2 outages, 522 min down over 12 months"
    assert srv.availability == pytest.approx(1 - 522 / (365 * 1440), rel=1e-3)
    notifier = next(c for c in a.components if c.name == "Notifier")
    assert notifier.evidence == "observed" and notifier.failures == 8 and not notifier.logical
    # The service's own record, and where each figure of the SLA's answer comes from.
    assert a.observed_basis == "32 outages, 2376 min over 12 months"
    assert a.observed_availability == pytest.approx(1 - 2376 / (365 * 1440), rel=1e-3)
    figures = {f.figure: f for f in a.figures}
    assert {k: f.source for k, f in figures.items()} == {
        "availability": "observed",
        "agreed minutes": "declared",
        "allowed downtime": "declared",
        "expected downtime": "observed",
        "mean outage": "observed",
        "P(breach)": "observed",
    }
    assert a.mean_outage_minutes == pytest.approx(2376 / 32, abs=0.01)
    assert 0.8 < (a.breach_probability or 0) < 0.95

    plan = recovery_report(store, booking, now=SAMPLE_NOW)
    assert plan.total_minutes == pytest.approx(known["back"])
    assert not plan.unknown_times and plan.warning is None
    steps = {s.name: s for s in plan.steps}
    assert (steps["srv-01"].recovery_minutes, steps["srv-01"].source) == (261.0, "observed")
    assert steps["srv-01"].basis == "mean of 2 recorded repairs over 12 months"
    assert steps["Gullhaven DC Hall 2"].basis == "default for Location"
    back = [b.name for b in plan.services]
    assert back[-1] == BOOKING and set(back) == {
        BOOKING,
        "Card Payments",
        "Passenger Notifications",
        "Identity & Sign-in",
    }
    assert plan.services[-1].back_minute == plan.total_minutes


def test_without_history_the_answers_say_they_rest_on_defaults(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "cmdb.db", clock=FakeClock(SAMPLE_NOW))
    try:
        load_sample(store, actor="tester")
        booking = resolve_ci(store, BOOKING)
        a = availability_report(store, booking, now=SAMPLE_NOW)
        assert a.evidence is not None and a.evidence.observed == 0
        assert a.evidence.observed_over is None and a.observed_availability is None
        assert a.warning is not None and a.warning.startswith("this availability rests mostly")
        assert {f.source for f in a.figures if f.figure != "agreed minutes"} <= {
            "default",
            "declared",
        }
        plan = recovery_report(store, booking, now=SAMPLE_NOW)
        assert plan.warning is not None and plan.on_defaults == plan.timed_steps > 0
        assert all(s.time_known for s in plan.steps)  # no "+0 ?" rows
    finally:
        store.close()
