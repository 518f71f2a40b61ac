"""Reports over small hand-built records: known answers, no store."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

import pytest

from cmdb.app.report_tables import to_csv
from cmdb.domain.errors import InvalidInput
from cmdb.domain.history import EntityKind, HistoryEntry, HistoryOp
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import CI, LifecycleStatus, Sighting
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangeRisk,
    ChangeState,
    ChangeType,
    Incident,
    IncidentState,
    RiskClass,
    StateEntry,
)
from cmdb.domain.service import (
    SLA,
    Priority,
    ServiceCalendar,
    ServiceDetails,
    ServiceKind,
    TimeRange,
    Weekday,
)
from cmdb.practice.health import health_report, missing_fields, normalised_name
from cmdb.practice.reports.agenda import agenda_sections
from cmdb.practice.reports.base import Count, Period
from cmdb.practice.reports.changes import changes_report
from cmdb.practice.reports.cis import cis_report
from cmdb.practice.reports.incidents import incidents_report

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def ch(cid: str, state: ChangeState, raised_days_ago: float, **kw: object) -> Change:
    raised = NOW - timedelta(days=raised_days_ago)
    log = [StateEntry(state=ChangeState.DRAFT, at=raised, by="a")]
    if state is not ChangeState.DRAFT:
        log.append(StateEntry(state=state, at=raised + timedelta(hours=1), by="a"))
    return Change.model_validate({"id": cid, "title": f"t {cid}", "state": state, "log": log, **kw})


def counts(rows: Sequence[Count]) -> dict[str, int]:
    return {r.key: r.count for r in rows}


# -- changes --------------------------------------------------------------------------------


def changes() -> list[Change]:
    rejected = ch("RFC-3", ChangeState.CLOSED, 40, ci_ids=["a"])
    rejected.log.insert(1, StateEntry(state=ChangeState.REJECTED, at=rejected.log[0].at, by="b"))
    return [
        ch("RFC-1", ChangeState.ASSESSED, 2, ci_ids=["a", "b"], service_ids=["s1"]),
        ch("RFC-2", ChangeState.DRAFT, 10, ci_ids=["a"], type=ChangeType.EMERGENCY),
        rejected,
        ch("RFC-4", ChangeState.REVIEWED, 100, ci_ids=["b"], outcome=ChangeOutcome.FAILED),
        ch("RFC-5", ChangeState.CLOSED, 50, ci_ids=["c"], outcome=ChangeOutcome.SUCCESSFUL),
        ch("RFC-6", ChangeState.SCHEDULED, 120, ci_ids=["c"], service_ids=["s1"]),
    ]


def test_changes_by_state_type_ci_service_and_the_exceptions() -> None:
    r = changes_report(changes(), NOW, name_of=str.upper)
    assert r.total == 6
    assert counts(r.by_state) == {
        "assessed": 1,
        "draft": 1,
        "closed": 2,
        "reviewed": 1,
        "scheduled": 1,
    }
    assert counts(r.by_type) == {"normal": 5, "emergency": 1}
    assert [(c.key, c.name, c.count) for c in r.by_ci] == [
        ("a", "A", 3),
        ("b", "B", 2),
        ("c", "C", 2),
    ]
    assert counts(r.by_service) == {"s1": 2}
    assert (r.rejected, r.emergency, r.failed, r.reviewed) == (1, 1, 1, 2)
    assert r.failed_rate == 0.5


def test_the_backlog_is_the_open_changes_with_their_age() -> None:
    b = changes_report(changes(), NOW, top=2).backlog
    assert b.open == 3  # RFC-1 (2 days), RFC-2 (10), RFC-6 (120)
    assert counts(b.by_age) == {
        "under 7 days": 1,
        "7-30 days": 1,
        "30-90 days": 0,
        "over 90 days": 1,
    }
    assert b.oldest_age_days == 120.0 and b.median_age_days == 10.0 and b.mean_age_days == 44.0
    assert [o.id for o in b.oldest] == ["RFC-6", "RFC-2"]


def test_a_period_counts_the_changes_raised_in_it() -> None:
    period = Period(start=NOW - timedelta(days=45), end=NOW - timedelta(days=5)).check()
    r = changes_report(changes(), NOW, period=period)
    assert r.total == 2 and {c.key for c in r.by_state} == {"draft", "closed"}  # RFC-2, RFC-3
    with pytest.raises(InvalidInput):
        Period(start=NOW, end=NOW).check()


# -- incidents ------------------------------------------------------------------------------

# 09:00-17:00 on weekdays, London time; P2: respond in 30 minutes, resolve in 4 hours.
SLA_DAY = SLA(
    name="Day SLA",
    availability_target=99.5,
    service_hours=ServiceCalendar(
        timezone="Europe/London",
        weekly={d: [TimeRange(start=time(9), end=time(17))] for d in list(Weekday)[:5]},
    ),
    response_minutes={Priority.P2: 30},
    resolution_minutes={Priority.P2: 240},
)


def inc(iid: str, opened: datetime, **kw: object) -> Incident:
    return Incident.model_validate({"id": iid, "title": iid, "opened_at": opened, **kw})


def test_incidents_by_priority_service_and_ci_with_sla_breaches() -> None:
    tue_0930 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # London = UTC in December
    incidents = [
        # Opened 09:30, still open at 12:00: 150 minutes in hours; response breached.
        inc("INC-1", tue_0930, priority=Priority.P2, service_ids=["s1"], ci_ids=["x"]),
        # Responded after 10 minutes; resolution at 12:00 is 150 of 240: no breach.
        inc(
            "INC-2",
            tue_0930,
            priority=Priority.P2,
            service_ids=["s1"],
            ci_ids=["x", "y"],
            responded_at=tue_0930 + timedelta(minutes=10),
        ),
        # Opened Monday 16:00, resolved Tuesday 11:00: 60 + 120 = 180 minutes; the
        # response (stopped by the resolution) is breached, the resolution is not.
        inc(
            "INC-3",
            datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
            priority=Priority.P2,
            service_ids=["s1", "s2"],
            state=IncidentState.RESOLVED,
            resolved_at=datetime(2026, 12, 1, 11, 0, tzinfo=UTC),
            major=True,
        ),
        inc("INC-4", NOW - timedelta(days=60), priority=Priority.P4, ci_ids=["y"], outage=False),
    ]
    r = incidents_report(incidents, {"s1": ("Booking", SLA_DAY)}, NOW)
    assert (r.total, r.open, r.major, r.outages) == (4, 3, 1, 3)
    assert counts(r.by_priority) == {"P2": 3, "P4": 1}
    assert counts(r.by_service) == {"s1": 3, "s2": 1}
    assert counts(r.by_ci) == {"x": 2, "y": 2}
    assert r.clocks == 3  # s2 has no SLA
    assert [(b.incident_id, b.target, b.elapsed_minutes, b.running) for b in r.breaches] == [
        ("INC-1", "response", 150.0, True),
        ("INC-3", "response", 180.0, False),
    ]
    assert r.breached_incidents == 2
    assert r.breaches[0].due_at == tue_0930 + timedelta(minutes=30)
    recent = incidents_report(
        incidents, {"s1": ("Booking", SLA_DAY)}, NOW, period=Period(start=NOW - timedelta(days=7))
    )
    assert recent.total == 3


# -- CIs ------------------------------------------------------------------------------------


def ci(cid: str, cls: str = "Server", **kw: object) -> CI:
    return CI.model_validate({"id": cid, "class": cls, "name": cid, **kw})


def row(seq: int, entity: str, op: HistoryOp, at: datetime, field: str = "owner") -> HistoryEntry:
    return HistoryEntry(
        seq=seq,
        entity_kind=EntityKind.CI,
        entity_id=entity,
        op=op,
        field=field,
        actor="a",
        source="s",
        at=at,
    )


def test_cis_by_class_status_location_owner_and_the_busiest() -> None:
    cis = [
        ci("a", location="DC1", owner="Ops"),
        ci("b", location="DC1", status=LifecycleStatus.WITHDRAWN),
        ci("c", "VirtualMachine", owner="Ops"),
    ]
    t1, t2 = NOW - timedelta(days=3), NOW - timedelta(days=1)
    history = [
        row(1, "a", HistoryOp.CREATE, t1),
        row(2, "c", HistoryOp.UPDATE, t1, "owner"),
        row(3, "c", HistoryOp.UPDATE, t1, "location"),  # the same write: 1 write, 2 fields
        row(4, "a", HistoryOp.UPDATE, t1),
        row(5, "a", HistoryOp.UPDATE, t2),
    ]
    incidents = [inc("I1", NOW, ci_ids=["c"]), inc("I2", NOW, ci_ids=["c", "a"])]
    r = cis_report(cis, history, incidents, NOW, name_of=str.upper, top=5)
    assert r.total == 3
    assert counts(r.by_class) == {"Server": 2, "VirtualMachine": 1}
    assert counts(r.by_status) == {"live": 2, "withdrawn": 1}
    assert counts(r.by_location) == {"DC1": 2, "(none)": 1}
    assert counts(r.by_owner) == {"Ops": 2, "(none)": 1}
    assert [(c.key, c.name, c.writes, c.fields) for c in r.most_changed] == [
        ("a", "A", 2, 2),
        ("c", "C", 1, 2),
    ]
    assert counts(r.most_incidents) == {"c": 2, "a": 1}
    scoped = cis_report(
        cis, history, incidents, NOW, scope={"c"}, period=Period(start=t1 + timedelta(hours=1))
    )
    assert scoped.total == 1 and scoped.most_changed == []
    assert counts(scoped.most_incidents) == {"c": 2}


# -- health ---------------------------------------------------------------------------------


def sighting(stale: bool) -> Sighting:
    return Sighting(first_seen=NOW, last_seen=NOW, stale=stale)


def test_health_completeness_stale_orphans_and_duplicates() -> None:
    cf = ServiceDetails(kind=ServiceKind.CUSTOMER_FACING)
    cis = [
        ci("s1", "Server", owner="Ops", location="DC1", environment="prod"),
        ci(
            "s2",
            "Server",
            name="SRV_01",
            owner="Ops",
            identifiers=[Identifier.parse("hostname=web")],
            sources={"nmap": sighting(True), "ansible": sighting(False)},
        ),
        ci(
            "s3",
            "Server",
            name="srv-01",
            location="DC1",
            identifiers=[Identifier.parse("hostname=WEB")],
            sources={"nmap": sighting(True)},
        ),
        ci("v1", "VirtualMachine", name="srv-01", owner="Ops", location="DC1", environment="p"),
        ci("svc", "Service", owner="Desk", service=cf.model_dump()),
        ci("team", "Team"),
        ci("old", "Server", status=LifecycleStatus.DISPOSED),
    ]
    assert missing_fields(cis[4]) == ["sla"]
    assert normalised_name(" SRV_01 ") == normalised_name("srv-01") == "srv 01"
    assert normalised_name("Zürich DC") == normalised_name("zurich-dc") == "zurich dc"
    # Other scripts keep their letters (and marks): two Japanese names do not collide.
    assert normalised_name("東京データセンター") != normalised_name("大阪データセンター")
    assert normalised_name("データ") != normalised_name("テータ")
    assert normalised_name("--") == ""
    r = health_report(cis, connected={"s1", "s2", "v1", "svc"}, now=NOW)
    assert (r.total, r.retired, r.complete) == (6, 1, 3)
    assert r.completeness_percent == 50.0
    by = {c.ci_class: c for c in r.by_class}
    assert (by["Server"].total, by["Server"].complete) == (3, 1)
    assert {g.field: g.missing for g in by["Server"].missing} == {
        "owner": 1,
        "location": 1,
        "environment": 2,
    }
    assert by["Service (customer-facing)"].required == ["owner", "sla"]
    assert {i.id: i.missing for i in r.incomplete} == {
        "s2": ["location", "environment"],
        "s3": ["owner", "environment"],
        "svc": ["sla"],
    }
    assert [(s.id, s.stale_sources, s.all_stale) for s in r.stale] == [
        ("s2", ["nmap"], False),
        ("s3", ["nmap"], True),
    ]
    assert [o.id for o in r.orphans] == ["s3", "team"]  # the disposed one is not judged
    assert [(g.reason, g.key, [c.id for c in g.cis]) for g in r.duplicates] == [
        ("identifier", "hostname=web", ["s2", "s3"]),
        ("name", "Server: srv 01", ["s2", "s3"]),  # v1 is another class
    ]
    limited = health_report(cis, connected=(), now=NOW, limit=1)
    assert limited.orphans_total == 6 and len(limited.orphans) == 1


# -- CAB agenda and CSV -----------------------------------------------------------------------


def test_the_agenda_takes_assessed_scheduled_in_the_period_and_emergencies_to_review() -> None:
    w = {"planned_start": NOW + timedelta(days=1), "planned_end": NOW + timedelta(days=1, hours=1)}
    later = {"planned_start": NOW + timedelta(days=30), "planned_end": NOW + timedelta(days=31)}
    picked = agenda_sections(
        [
            ch("A", ChangeState.ASSESSED, 1, **later),
            ch("B", ChangeState.SCHEDULED, 1, **w),
            ch("C", ChangeState.AUTHORISED, 1, **later),  # outside the period
            ch("D", ChangeState.DRAFT, 1, **w),  # not assessed yet
            ch("E", ChangeState.IMPLEMENTED, 1, review_required=True, type=ChangeType.EMERGENCY),
            ch("F", ChangeState.ASSESSED, 1, **w),
        ],
        NOW,
        NOW + timedelta(days=7),
    )
    assert [(s, c.id) for s, c in picked] == [
        ("decide", "F"),
        ("decide", "A"),
        ("scheduled", "B"),
        ("review", "E"),
    ]


def test_csv_is_one_header_and_rows_and_quotes_formulas() -> None:
    r = changes_report([ch("=HYPERLINK(1)", ChangeState.DRAFT, 1, ci_ids=["-x"])], NOW)
    rows = list(csv.reader(io.StringIO(to_csv(r))))
    assert rows[0] == ["section", "key", "name", "value", "detail"]
    assert ["total", "", "", "1", ""] in rows
    assert ["by_ci", "'-x", "'-x", "1", ""] in rows
    oldest = next(x for x in rows if x[0] == "backlog_oldest")
    assert oldest[1] == "'=HYPERLINK(1)"


def test_changes_by_service_count_the_services_the_assessment_found() -> None:
    risk = ChangeRisk(
        risk_class=RiskClass.HIGH, approval=ApprovalLevel.CAB, rule="r", why="w",
        assessed_at=NOW, service_ids=["s1", "s2"],
    )  # fmt: skip
    named = Change(id="RFC-N", title="t", ci_ids=["a"], service_ids=["s1"], risk=risk)
    r = changes_report([named], NOW)
    assert counts(r.by_service) == {"s1": 1, "s2": 1}  # s1 named and found: counted once
