"""The evidence rules (impact/evidence.py): observed beats declared beats default; outages
clipped to the observation period and overlapping ones counted once; and the answers
(availability, breach, recovery) carrying where each figure came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cmdb.domain.records import DiscoveryRun, Incident, RunProblem, RunStatus
from impact.availability import service_availability
from impact.breach import with_sla
from impact.evidence import (
    MINUTES_PER_YEAR,
    Records,
    failure_rate,
    gather,
    observation_period,
    reliability,
    service_record,
    tally,
)
from impact.recovery import recovery_plan
from tests.unit.impact.builders import ci, topo

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def inc(
    ref: str,
    ci_id: str,
    opened: datetime,
    minutes: float | None,
    *,
    services: tuple[str, ...] = (),
    outage: bool = True,
) -> Incident:
    return Incident(
        id=ref,
        title=ref,
        ci_ids=[ci_id] if ci_id else [],
        service_ids=list(services),
        opened_at=opened,
        resolved_at=opened + timedelta(minutes=minutes) if minutes is not None else None,
        outage=outage,
    )


# A record a year back starts the observation period: the last 12 months.
START = inc("INC-0", "elsewhere", NOW - 400 * DAY, 10)


def records(*incidents: Incident, runs: tuple[DiscoveryRun, ...] = ()) -> Records:
    return Records(incidents=[START, *incidents], runs=list(runs), now=NOW)


def test_observed_beats_declared_beats_default() -> None:
    declared = ci("a", "Server", attributes={"availability": 99.99, "mttr": "2h"})
    plain = ci("b", "Server")
    found = records(inc("I1", "a", NOW - 100 * DAY, 120), inc("I2", "a", NOW - 50 * DAY, 60))
    ev = gather([declared, plain], found)
    a = ev["a"]
    assert a.source == "observed" and a.failures == 2
    period = observation_period(found)
    assert period is not None
    assert a.availability.value == pytest.approx(1 - 180 / (period.days * 1440))
    assert a.availability.basis == "2 outages, 180 min down over 12 months"
    assert (a.mttr_minutes.value, a.mttr_minutes.source) == (90.0, "observed")
    assert a.mttr_minutes.basis == "mean of 2 recorded repairs over 12 months"
    # Without outages: the declared figures, and the basis says nothing failed.
    d = gather([declared], records())["a"]
    assert d.availability.value == pytest.approx(0.9999) and d.availability.source == "declared"
    assert d.availability.basis == "declared availability; no outage recorded over 12 months"
    assert (d.mttr_minutes.value, d.mttr_minutes.basis) == (120.0, "declared mttr")
    # Nothing recorded or declared: the class's defaults.
    b = ev["b"]
    assert (b.availability.value, b.source, b.mttr_minutes.value) == (0.999, "default", 240.0)
    assert b.availability.basis == "default for Server; no outage recorded over 12 months"
    assert b.on_default and not a.on_default


def test_declared_rto_and_mtbf() -> None:
    r = reliability(ci("a", "Database", attributes={"rto_minutes": 45, "mtbf_hours": 2000}))
    assert (r.mttr_minutes.value, r.mttr_minutes.basis) == (
        45.0,
        "declared rto_minutes (recovery objective)",
    )
    # No availability declared: it follows from the declared MTBF and repair time.
    assert r.availability.source == "declared"
    assert r.availability.value == pytest.approx(2000 * 60 / (2000 * 60 + 45))
    assert failure_rate(r) == pytest.approx(MINUTES_PER_YEAR / 60 / 2000)
    # A recovery_minutes attribute (what recovery plans read before) is a declared MTTR.
    m = reliability(ci("b", "VirtualMachine", attributes={"recovery_minutes": 12}))
    assert (m.mttr_minutes.value, m.mttr_minutes.source) == (12.0, "declared")
    # A value that is not a duration is not declared.
    bad = reliability(
        ci("c", "VirtualMachine", attributes={"mttr": "soon", "availability": "high"})
    )
    assert bad.source == "default" and bad.mttr_minutes.source == "default"


def test_an_outage_is_clipped_to_the_period() -> None:
    # Began 20 days before the period, lasted 30 days: 10 days of it fall inside.
    period_start = NOW - 365.25 * DAY
    long = inc("I1", "a", period_start - 20 * DAY, 30 * 1440)
    r = gather([ci("a", "Server")], records(long))["a"]
    assert r.failures == 1
    assert r.availability.value == pytest.approx(1 - 10 / 365.25, rel=1e-6)
    assert r.mttr_minutes.value == 30 * 1440  # a repair is as long as it was, not clipped
    # One that ended before the period is not seen.
    old = inc("I2", "a", period_start - 40 * DAY, 60)
    assert gather([ci("a", "Server")], records(old))["a"].source == "default"


def test_overlapping_outages_are_counted_once() -> None:
    t = NOW - 30 * DAY
    two = records(
        inc("I1", "a", t, 60),  # 0-60
        inc("I2", "a", t + timedelta(minutes=30), 60),  # 30-90: the same failure
        inc("I3", "a", t + 10 * DAY, 20),
    )
    r = gather([ci("a", "Server")], two)["a"]
    assert r.failures == 2
    assert r.availability.basis == "2 outages, 110 min down over 12 months"
    assert r.mttr_minutes.value == pytest.approx((90 + 20) / 2)


def test_an_open_incident_runs_to_now_and_has_no_repair_time_yet() -> None:
    r = gather([ci("a", "Server")], records(inc("I1", "a", NOW - timedelta(hours=2), None)))["a"]
    assert r.failures == 1 and r.availability.basis.startswith("1 outage, 120 min down")
    assert r.mttr_minutes.source == "default"  # no resolved repair to average


def test_a_discovery_run_that_found_the_host_unreachable_is_an_outage() -> None:
    run = DiscoveryRun(
        id="run-1",
        source="ansible-facts",
        started_at=NOW - 3 * DAY,
        ended_at=NOW - 3 * DAY + timedelta(minutes=5),
        status=RunStatus.SUCCEEDED,
        problems=[
            RunProblem(
                severity="error", where="x.json", message="host srv-01.example unreachable: ssh"
            )
        ],
    )
    r = gather([ci("srv-01", "Server")], records(runs=(run,)))["srv-01"]
    assert r.failures == 1 and r.source == "observed"
    # Inside an incident's outage, the sighting adds no failure.
    during = inc("I1", "srv-01", NOW - 3 * DAY - timedelta(minutes=10), 60)
    found = records(during, runs=(run,))
    assert gather([ci("srv-01", "Server")], found)["srv-01"].failures == 1


def test_the_period_starts_with_the_first_record_and_needs_four_weeks() -> None:
    recent = Records(incidents=[inc("I1", "a", NOW - 10 * DAY, 30)], runs=[], now=NOW)
    assert observation_period(recent) is None
    assert gather([ci("a", "Server")], recent)["a"].source == "default"
    three = Records(incidents=[inc("I1", "a", NOW - 91 * DAY, 30)], runs=[], now=NOW)
    period = observation_period(three)
    assert period is not None and period.describe() == "over 3 months"
    assert observation_period(Records(incidents=[], runs=[], now=NOW)) is None


def test_failure_rates_per_year() -> None:
    found = records(*(inc(f"I{n}", "a", NOW - (n + 1) * 30 * DAY, 10) for n in range(3)))
    period = observation_period(found)
    assert period is not None
    a = gather([ci("a", "Server")], found)["a"]
    assert failure_rate(a) == pytest.approx(3 / (period.days / 365.25))
    assert failure_rate(reliability(ci("b", "Server"))) == pytest.approx(1.5)  # class default
    assert failure_rate(reliability(ci("c", "Application"))) == 0.0  # logical


def test_logical_cis_are_not_counted_among_the_components() -> None:
    ev = gather([ci("s", "Service"), ci("app", "Application"), ci("x", "Server")], None)
    t = tally(ev.values())
    assert (t.observed, t.declared, t.default) == (0, 0, 1) and t.mostly_defaults
    assert ev["app"].availability.basis == "its structure" and ev["app"].logical
    # An application with failures of its own is a component, observed.
    found = records(inc("I1", "app", NOW - 5 * DAY, 15))
    app = gather([ci("app", "Application")], found)["app"]
    assert not app.logical and app.source == "observed"


def test_a_service_record_counts_its_outages_once() -> None:
    t = NOW - 40 * DAY
    found = records(
        inc("I1", "x", t, 60, services=("s",)),
        inc("I2", "y", t + timedelta(minutes=30), 60, services=("s",)),
        inc("I3", "y", t + 5 * DAY, 30, services=("s",), outage=False),  # degraded only
    )
    rec = service_record(found, "s")
    assert rec is not None and (rec.outages, rec.downtime_minutes) == (1, 90.0)
    assert rec.mean_minutes == 90.0


SLA = {
    "kind": "customer_facing",
    "sla": {"name": "gold", "availability_target": 99.9},
}


def test_the_answers_say_where_each_figure_came_from() -> None:
    g = topo(
        "s:Service db:Database vm:VirtualMachine",
        "s DEPENDS_ON db, db RUNS_ON vm",
        extra={"s": {"service": SLA}},
    )
    bare = service_availability(g, "s")
    assert bare.evidence is not None and bare.evidence.default == 2 and bare.warning
    assert bare.figures[0].source == "default"
    found = records(
        inc("I1", "db", NOW - 60 * DAY, 30, services=("s",)),
        inc("I2", "db", NOW - 20 * DAY, 50, services=("s",)),
    )
    seen = service_availability(g, "s", records=found)
    assert seen.evidence is not None
    assert (seen.evidence.observed, seen.evidence.default) == (1, 1)
    assert seen.warning is None  # half on defaults is not "mostly"
    assert seen.availability > bare.availability  # the database did better than its default
    assert seen.observed_basis == "2 outages, 80 min over 12 months"
    sla = with_sla(seen, g, NOW, records=found)
    fig = {f.figure: f for f in sla.figures}
    assert (fig["mean outage"].value, fig["mean outage"].source) == (40.0, "observed")
    assert fig["allowed downtime"].source == "declared"
    assert fig["P(breach)"].source == "default"  # as good as the weakest part: a tie of 1-1
    # Without the service's own record, the mean outage comes from its components.
    parts = with_sla(bare, g, NOW)
    outage = {f.figure: f for f in parts.figures}["mean outage"]
    assert outage.source == "default" and outage.basis.startswith("repair times of 2 components")
    # Recovery: each step's time and its source; the service's time back.
    plan = recovery_plan(g, "s", records=found)
    steps = {st.name: st for st in plan.steps}
    assert (steps["db"].recovery_minutes, steps["db"].source) == (40.0, "observed")
    assert (steps["vm"].recovery_minutes, steps["vm"].source) == (30.0, "default")
    assert [(b.name, b.back_minute) for b in plan.services] == [("s", 70.0)]
    assert (plan.on_defaults, plan.timed_steps) == (1, 2) and plan.warning is None
