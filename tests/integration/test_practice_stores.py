"""The change and incident practice on the shipped sample estate, on both stores.

Each test runs once on the embedded store and once on a real Neo4j (``neo4j`` mark; the
session starts the server, it never skips). Known answers: risk classes, collisions (a
joint quorum break no single change causes), blackout and maintenance violations, the
suggested window, the post-implementation review, incident priority and clocks.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelRetire
from cmdb.domain.errors import InvalidInput
from cmdb.domain.history import HistoryOp
from cmdb.domain.identifiers import natural_key
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangePriority,
    ChangeState,
    ChangeType,
    ExpectedImpact,
    Incident,
    Level,
    RiskClass,
)
from cmdb.domain.service import Blackout, ServiceCalendar, TimeRange, Weekday
from cmdb.practice.changes import (
    assess,
    assess_change,
    create_change,
    save,
    transition_change,
    update_change,
)
from cmdb.practice.incidents import clocks, mark, open_incident, reprioritise
from cmdb.practice.policy import default_policy
from cmdb.practice.review import review_change
from cmdb.practice.scheduling import Planner
from cmdb.practice.sites import sites_of
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.fakes import FakeClock

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# Tuesday 1 December 2026, 02:00-03:00 UTC (= London): outside every service's hours.
NIGHT = (datetime(2026, 12, 1, 2, 0, tzinfo=UTC), datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
BOOKING, APP_API, IDENTITY = "Online Ferry Booking", "Boarding Pass App API", "Identity & Sign-in"
POLICY = default_policy()


@pytest.fixture
def clock(sample_clock: FakeClock) -> FakeClock:
    return sample_clock


@pytest.fixture
def store(sample_store: GraphStore) -> GraphStore:
    """The sample estate on each store (tests/integration/conftest.py)."""
    return sample_store


def cid(store: GraphStore, name: str) -> str:
    return resolve_ci(store, name).id


def rfc(store: GraphStore, change_id: str, *cis: str, window: Any = NIGHT, **kw: Any) -> Change:
    return create_change(
        store,
        Change(
            id=change_id,
            title=f"work on {', '.join(cis)}",
            ci_ids=[cid(store, c) for c in cis],
            planned_start=window[0] if window else None,
            planned_end=window[1] if window else None,
            reason="security patches",
            backout_plan="restore the snapshot",
            **kw,
        ),
        actor="alice",
        now=NOW,
    )


def set_service_windows(store: GraphStore, name: str, **fields: Any) -> None:
    svc = resolve_ci(store, name)
    assert svc.service is not None
    details = svc.service.model_copy(update=fields)
    store.apply(
        ChangeSet(
            actor="tester",
            source="manual",
            ci_upserts=[
                {
                    "id": svc.id,
                    "class": "Service",
                    "name": svc.name,
                    "service": details.model_dump(mode="json"),
                }
            ],
        )
    )


# -- 1. the RFC and its lifecycle, persisted ------------------------------------------------


def test_every_rfc_field_round_trips_and_history_records_each_transition(
    store: GraphStore, clock: FakeClock
) -> None:
    vm = cid(store, "vm-app-01")
    made = rfc(
        store,
        "RFC-1",
        "vm-app-01",
        ci_versions={vm: "5.15.2"},
        priority=ChangePriority.HIGH,
        related_changes=["RFC-0"],
        references=["KE-12"],
        expected_impact=ExpectedImpact.MINOR,
        business_benefit="closes CVE-2026-0001",
        resources=["platform on-call"],
        requester="bob",
        service_ids=[cid(store, BOOKING)],
    )
    assert store.get_change("RFC-1") == made
    assert [e.state for e in made.log] == [ChangeState.DRAFT]
    clock.advance(minutes=5)
    _, result = assess_change(store, "RFC-1", POLICY, actor="carol", now=clock.now)
    for to in (ChangeState.AUTHORISED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTED):
        clock.advance(minutes=5)
        transition_change(store, "RFC-1", to, actor="carol", now=clock.now, note=to.value)
    got = store.get_change("RFC-1")
    assert got.state is ChangeState.IMPLEMENTED and got.ci_versions == {vm: "5.15.2"}
    assert got.risk is not None and got.risk.risk_class is result.risk_class is RiskClass.LOW
    assert [e.state.value for e in got.log] == [
        "draft", "assessed", "authorised", "scheduled", "implemented"
    ]  # fmt: skip
    states = [
        (h.before, h.after)
        for h in store.history("RFC-1")
        if h.op is HistoryOp.UPDATE and h.field == "state"
    ]
    assert states == [
        ("draft", "assessed"),
        ("assessed", "authorised"),
        ("authorised", "scheduled"),
        ("scheduled", "implemented"),
    ]
    assert all(h.actor == "carol" for h in store.history("RFC-1") if h.op is HistoryOp.UPDATE)
    assert [c.id for c in store.list_changes(ci_id=vm)] == ["RFC-1"]


def test_incident_fields_and_service_windows_round_trip(store: GraphStore) -> None:
    maint = ServiceCalendar(
        timezone="Europe/London", weekly={Weekday.SUN: [TimeRange(start=time(1), end=time(4))]}
    )
    freeze = Blackout(
        start=datetime(2026, 12, 18, tzinfo=UTC),
        end=datetime(2026, 12, 28, tzinfo=UTC),
        reason="Christmas sailings",
    )
    set_service_windows(store, BOOKING, maintenance_windows=maint, blackouts=[freeze])
    svc = resolve_ci(store, BOOKING).service
    assert svc is not None and svc.maintenance_windows == maint and svc.blackouts == [freeze]
    assert svc.sla is not None and svc.sla.availability_target == 99.9  # untouched
    inc = Incident(
        id="INC-1",
        title="slow",
        ci_ids=[cid(store, "vm-app-01")],
        opened_at=NOW,
        impact=Level.LOW,
        urgency=Level.HIGH,
        responded_at=NOW + timedelta(minutes=3),
        outage=False,
        change_ids=["RFC-9"],
    )
    store.apply(ChangeSet(actor="tester", source="manual", incidents=[inc]))
    assert store.get_incident("INC-1") == inc


# -- 2. risk -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cis", "window", "kind", "risk", "approval", "rule"),
    [
        (["vm-app-01"], NIGHT, "normal", "low", "change_manager", "otherwise"),
        (["vm-app-01"], NIGHT, "standard", "standard", "pre_approved", "standard change"),
        # Not pre-approved above the policy's ceiling: classed as a normal change would be.
        (["srv-01"], NIGHT, "standard", "high", "cab", "customer-facing outage"),
        (["srv-01"], NIGHT, "normal", "high", "cab", "customer-facing outage"),
        # 12:00-12:30 London, announced a month ahead: an allowed scheduled interruption
        # (no budget spent), but a customer-facing outage in service hours.
        (
            ["srv-01"],
            (datetime(2026, 12, 1, 12, 0, tzinfo=UTC), datetime(2026, 12, 1, 12, 30, tzinfo=UTC)),
            "normal",
            "very_high",
            "board",
            "customer-facing outage in service hours",
        ),
        # Three hours in service hours: more than the month's 0.1 % allowance.
        (
            ["bookings-db"],
            (datetime(2026, 12, 1, 12, 0, tzinfo=UTC), datetime(2026, 12, 1, 15, 0, tzinfo=UTC)),
            "normal",
            "very_high",
            "board",
            "SLA breach",
        ),
    ],
)
def test_risk_known_answers(
    store: GraphStore,
    cis: list[str],
    window: tuple[datetime, datetime],
    kind: str,
    risk: str,
    approval: str,
    rule: str,
) -> None:
    rfc(store, "RFC-1", *cis, window=window, type=ChangeType(kind))
    changed, result = assess_change(store, "RFC-1", POLICY, actor="carol", now=NOW)
    assert (result.risk_class.value, result.approval.value, result.rule) == (risk, approval, rule)
    assert changed.state is (ChangeState.DRAFT if kind == "standard" else ChangeState.ASSESSED)
    assert store.get_change("RFC-1").risk == result.summary(NOW)


def test_review_links_incidents_and_failures_raise_the_risk_of_the_next_change(
    store: GraphStore, clock: FakeClock
) -> None:
    vm1 = cid(store, "vm-app-01")
    done_at = NIGHT[1]
    for n, outcome in (("RFC-A", ChangeOutcome.FAILED), ("RFC-B", ChangeOutcome.SUCCESSFUL)):
        rfc(store, n, "vm-app-01")
        assess_change(store, n, POLICY, actor="carol", now=NOW)
        for to in (ChangeState.AUTHORISED, ChangeState.SCHEDULED):
            transition_change(store, n, to, actor="carol", now=NOW)
        transition_change(store, n, ChangeState.IMPLEMENTED, actor="dave", now=done_at)
        if n == "RFC-A":
            booking, identity_db = cid(store, BOOKING), cid(store, "identity-db")
            store.apply(
                ChangeSet(
                    actor="desk",
                    source="manual",
                    incidents=[
                        # On vm-app-01 itself, 2 h after: linked.
                        Incident(
                            id="INC-1",
                            title="vm-app-01 unreachable",
                            ci_ids=[vm1],
                            service_ids=[booking],
                            opened_at=done_at + timedelta(hours=2),
                        ),
                        # On a service the change only put at risk (one cluster member of
                        # three): not linked, though it came within the hours.
                        Incident(
                            id="INC-4",
                            title="booking errors",
                            service_ids=[booking],
                            opened_at=done_at + timedelta(hours=3),
                        ),
                        # On vm-app-01 itself, 30 h after: too late.
                        Incident(
                            id="INC-2",
                            title="vm reboot",
                            ci_ids=[vm1],
                            opened_at=done_at + timedelta(hours=30),
                        ),
                        # Not impacted by the change.
                        Incident(
                            id="INC-3",
                            title="identity db slow",
                            ci_ids=[identity_db],
                            opened_at=done_at + timedelta(hours=1),
                        ),
                    ],
                )
            )
        reviewed, linked = review_change(
            store, n, outcome, POLICY, actor="cab", now=done_at + timedelta(days=2)
        )
        assert reviewed.state is ChangeState.REVIEWED and reviewed.outcome is outcome
        if n == "RFC-A":
            assert [i.id for i in linked] == ["INC-1"] and reviewed.incident_ids == ["INC-1"]
            assert store.get_incident("INC-1").change_ids == ["RFC-A"]
            assert store.get_incident("INC-3").change_ids == []
            assert store.get_incident("INC-4").change_ids == []
    rfc(store, "RFC-C", "vm-app-01")
    _, result = assess_change(store, "RFC-C", POLICY, actor="carol", now=NOW)
    assert (result.risk_class, result.rule) == (RiskClass.HIGH, "unreliable CIs")
    assert result.facts.history.changes == ["RFC-A", "RFC-B"]
    assert "1 of 2 reviewed changes failed (50%)" in result.why


# -- 3. collisions, windows, suggestions -----------------------------------------------------


def kinds(store: GraphStore, only: str | None = None) -> set[tuple[str, str, str]]:
    found = Planner(store, NOW).collisions(store.list_changes(), only=only)
    return {(c.a, c.b, c.kind) for c in found}


def test_two_changes_that_each_leave_quorum_break_it_together(store: GraphStore) -> None:
    later = (NIGHT[0] + timedelta(minutes=30), NIGHT[1] + timedelta(minutes=30))
    rfc(store, "RFC-1", "vm-app-01")
    rfc(store, "RFC-2", "vm-app-03", window=later)
    found = Planner(store, NOW).collisions(store.list_changes())
    assert {c.kind for c in found} == {"joint_quorum", "joint_service"}
    quorum = next(c for c in found if c.kind == "joint_quorum")
    assert quorum.subjects == ["harbour-app-cluster"]
    assert (quorum.start, quorum.end) == (later[0], NIGHT[1])
    joint = next(c for c in found if c.kind == "joint_service")
    assert set(joint.subjects) == {BOOKING, APP_API, IDENTITY}
    assert f"{BOOKING} down (alone: at_risk / at_risk)" in joint.detail


def test_no_overlap_no_collision_and_the_structural_kinds(store: GraphStore) -> None:
    rfc(store, "RFC-1", "vm-app-01")
    rfc(store, "RFC-2", "vm-app-03", window=(NIGHT[1], NIGHT[1] + timedelta(hours=1)))
    assert kinds(store) == set()
    rfc(store, "RFC-3", "srv-01")  # hosts vm-app-01: parent and child
    rfc(store, "RFC-4", "vm-app-01")  # the same CI
    rfc(store, "RFC-5", "bookings-db")  # takes the same services down as srv-01
    assert kinds(store, only="RFC-3") == {
        ("RFC-1", "RFC-3", "parent_child"),
        ("RFC-3", "RFC-4", "parent_child"),
        ("RFC-3", "RFC-5", "same_service"),
    }
    assert ("RFC-1", "RFC-4", "same_ci") in kinds(store, only="RFC-4")
    transition_change(store, "RFC-5", ChangeState.REJECTED, actor="cab", now=NOW)
    assert kinds(store, only="RFC-5") == set()


def test_blackout_and_maintenance_violations(store: GraphStore) -> None:
    maint = ServiceCalendar(
        timezone="Europe/London", weekly={Weekday.SUN: [TimeRange(start=time(1), end=time(4))]}
    )
    freeze = Blackout(
        start=datetime(2026, 11, 30, tzinfo=UTC),
        end=datetime(2026, 12, 2, tzinfo=UTC),
        reason="winter timetable launch",
    )
    set_service_windows(store, BOOKING, maintenance_windows=maint, blackouts=[freeze])
    rfc(store, "RFC-1", "vm-app-01")  # at risk only: the blackout still applies
    rfc(store, "RFC-2", "srv-01")  # down: also outside Sunday maintenance
    planner = Planner(store, NOW)
    one = planner.violations(store.get_change("RFC-1"))
    assert [(v.kind, v.service) for v in one] == [("blackout", BOOKING)]
    two = planner.violations(store.get_change("RFC-2"))
    assert sorted((v.kind, v.service) for v in two) == [
        ("blackout", BOOKING),
        ("outside_maintenance", BOOKING),
    ]
    assert two[0].start == NIGHT[0] and two[0].end == NIGHT[1]


def test_the_suggested_window(store: GraphStore) -> None:
    # Booking allows changes on Sunday nights 01:00-04:00 London, and is frozen the whole
    # weekend of 5-6 December; RFC-9 (bookings-db) takes the same services down as RFC-1.
    maint = ServiceCalendar(
        timezone="Europe/London", weekly={Weekday.SUN: [TimeRange(start=time(1), end=time(4))]}
    )
    freeze = Blackout(
        start=datetime(2026, 12, 5, tzinfo=UTC), end=datetime(2026, 12, 7, tzinfo=UTC)
    )
    set_service_windows(store, BOOKING, maintenance_windows=maint, blackouts=[freeze])
    sunday = (datetime(2026, 12, 13, 1, 0, tzinfo=UTC), datetime(2026, 12, 13, 2, 30, tzinfo=UTC))
    rfc(store, "RFC-9", "bookings-db", window=sunday)
    rfc(store, "RFC-1", "srv-01", window=None)
    planner = Planner(store, NOW)
    got = planner.suggest(
        store.get_change("RFC-1"),
        store.list_changes(),
        timedelta(hours=1),
        datetime(2026, 12, 2, tzinfo=UTC),
        timedelta(days=30),
    )
    # Sunday 6th is frozen; Sunday 13th 01:00-02:30 is RFC-9's: 02:30-03:30 is the first fit.
    assert (got.start, got.end) == (
        datetime(2026, 12, 13, 2, 30, tzinfo=UTC),
        datetime(2026, 12, 13, 3, 30, tzinfo=UTC),
    )
    assert got.avoided == ["RFC-9"]
    assert f"{BOOKING} (down)" in got.services
    longer = planner.suggest(
        store.get_change("RFC-1"),
        store.list_changes(),
        timedelta(hours=2),
        datetime(2026, 12, 2, tzinfo=UTC),
        timedelta(days=30),
    )
    assert longer.start == datetime(2026, 12, 20, 1, 0, tzinfo=UTC)


def test_the_schedule_by_period_service_and_ci(store: GraphStore) -> None:
    rfc(store, "RFC-1", "vm-app-01")
    rfc(
        store,
        "RFC-2",
        "payments-adapter-1",
        window=(NIGHT[0] + timedelta(days=3), NIGHT[1] + timedelta(days=3)),
    )
    rfc(store, "RFC-3", "srv-03", window=None)
    planner = Planner(store, NOW)
    december = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert [r.id for r in planner.schedule(store.list_changes(), *december)] == ["RFC-1", "RFC-2"]
    first_day = (december[0], december[0] + timedelta(days=1))
    assert [r.id for r in planner.schedule(store.list_changes(), *first_day)] == ["RFC-1"]
    pay = cid(store, "Card Payments")
    assert [r.id for r in planner.schedule(store.list_changes(), *december, service=pay)] == [
        "RFC-2"
    ]
    cluster = cid(store, "harbour-app-cluster")
    rows = planner.schedule(store.list_changes(), *december, ci=cluster)
    assert [r.id for r in rows] == ["RFC-1"] and rows[0].cis == ["vm-app-01"]


# -- 5. incidents ------------------------------------------------------------------------------


def test_an_incident_gets_its_services_priority_and_clocks(store: GraphStore) -> None:
    # Tuesday 1 December 22:50 London (GMT): a host of two cluster VMs fails.
    opened = datetime(2026, 12, 1, 22, 50, tzinfo=UTC)
    inc, _ = open_incident(
        store,
        incident_id="INC-1",
        title="srv-01 down",
        cis=[resolve_ci(store, "srv-01")],
        urgency=Level.MEDIUM,
        policy=POLICY,
        actor="desk",
        now=opened,
    )
    assert (inc.impact, inc.urgency, inc.priority, inc.major) == (
        Level.HIGH,
        Level.MEDIUM,
        "P2",
        False,
    )
    names = {store.get_ci(s).name for s in inc.service_ids}
    assert names == {BOOKING, APP_API, IDENTITY} and inc.outage
    assert store.get_incident("INC-1") == inc
    at_2am = opened + timedelta(hours=3, minutes=10)
    booking = next(c for c in clocks(store, "INC-1", at_2am) if c.service == BOOKING)
    # P2: response 30 min of 05:00-23:00 London: 10 minutes tonight, 20 tomorrow.
    assert booking.response.elapsed_minutes == 10
    assert booking.response.due_at == datetime(2026, 12, 2, 5, 20, tzinfo=UTC)
    up = reprioritise(store, "INC-1", POLICY, actor="desk", urgency=Level.HIGH)
    assert (up.priority, up.major) == ("P1", True)
    mark(store, "INC-1", actor="desk", responded_at=opened + timedelta(minutes=5))
    booking = next(c for c in clocks(store, "INC-1", at_2am) if c.service == BOOKING)
    assert booking.priority == "P1" and not booking.response.running
    assert not booking.response.breached and booking.response.elapsed_minutes == 5


def test_an_incident_that_only_puts_services_at_risk_is_low_impact(store: GraphStore) -> None:
    inc, _ = open_incident(
        store,
        incident_id="INC-2",
        title="vm-app-03 lost",
        cis=[resolve_ci(store, "vm-app-03")],
        urgency=Level.HIGH,
        policy=POLICY,
        actor="desk",
        now=NOW,
    )
    assert (inc.impact, inc.priority, inc.service_ids, inc.outage) == (Level.LOW, "P3", [], False)
    assert clocks(store, "INC-2", NOW) == []


def test_saving_a_change_twice_writes_no_history(store: GraphStore) -> None:
    made = rfc(store, "RFC-1", "vm-app-01")
    before = len(store.history("RFC-1"))
    save(store, [made], actor="alice")
    assert len(store.history("RFC-1")) == before
    assert natural_key("Server", "srv-01").value == "server:srv-01"


def test_an_amended_window_drops_the_assessment_in_history(store: GraphStore) -> None:
    rfc(store, "RFC-1", "srv-01")
    assess_change(store, "RFC-1", POLICY, actor="carol", now=NOW)
    later = (NIGHT[0] + timedelta(days=1), NIGHT[1] + timedelta(days=1))
    got = update_change(
        store, "RFC-1", {"planned_start": later[0], "planned_end": later[1]}, actor="alice"
    )
    assert store.get_change("RFC-1") == got and got.risk is None
    fields = {
        h.field for h in store.history("RFC-1") if h.actor == "alice" and h.op is HistoryOp.UPDATE
    }
    assert fields == {"planned_start", "planned_end", "risk"}


def test_many_sites_counts_top_level_locations(store: GraphStore) -> None:
    """Hall 2 is inside the Gullhaven Data Centre: one site, not two. An instance is where
    it runs; a place no Location CI names is its own site."""
    cis = [resolve_ci(store, n) for n in ("vm-int-01", "vm-db-02", "booking-engine-1")]
    assert sites_of(store, cis) == ["Gullhaven Data Centre"]
    rfc(store, "RFC-1", "vm-int-01", "vm-db-02")
    got = assess(store, store.get_change("RFC-1"), POLICY, NOW)
    assert got.rule != "many sites" and got.facts.sites == ["Gullhaven Data Centre"]
    store.apply(
        ChangeSet(
            actor="t", source="manual",
            ci_upserts=[CIUpsert(id=cid(store, "vm-db-02"), ci_class="VirtualMachine",
                                 name="vm-db-02", location="Skerry DR site")],
        )
    )  # fmt: skip
    moved = assess(store, store.get_change("RFC-1"), POLICY, NOW)
    assert moved.facts.sites == ["Gullhaven Data Centre", "Skerry DR site"]
    assert (moved.rule, moved.approval.value) == ("many sites", "board")
    # An instance on a cluster is wherever the cluster's members are: every site counts.
    vm = cid(store, "vm-app-02")
    halls = [n.ci.id for n in store.neighbours(vm, types=["LOCATED_IN"])]
    store.apply(
        ChangeSet(
            actor="t", source="manual",
            ci_upserts=[CIUpsert(id=vm, ci_class="VirtualMachine", name="vm-app-02",
                                 location="Skerry DR site")],
            rel_retires=[RelRetire(type="LOCATED_IN", source=CIRef(id=vm), target=CIRef(id=h))
                         for h in halls],
        )
    )  # fmt: skip
    web = [resolve_ci(store, "booking-web-1")]
    assert sites_of(store, web) == ["Gullhaven Data Centre", "Skerry DR site"]


def test_a_window_filled_in_after_the_decision_may_not_need_a_higher_one(
    store: GraphStore,
) -> None:
    """Assessed without a window (as if for an hour from 02:00: a night outage, cab), then
    scheduled into the working day (an SLA breach: board): refused; a night window is fine.
    Reviewed, its CIs and window are what was reviewed."""
    rfc(store, "RFC-1", "srv-01", window=None)
    night = NIGHT[0]
    _, result = assess_change(store, "RFC-1", POLICY, actor="carol", now=night)
    assert result.approval.value == "cab"
    transition_change(
        store, "RFC-1", ChangeState.AUTHORISED, actor="chair", now=night,
        authority=ApprovalLevel.CAB, policy=POLICY,
    )  # fmt: skip
    day = (datetime(2026, 12, 1, 10, 0, tzinfo=UTC), datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    before = store.get_change("RFC-1")
    with pytest.raises(InvalidInput, match="needs board approval") as err:
        transition_change(
            store, "RFC-1", ChangeState.SCHEDULED, actor="cm", now=night, window=day,
            policy=POLICY,
        )  # fmt: skip
    assert err.value.where == "planned_start" and store.get_change("RFC-1") == before
    # The same night window again, written without a zone, is the same window.
    plain = (NIGHT[0].replace(tzinfo=None), NIGHT[1].replace(tzinfo=None))
    done = transition_change(
        store, "RFC-1", ChangeState.SCHEDULED, actor="cm", now=night, window=NIGHT,
        policy=POLICY,
    )  # fmt: skip
    assert (done.planned_start, done.planned_end) == NIGHT
    again = transition_change(
        store, "RFC-1", ChangeState.IMPLEMENTED, actor="cm", now=NIGHT[1], window=plain,
        policy=POLICY,
    )  # fmt: skip
    reviewed, _ = review_change(
        store, "RFC-1", ChangeOutcome.SUCCESSFUL, POLICY, actor="cab", now=NIGHT[1]
    )
    assert again.state is ChangeState.IMPLEMENTED and reviewed.state is ChangeState.REVIEWED
    with pytest.raises(InvalidInput, match="what was reviewed"):
        update_change(store, "RFC-1", {"ci_ids": [cid(store, "srv-02")]}, actor="cm")
