"""A year of incident and change history for the sample estate: the demo has a past.

Saltmarsh Ferries' last twelve months, generated from a fixed seed (:data:`SEED`) and
placed relative to the load (the creation of Online Ferry Booking in the store's history,
as :mod:`cmdb.sample.planted` does), so "the last 12 months", this month's SLA budget and
the schedule stay meaningful whenever the sample is loaded, and two loads an hour apart
hold the same records shifted by that hour.

What it holds (every CI named is in both loads, ``cmdb sample load`` and ``--via-discovery``):

* **incidents**, per CI at the rate its kind fails (:data:`PROFILES`): a server a couple of
  times a year for hours (parts under a next-business-day contract), a VM or a database a
  few times for tens of minutes, the network once, and two flaky components far more often
  (Harbourpay's hosted gateway, the Notifier); each names the CI at fault, the services the
  impact engine finds down (an outage) or else degraded, a priority from the practice's
  default matrix (impact from the services hit, urgency per CI), when it was responded to
  and resolved; those older than a week are closed.
* **changes**: monthly patching of the app VMs (standard, pre-approved), releases of the
  applications, firmware, certificates and a database upgrade (normal: assessed,
  authorised by the change manager or the CAB), emergency fixes after incidents, a
  rejected proposal, and two changes in the coming days. Each walks the lifecycle in
  order (its log), the reviewed ones carry their outcome, and three **failed** ones caused
  the incident their review links (the incident names the change back).
* **problems**: two known errors behind the recurring incidents, with their workaround.

Nothing is open at the load (the planted scenario is the one open story), and nothing of
this touches the day before the load, so the planted cause stays the recent change.
Loading again writes nothing: records already there are left alone. Records are written
in one change set through the store (history rows included), as the practice writes them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import NotFound
from cmdb.domain.history import HistoryOp
from cmdb.domain.identifiers import natural_key
from cmdb.domain.model import CI
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangePriority,
    ChangeRisk,
    ChangeState,
    ChangeType,
    ExpectedImpact,
    Incident,
    IncidentState,
    Level,
    Problem,
    ProblemState,
    RiskClass,
    StateEntry,
)
from cmdb.domain.service import Priority
from cmdb.store.contract import CIFilter, GraphStore

SOURCE = "sample"
SEED = 14
# Inside the last 12 months however late in the day the load is (evidence.py observes
# 365.25 days back from now): every record counts, and the period begins with the first.
YEAR = timedelta(days=364)
QUIET = timedelta(days=2)  # nothing of the history ends this close before the load's day
CLOSED_AFTER = timedelta(days=7)  # resolved incidents are closed after a week
ANCHOR = ("Service", "Online Ferry Booking")

# The practice's default priority matrix (cmdb/practice/policy.yaml; a test holds them equal).
PRIORITY: dict[tuple[Level, Level], Priority] = {
    (Level.HIGH, Level.HIGH): Priority.P1,
    (Level.HIGH, Level.MEDIUM): Priority.P2,
    (Level.HIGH, Level.LOW): Priority.P3,
    (Level.MEDIUM, Level.HIGH): Priority.P2,
    (Level.MEDIUM, Level.MEDIUM): Priority.P3,
    (Level.MEDIUM, Level.LOW): Priority.P4,
    (Level.LOW, Level.HIGH): Priority.P3,
    (Level.LOW, Level.MEDIUM): Priority.P4,
    (Level.LOW, Level.LOW): Priority.P4,
}
MAJOR = frozenset({Priority.P1})
DAYTIME = (7, 20)  # UTC hours when customers are booking: an outage then is most urgent
_LOWER = {Level.HIGH: Level.MEDIUM, Level.MEDIUM: Level.LOW, Level.LOW: Level.LOW}


@dataclass(frozen=True)
class Profile:
    """How one CI failed over the year: how often, how long a repair took (median minutes,
    and the spread of a log-normal), and what the service desk wrote."""

    ci: tuple[str, str]  # (class, name)
    failures: int
    median_minutes: float
    spread: float
    titles: tuple[str, ...]
    urgency: Level = Level.HIGH


PROFILES: tuple[Profile, ...] = (
    Profile(
        ("Server", "srv-01"),
        2,
        200,
        0.4,
        ("srv-01 down: power supply failed", "srv-01 halted: uncorrectable memory errors"),
    ),
    Profile(("Server", "srv-02"), 1, 260, 0.3, ("srv-02 down: RAID controller fault",)),
    Profile(
        ("Server", "srv-03"),
        2,
        180,
        0.4,
        ("srv-03 unreachable: NIC firmware hang", "srv-03 down: fan failure, thermal shutdown"),
        Level.MEDIUM,
    ),
    Profile(
        ("VirtualMachine", "vm-app-01"), 1, 25, 0.5, ("vm-app-01 unresponsive: root disk full",)
    ),
    Profile(
        ("VirtualMachine", "vm-app-02"), 1, 20, 0.5, ("vm-app-02 kernel soft lockup, rebooted",)
    ),
    Profile(
        ("VirtualMachine", "vm-app-03"),
        2,
        20,
        0.5,
        ("vm-app-03 unresponsive: out of memory", "vm-app-03 kernel soft lockup, rebooted"),
        Level.MEDIUM,
    ),
    Profile(("VirtualMachine", "vm-db-01"), 1, 45, 0.4, ("vm-db-01 hung: storage path lost",)),
    Profile(("VirtualMachine", "vm-db-02"), 1, 35, 0.4, ("vm-db-02 rebooted by hypervisor",)),
    Profile(
        ("VirtualMachine", "vm-int-01"),
        2,
        30,
        0.5,
        ("vm-int-01 unresponsive: docker daemon hung", "vm-int-01 root disk full"),
        Level.MEDIUM,
    ),
    Profile(
        ("Database", "bookings-db"),
        3,
        50,
        0.5,
        (
            "bookings-db refusing connections: too many connections",
            "bookings-db writes blocked by a long-running vacuum",
        ),
    ),
    Profile(("Database", "identity-db"), 1, 40, 0.4, ("identity-db failed over to read-only",)),
    Profile(("LoadBalancer", "lb-edge-01"), 1, 35, 0.3, ("TLS handshake failures on lb-edge-01",)),
    Profile(
        ("StorageVolume", "vol-bookings-data"),
        1,
        150,
        0.3,
        ("vol-bookings-data degraded: disk failed, rebuild stalled writes",),
    ),
    Profile(
        ("CloudResource", "Harbourpay gateway endpoint"),
        6,
        45,
        0.6,
        (
            "Card payments failing: Harbourpay gateway returns 502",
            "Harbourpay gateway time-outs",
        ),
    ),
    Profile(
        ("Application", "Notifier"),
        8,
        20,
        0.5,
        (
            "Booking confirmations not sent: notifier stuck on a poisoned message",
            "Notifier backlog: SMS delayed",
        ),
        Level.MEDIUM,
    ),
)


# -- the changes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One RFC of the year: what, on which CIs, how it went."""

    title: str
    cis: tuple[tuple[str, str], ...]
    type: ChangeType
    days_before: float  # when its window started, before the load (negative: to come)
    hours: float = 2.0
    outcome: ChangeOutcome | None = ChangeOutcome.SUCCESSFUL
    risk: RiskClass = RiskClass.LOW
    reason: str = ""
    # A failed change's incident: (title, minutes after the change, minutes to restore).
    caused: tuple[str, float, float] | None = None
    rejected: bool = False
    expected_impact: ExpectedImpact = ExpectedImpact.MINOR
    requester: str = "platform-oncall"


APP_VMS = (
    ("VirtualMachine", "vm-app-01"),
    ("VirtualMachine", "vm-app-02"),
    ("VirtualMachine", "vm-app-03"),
)
DB_VMS = (("VirtualMachine", "vm-db-01"), ("VirtualMachine", "vm-db-02"))
ENGINE = (("Application", "Booking Engine"),)
WEB = (("Application", "Booking Web"),)
MGW = (("Application", "Mobile Gateway"),)
AUTH = (("Application", "Auth Server"),)


def _plans() -> list[Plan]:
    out: list[Plan] = []
    for month in range(12):  # monthly patching of the app VMs, one at a time (quorum holds)
        out.append(
            Plan(
                "Monthly OS patching: app cluster VMs, one at a time",
                APP_VMS,
                ChangeType.STANDARD,
                days_before=12 + 30.4 * month,
                hours=3,
                risk=RiskClass.STANDARD,
                reason="Security updates of the month",
            )
        )
    for quarter in range(4):
        out.append(
            Plan(
                "Quarterly OS patching: database VMs",
                DB_VMS,
                ChangeType.STANDARD,
                days_before=40 + 91 * quarter,
                hours=2,
                risk=RiskClass.STANDARD,
                reason="Security updates of the quarter",
            )
        )
    engine_releases = [20, 41, 62, 83, 104, 125, 146, 167, 188, 209, 230, 251, 272, 293, 314, 335]
    for i, days in enumerate(engine_releases):
        failed = i in (3, 11)
        out.append(
            Plan(
                f"Booking Engine release {i + 1} of the year: fares and availability fixes",
                ENGINE,
                ChangeType.NORMAL,
                days_before=days,
                hours=1,
                outcome=ChangeOutcome.BACKED_OUT if failed else ChangeOutcome.SUCCESSFUL,
                reason="Fixes and small features from the Digital Channels backlog",
                caused=(
                    "Bookings fail after the Booking Engine release: fare lookups error",
                    12,
                    38,
                )
                if failed
                else None,
                requester="digital-oncall",
            )
        )
    for i, days in enumerate([30, 61, 92, 122, 153, 183, 214, 244, 275, 305, 336]):
        out.append(
            Plan(
                f"Booking Web release {i + 1} of the year",
                WEB,
                ChangeType.NORMAL,
                days_before=days + 3,
                hours=1,
                reason="Website fixes and copy changes",
                requester="digital-oncall",
            )
        )
    for i, days in enumerate([50, 140, 230, 320]):
        out.append(
            Plan(
                f"Mobile Gateway release {i + 1} of the year",
                MGW,
                ChangeType.NORMAL,
                days_before=days,
                hours=1,
                reason="App API additions for the next app version",
                requester="digital-oncall",
            )
        )
    out += [
        Plan(
            "Auth Server minor upgrade",
            AUTH,
            ChangeType.NORMAL,
            days_before=175,
            reason="Vendor security release",
        ),
        Plan(
            "core-sw-01 firmware upgrade",
            (("NetworkDevice", "core-sw-01"),),
            ChangeType.NORMAL,
            days_before=201,
            hours=1,
            outcome=ChangeOutcome.FAILED,
            risk=RiskClass.HIGH,
            reason="Vendor advisory: port flapping under load",
            caused=("Hall 2 network down after the core switch firmware upgrade", 4, 95),
            expected_impact=ExpectedImpact.MAJOR,
        ),
        Plan(
            "core-sw-01 firmware upgrade, second attempt with the vendor's fixed image",
            (("NetworkDevice", "core-sw-01"),),
            ChangeType.NORMAL,
            days_before=229,
            hours=1,
            risk=RiskClass.HIGH,
            reason="Vendor advisory: port flapping under load",
            expected_impact=ExpectedImpact.MAJOR,
        ),
        Plan(
            "Renew the TLS certificates on lb-edge-01",
            (("LoadBalancer", "lb-edge-01"),),
            ChangeType.STANDARD,
            days_before=95,
            hours=0.5,
            risk=RiskClass.STANDARD,
            reason="Certificates expire in 30 days",
        ),
        Plan(
            "Renew the TLS certificates on lb-edge-01",
            (("LoadBalancer", "lb-edge-01"),),
            ChangeType.STANDARD,
            days_before=277,
            hours=0.5,
            risk=RiskClass.STANDARD,
            reason="Certificates expire in 30 days",
        ),
        Plan(
            "PostgreSQL minor upgrade of bookings-db",
            (("Database", "bookings-db"),),
            ChangeType.NORMAL,
            days_before=150,
            hours=1,
            outcome=ChangeOutcome.FAILED,
            risk=RiskClass.HIGH,
            reason="Minor release with a fix for index corruption",
            caused=("bookings-db does not start after the upgrade", 6, 55),
            expected_impact=ExpectedImpact.MAJOR,
        ),
        Plan(
            "PostgreSQL minor upgrade of bookings-db, with the extension rebuilt first",
            (("Database", "bookings-db"),),
            ChangeType.NORMAL,
            days_before=136,
            hours=1,
            risk=RiskClass.HIGH,
            reason="Minor release with a fix for index corruption",
            expected_impact=ExpectedImpact.MAJOR,
        ),
        Plan(
            "Server firmware (BIOS and BMC) update: srv-01 to srv-03",
            (("Server", "srv-01"), ("Server", "srv-02"), ("Server", "srv-03")),
            ChangeType.NORMAL,
            days_before=260,
            hours=4,
            risk=RiskClass.HIGH,
            reason="Ironbridge advisory IB-SA-2026-07",
            expected_impact=ExpectedImpact.MAJOR,
        ),
        Plan(
            "Move bookings-db files to the shared SAN",
            (("Database", "bookings-db"), ("StorageVolume", "vol-bookings-data")),
            ChangeType.NORMAL,
            days_before=110,
            outcome=None,
            risk=RiskClass.HIGH,
            reason="Free the local RAID volume",
            rejected=True,
            expected_impact=ExpectedImpact.MAJOR,
        ),
        # To come: what the schedule and the CAB see next.
        Plan(
            "Monthly OS patching: app cluster VMs, one at a time",
            APP_VMS,
            ChangeType.STANDARD,
            days_before=-5,
            hours=3,
            outcome=None,
            risk=RiskClass.STANDARD,
            reason="Security updates of the month",
        ),
        Plan(
            "Add a streaming standby of bookings-db on vm-db-02",
            (("Database", "bookings-db"), ("VirtualMachine", "vm-db-02")),
            ChangeType.NORMAL,
            days_before=-9,
            hours=2,
            outcome=None,
            risk=RiskClass.HIGH,
            reason="bookings-db is a single point of failure of both customer-facing services",
            expected_impact=ExpectedImpact.MAJOR,
        ),
    ]
    return out


# -- building the records ---------------------------------------------------------------------


@dataclass
class History:
    """The records of the year, before they are written."""

    at: datetime  # the load they are placed against
    incidents: list[Incident] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Hit:
    """What the impact engine says a CI's failure does: services down, else degraded."""

    services: tuple[str, ...]
    outage: bool
    impact: Level


def _one(store: GraphStore, key: tuple[str, str]) -> CI:
    """The sample's CI of that class and name (by name and class: a CI loaded through
    discovery carries the scanners' identifiers, not the natural key)."""
    found = store.find_by_identifier(natural_key(*key))
    if not found:
        page = store.list_cis(CIFilter(ci_class=key[0], name=key[1]), limit=2)
        found = [c for c in page.items if c.ci_class == key[0]]
    if len(found) != 1:
        raise NotFound(f"the sample's {key[0]} {key[1]!r} is not loaded", where="sample")
    return found[0]


def loaded_at(store: GraphStore) -> datetime:
    """When the estate was loaded: the creation of Online Ferry Booking in the history."""
    anchor = _one(store, ANCHOR)
    return min(h.at for h in store.history(anchor.id) if h.op is HistoryOp.CREATE)


def _hit(store: GraphStore, ci: CI, at: datetime) -> Hit:
    # Imported here: the engine (numpy) is only needed while the history is built, and the
    # CLI imports this module for every `cmdb export` / `import` as well.
    from impact.queries import incident_impact

    report = incident_impact(store, [ci], now=at)
    down = sorted(s.id for s in report.services if s.severity == "down")
    degraded = sorted(s.id for s in report.services if s.severity == "degraded")
    customer_facing_down = any(
        s.kind == "customer_facing" for s in report.services if s.severity == "down"
    )
    impact = Level.HIGH if customer_facing_down else Level.MEDIUM if down else Level.LOW
    return Hit(tuple(down or degraded), bool(down), impact)


class _Ids:
    """References in the sample's style, numbered per year of the record's opening."""

    def __init__(self, prefix: str, width: int, first: int) -> None:
        self.prefix, self.width, self.first = prefix, width, first
        self.used: dict[int, int] = {}

    def next(self, at: datetime) -> str:
        n = self.used.get(at.year, self.first)
        self.used[at.year] = n + 1
        return f"{self.prefix}-{at.year}-{n:0{self.width}d}"


def _minutes(rng: random.Random, median: float, spread: float) -> float:
    return float(max(5, round(rng.lognormvariate(math.log(median), spread))))


def _incident(
    title: str,
    ci: CI,
    hit: Hit,
    urgency: Level,
    opened: datetime,
    minutes: float,
    at: datetime,
    rng: random.Random,
) -> Incident:
    """A resolved incident (its reference is given once all are in time order)."""
    if not DAYTIME[0] <= opened.hour < DAYTIME[1]:
        urgency = _LOWER[urgency]  # at night few customers are waiting on it
    priority = PRIORITY[(hit.impact, urgency)]
    resolved = opened + timedelta(minutes=minutes)
    responded = opened + timedelta(minutes=min(minutes - 1, rng.randint(3, 15)))
    return Incident(
        id="INC-?",
        title=title,
        state=IncidentState.CLOSED if at - resolved > CLOSED_AFTER else IncidentState.RESOLVED,
        priority=priority,
        ci_ids=[ci.id],
        service_ids=list(hit.services),
        opened_at=opened,
        responded_at=responded,
        resolved_at=resolved,
        major=priority in MAJOR,
        impact=hit.impact,
        urgency=urgency,
        outage=hit.outage,
    )


def _free(busy: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    return all(end <= a or start >= b for a, b in busy)


def _risk(plan: Plan, at: datetime, services: Sequence[str]) -> ChangeRisk:
    approval = {
        RiskClass.STANDARD: ApprovalLevel.PRE_APPROVED,
        RiskClass.LOW: ApprovalLevel.CHANGE_MANAGER,
        RiskClass.HIGH: ApprovalLevel.CAB,
        RiskClass.VERY_HIGH: ApprovalLevel.BOARD,
    }[plan.risk]
    rule = {
        RiskClass.STANDARD: "standard change",
        RiskClass.LOW: "otherwise",
        RiskClass.HIGH: "expected major impact",
        RiskClass.VERY_HIGH: "customer-facing outage in service hours",
    }[plan.risk]
    return ChangeRisk(
        risk_class=plan.risk,
        approval=approval,
        rule=rule,
        why=f"{rule}: {plan.reason.lower() or plan.title}",
        score=0.0
        if plan.risk is RiskClass.STANDARD
        else 35.0
        if plan.risk is RiskClass.LOW
        else 62.0,
        assessed_at=at,
        service_ids=list(services),
    )


def _log(
    plan: Plan, raised: datetime, start: datetime, end: datetime, at: datetime
) -> list[StateEntry]:
    """The RFC's steps in the lifecycle's order, up to where it stands at the load."""
    by, decider = plan.requester, "change-manager"
    steps: list[tuple[ChangeState, datetime, str, str, ApprovalLevel | None]] = [
        (ChangeState.DRAFT, raised, by, "", None)
    ]
    if plan.type is ChangeType.STANDARD:
        steps.append(
            (ChangeState.AUTHORISED, raised + timedelta(minutes=5), by, "pre-approved", None)
        )
    else:
        steps.append((ChangeState.ASSESSED, raised + timedelta(hours=2), by, "", None))
        authority = (
            ApprovalLevel.CAB if plan.risk is RiskClass.HIGH else ApprovalLevel.CHANGE_MANAGER
        )
        who = "cab" if authority is ApprovalLevel.CAB else decider
        if plan.rejected:
            steps.append(
                (
                    ChangeState.REJECTED,
                    raised + timedelta(days=2),
                    who,
                    "no rollback path",
                    authority,
                )
            )
            steps.append((ChangeState.CLOSED, raised + timedelta(days=2, hours=1), who, "", None))
            return [StateEntry(state=s, at=t, by=b, note=n, authority=a) for s, t, b, n, a in steps]
        steps.append((ChangeState.AUTHORISED, raised + timedelta(days=1), who, "", authority))
    steps.append((ChangeState.SCHEDULED, raised + timedelta(days=1, hours=1), by, "", None))
    if end <= at and plan.outcome is not None:
        note = "done" if plan.outcome is ChangeOutcome.SUCCESSFUL else "backed out"
        steps.append((ChangeState.IMPLEMENTED, end, by, note, None))
        review = end + timedelta(days=2)
        verdict = {
            ChangeOutcome.SUCCESSFUL: "no incident linked",
            ChangeOutcome.FAILED: "failed: caused the linked incident",
            ChangeOutcome.BACKED_OUT: "backed out after the linked incident",
        }[plan.outcome]
        steps.append((ChangeState.REVIEWED, review, decider, verdict, None))
        steps.append((ChangeState.CLOSED, review + timedelta(days=1), decider, "", None))
    return [
        StateEntry(state=s, at=t, by=b, note=n, authority=a) for s, t, b, n, a in steps if t <= at
    ]


def build_history(store: GraphStore, at: datetime, *, seed: int = SEED) -> History:
    """The year before ``at`` (and the days after it), as records; reads the CIs and asks
    the impact engine once per CI named, writes nothing."""
    rng = random.Random(seed)
    out = History(at=at)
    # Everything is placed from midnight (UTC) of the load's day, so two loads hold the
    # same records shifted by whole days, whatever the hour (a window at 01:00 stays one).
    base = at.replace(hour=0, minute=0, second=0, microsecond=0)
    inc_ids, rfc_ids, prb_ids = _Ids("INC", 5, 1001), _Ids("RFC", 4, 101), _Ids("PRB", 4, 11)
    cis: dict[tuple[str, str], CI] = {}
    hits: dict[tuple[str, str], Hit] = {}

    def ci_of(key: tuple[str, str]) -> CI:
        if key not in cis:
            cis[key] = _one(store, key)
        return cis[key]

    def hit_of(key: tuple[str, str]) -> Hit:
        if key not in hits:
            hits[key] = _hit(store, ci_of(key), at)
        return hits[key]

    busy: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    # Changes first: their windows are fixed, and a failed one's incident comes with it.
    changes: list[Change] = []
    found: list[tuple[Incident, int | None]] = []  # (incident, index of the change it follows)
    for plan in _plans():
        # Windows open at night (01:00-03:00 UTC), when the booking sites are quietest.
        day = base - timedelta(days=plan.days_before)
        start = day.replace(hour=1, minute=0, second=0, microsecond=0)
        start += timedelta(minutes=15 * rng.randint(0, 8))
        end = start + timedelta(hours=plan.hours)
        raised = start - timedelta(days=rng.randint(4, 12), hours=rng.randint(0, 8))
        if raised > base - QUIET:  # a change to come was raised before the load
            raised = base - QUIET - timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 8))
        services = sorted({s for k in plan.cis for s in hit_of(k).services})
        log = _log(plan, raised, start, end, base)
        done = log[-1].state in (ChangeState.REVIEWED, ChangeState.CLOSED) and not plan.rejected
        changes.append(
            Change(
                id=rfc_ids.next(raised),
                title=plan.title,
                type=plan.type,
                state=log[-1].state,
                requester=plan.requester,
                ci_ids=[ci_of(k).id for k in plan.cis],
                service_ids=services,
                planned_start=start,
                planned_end=end,
                priority=ChangePriority.NORMAL,
                expected_impact=plan.expected_impact,
                reason=plan.reason,
                backout_plan="Roll back to the previous version or configuration",
                risk=_risk(plan, raised + timedelta(hours=1), services),
                outcome=plan.outcome if done else None,
                review_notes=next((e.note for e in log if e.state is ChangeState.REVIEWED), ""),
                log=log,
            )
        )
        if plan.caused is not None and done:
            title, after, minutes = plan.caused
            key = plan.cis[0]
            opened = start + timedelta(minutes=after)
            inc = _incident(title, ci_of(key), hit_of(key), Level.HIGH, opened, minutes, base, rng)
            found.append((inc, len(changes) - 1))
            busy.setdefault(key, []).append((opened, opened + timedelta(minutes=minutes)))
    # Incidents at each CI's rate, spread over the year, none overlapping on one CI.
    first_day, last_day = base - YEAR + timedelta(hours=1), base - QUIET
    span = (last_day - first_day).total_seconds()
    for prof in PROFILES:
        for n in range(prof.failures):
            minutes = _minutes(rng, prof.median_minutes, prof.spread)
            for _try in range(100):
                # The record begins with the year: the first incident on its first day.
                late = 0.0 if prof is PROFILES[0] and n == 0 else span
                opened = first_day + timedelta(seconds=rng.uniform(0, max(late, 36000.0)))
                opened = opened.replace(second=0, microsecond=0)
                closes = opened + timedelta(minutes=minutes)
                if closes < last_day and _free(busy.get(prof.ci, []), opened, closes):
                    break
            busy.setdefault(prof.ci, []).append((opened, closes))
            title = prof.titles[n % len(prof.titles)]
            hit = hit_of(prof.ci)
            inc = _incident(title, ci_of(prof.ci), hit, prof.urgency, opened, minutes, base, rng)
            found.append((inc, None))
    # References in the order things happened; a failed change and its incident name each other.
    found.sort(key=lambda t: (t[0].opened_at, t[0].title))
    for inc, idx in found:
        ref = inc_ids.next(inc.opened_at)
        if idx is not None:
            ch = changes[idx]
            changes[idx] = ch.model_copy(update={"incident_ids": [ref]})
            inc = inc.model_copy(update={"change_ids": [ch.id]})
        out.incidents.append(inc.model_copy(update={"id": ref}))
    out.changes = sorted(changes, key=lambda c: (c.planned_start or base, c.id))
    out.problems = _problems(out, ci_of, prb_ids)
    return out


@dataclass(frozen=True)
class KnownError:
    ci: tuple[str, str]
    title: str
    category: str
    root_cause: str
    workaround: str
    symptoms: tuple[str, ...]


KNOWN_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        ("Application", "Notifier"),
        "Notifier stops on a message it cannot render",
        "software",
        "A template error on one message stops the consumer: no dead-letter handling",
        "Move the message to the dead-letter queue and restart the notifier",
        ("notifier stuck", "poisoned message", "SMS delayed", "confirmations not sent"),
    ),
    KnownError(
        ("CloudResource", "Harbourpay gateway endpoint"),
        "Harbourpay gateway returns 502 under load",
        "supplier",
        "",
        "Payments adapter retries with back-off; raise a P2 with Harbourpay (contract HP-2025-118)",
        ("502 bad gateway", "gateway time-out", "card payments failing"),
    ),
)


def _problems(history: History, ci_of: Callable[[tuple[str, str]], CI], ids: _Ids) -> list[Problem]:
    """The known errors behind the recurring incidents, opened at the second occurrence."""
    out: list[Problem] = []
    for ke in KNOWN_ERRORS:
        ci = ci_of(ke.ci)
        incs = [i for i in history.incidents if ci.id in i.ci_ids]
        if len(incs) < 2:
            continue
        opened = incs[1].opened_at + timedelta(hours=4)
        out.append(
            Problem(
                id=ids.next(opened),
                title=ke.title,
                state=ProblemState.KNOWN_ERROR,
                category=ke.category,
                ci_ids=[ci.id],
                service_ids=sorted({s for i in incs for s in i.service_ids}),
                incident_ids=[i.id for i in incs],
                symptoms=list(ke.symptoms),
                root_cause=ke.root_cause,
                workaround=ke.workaround,
                opened_at=opened,
                known_error_at=opened + timedelta(days=3),
            )
        )
    return out


@dataclass(frozen=True)
class Loaded:
    at: datetime
    incidents: int
    changes: int
    problems: int
    written: int  # records written now (0 when loaded before)


def load_history(store: GraphStore, *, actor: str, seed: int = SEED) -> Loaded:
    """Write the year's records not there yet, in one change set."""
    at = loaded_at(store)
    history = build_history(store, at, seed=seed)
    # One read per kind of record: what is there already is left alone.
    have_inc = {i.id for i in store.list_incidents()}
    have_rfc = {c.id for c in store.list_changes()}
    have_prb = {p.id for p in store.list_problems()}
    incidents = [i for i in history.incidents if i.id not in have_inc]
    changes = [c for c in history.changes if c.id not in have_rfc]
    problems = [p for p in history.problems if p.id not in have_prb]
    if incidents or changes or problems:
        store.apply(
            ChangeSet(
                actor=actor,
                source=SOURCE,
                incidents=incidents,
                changes=changes,
                problems=problems,
            )
        )
    return Loaded(
        at=at,
        incidents=len(history.incidents),
        changes=len(history.changes),
        problems=len(history.problems),
        written=len(incidents) + len(changes) + len(problems),
    )
