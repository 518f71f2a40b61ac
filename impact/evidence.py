"""Reliability evidence per CI: what each availability, MTBF and MTTR figure rests on.

Every figure the engine uses for a CI comes from the first of these that has it:

1. **observed**: the outages the CMDB records for the CI over the observation period:
   incidents naming it (``Incident.ci_ids``; a service's own record is read from the
   incidents naming it as a service, see :func:`service_record`), and discovery runs that
   reported it unreachable. Each outage runs from the incident's opening to its
   resolution (an open one to now), clipped to the period; overlapping outages of one CI
   are one outage (two incidents about one failure are not two failures). Then
   ``availability = 1 - downtime / period``, ``MTBF = uptime / failures`` and ``MTTR`` the
   mean length of its resolved outages (whole, not clipped: a repair is as long as it was).
2. **declared**: attributes a person set: ``availability`` (a fraction, or a percent when
   above 1), ``mtbf_hours`` (or ``mtbf``, hours), ``mttr_minutes`` / ``mttr`` /
   ``recovery_minutes`` (minutes), ``rto_minutes`` / ``rto`` (minutes, a recovery *objective*:
   used for the repair time only when nothing better is known). A string with a unit
   (``"4h"``, ``"30 min"``, ``"2d"``) is read too. Availability may also be declared as
   ``mtbf / (mtbf + mttr)``.
3. **default**: the class's figure (nearest ancestor in the class tree).

The **observation period** is the last ``months`` (12) before ``now``, shortened to start
at the earliest incident or discovery run the CMDB records: a CMDB that began recording
incidents three months ago has observed three months, and one that records none has
observed nothing (every figure is then declared or a default); under four weeks is too
short to observe a failure rate, and counts as nothing observed. A CI with no outage in the
period keeps its declared or default availability (no failure in a year is not proof of
100 %), and its basis says that nothing failed.

**Logical CIs** (services, applications, clusters, workloads, packages, parties) are up
when what they are made of is: their availability is their structure (1 on their own) and
they come back when their parts do (no repair time of their own). They are not counted
among the CIs that "rest on defaults", unless a failure of their own is recorded.

Pure: the caller gathers the records once per question (:class:`Records`) and asks for the
CIs it needs; nothing here reads a store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cmdb.domain.classes import lineage
from cmdb.domain.model import CI
from cmdb.domain.records import DiscoveryRun, Incident

Source = Literal["observed", "declared", "default"]
SOURCES: tuple[Source, ...] = ("observed", "declared", "default")  # strongest first


def weakest(*sources: str) -> Source:
    """The least solid of ``sources``: a figure is only as good as what it rests on."""
    for s in reversed(SOURCES):
        if s in sources:
            return s
    return "default"


MINUTES_PER_YEAR = 365.25 * 24 * 60
DAYS_PER_MONTH = 365.25 / 12
DEFAULT_MONTHS = 12
# Less than this is too short to observe a failure rate: the figures stay declared/default.
MIN_OBSERVED_DAYS = 28.0

# A component's own availability, by class (nearest ancestor wins). Logical classes are 1:
# their availability is their structure.
DEFAULT_AVAILABILITY: dict[str, float] = {
    "Service": 1.0,
    "Application": 1.0,
    "KubernetesWorkload": 1.0,
    "Cluster": 1.0,
    "SoftwarePackage": 1.0,
    "Database": 0.9995,
    "ApplicationInstance": 0.999,
    "Pod": 0.999,
    "Container": 0.999,
    "VirtualMachine": 0.9995,
    "Server": 0.999,
    "LoadBalancer": 0.9999,
    "NetworkDevice": 0.9999,
    "StorageVolume": 0.99995,
    "CloudResource": 0.9995,
    "Location": 0.99995,
    "Party": 1.0,
    "ConfigurationItem": 1.0,
}
# How long a repair of one takes, in minutes (a restart for software, a part swapped under
# a next-business-day contract would be longer: declare it).
DEFAULT_MTTR: dict[str, float] = {
    "Database": 60.0,
    "ApplicationInstance": 15.0,
    "Pod": 5.0,
    "Container": 10.0,
    "VirtualMachine": 30.0,
    "Server": 240.0,
    "LoadBalancer": 60.0,
    "NetworkDevice": 120.0,
    "StorageVolume": 240.0,
    "CloudResource": 60.0,
    "Location": 480.0,
}
# How often one fails in a year, when nothing is recorded or declared (a rate is not implied
# by the default availability and repair time: a 99.9 % container that restarts in 10 min
# would fail 50 times a year).
DEFAULT_FAILURES_PER_YEAR: dict[str, float] = {
    "Database": 2.0,
    "ApplicationInstance": 4.0,
    "Pod": 6.0,
    "Container": 4.0,
    "VirtualMachine": 2.0,
    "Server": 1.5,
    "LoadBalancer": 0.5,
    "NetworkDevice": 0.5,
    "StorageVolume": 0.5,
    "CloudResource": 2.0,
    "Location": 0.1,
}
LOGICAL: frozenset[str] = frozenset(
    {"Service", "Application", "KubernetesWorkload", "Cluster", "SoftwarePackage", "Party"}
)

_AVAILABILITY_KEYS = ("availability",)
_MTBF_KEYS = ("mtbf_hours", "mtbf")
_MTTR_KEYS = ("mttr_minutes", "mttr", "recovery_minutes")
_RTO_KEYS = ("rto_minutes", "rto")
_UNREACHABLE = re.compile(r"^host (\S+) unreachable")


@dataclass(frozen=True)
class Figure:
    """One number and where it came from. ``value`` None: not known (``basis`` says why)."""

    value: float | None
    source: Source
    basis: str


@dataclass(frozen=True)
class Reliability:
    """What the CMDB knows about how one CI fails and comes back."""

    ci_id: str
    ci_class: str
    availability: Figure  # a fraction
    mtbf_hours: Figure
    mttr_minutes: Figure  # the repair time recovery plans use (MTTR, else RTO)
    failures: int  # observed outages in the period
    period_days: float  # the observation period (0: nothing observed)
    logical: bool  # up when its parts are: not a component that "rests on defaults"

    @property
    def source(self) -> Source:
        return self.availability.source

    @property
    def on_default(self) -> bool:
        """A physical component whose availability is only its class's default."""
        return self.availability.source == "default" and not self.logical


@dataclass(frozen=True)
class Records:
    """What the store records about failures, read once per question."""

    incidents: Sequence[Incident]
    runs: Sequence[DiscoveryRun]
    now: datetime
    months: int = DEFAULT_MONTHS


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400.0

    def describe(self) -> str:
        return over(self.days)


def over(days: float) -> str:
    """'over 12 months' / 'over 9 days': the length of an observation."""
    months = round(days / DAYS_PER_MONTH)
    if months >= 1:
        return f"over {months} month{'s' if months != 1 else ''}"
    d = max(1, round(days))
    return f"over {d} day{'s' if d != 1 else ''}"


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def observation_period(records: Records) -> Period | None:
    """The last ``months`` before now, from the first record on; None if nothing recorded."""
    now = _utc(records.now)
    first = [_utc(i.opened_at) for i in records.incidents]
    first += [_utc(r.started_at) for r in records.runs]
    starts = [t for t in first if t < now]
    if not starts:
        return None
    start = max(now - timedelta(days=records.months * DAYS_PER_MONTH), min(starts))
    period = Period(start, now)
    return period if period.days >= MIN_OBSERVED_DAYS else None


# -- outages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    start: datetime
    end: datetime  # an open incident: now
    resolved: bool
    refs: tuple[str, ...]  # incident ids, or "run <id>"


def merge(outages: Iterable[Outage]) -> list[Outage]:
    """Overlapping (or touching) outages as one: one failure, its downtime counted once."""
    out: list[Outage] = []
    for o in sorted(outages, key=lambda o: (o.start, o.end)):
        if out and o.start <= out[-1].end:
            last = out[-1]
            # Resolved when the part that ran longest was.
            if o.end != last.end:
                resolved = o.resolved if o.end > last.end else last.resolved
            else:
                resolved = o.resolved and last.resolved
            out[-1] = Outage(last.start, max(last.end, o.end), resolved, last.refs + o.refs)
        else:
            out.append(o)
    return out


def clipped_minutes(o: Outage, period: Period) -> float:
    start, end = max(o.start, period.start), min(o.end, period.end)
    return max(0.0, (end - start).total_seconds() / 60.0)


def outages_of(
    records: Records, wanted: Mapping[str, str], period: Period | None
) -> dict[str, list[Outage]]:
    """Per wanted CI (id -> name), its merged outages that touch the period."""
    if period is None or not wanted:
        return {}
    now = _utc(records.now)
    raw: dict[str, list[Outage]] = {}
    for inc in records.incidents:
        hit = [c for c in inc.ci_ids if c in wanted]
        if not hit:
            continue
        start = _utc(inc.opened_at)
        end = _utc(inc.resolved_at) if inc.resolved_at is not None else now
        o = Outage(start, min(end, now), inc.resolved_at is not None, (inc.id,))
        for c in hit:
            raw.setdefault(c, []).append(o)
    by_name = _names(wanted)
    for run in records.runs:
        for problem in run.problems:
            m = _UNREACHABLE.match(problem.message)
            if m is None:
                continue
            host = m.group(1).lower()
            ci_id = by_name.get(host) or by_name.get(host.split(".")[0])
            if ci_id is None:
                continue
            start = _utc(run.started_at)
            end = _utc(run.ended_at) if run.ended_at is not None else start
            raw.setdefault(ci_id, []).append(Outage(start, end, True, (f"run {run.id}",)))
    out: dict[str, list[Outage]] = {}
    for ci_id, found in raw.items():
        kept = [o for o in merge(found) if o.end >= period.start and o.start <= period.end]
        if kept:
            out[ci_id] = kept
    return out


def _names(wanted: Mapping[str, str]) -> dict[str, str]:
    """Host names as discovery reports them (short name or FQDN) -> CI id."""
    out: dict[str, str] = {}
    for ci_id, name in wanted.items():
        out.setdefault(name.lower(), ci_id)
    return out


# -- declared values ------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|mins|minutes|h|hr|hrs|hours|d|days)?\s*$")
_UNIT = {"m": 1.0, "min": 1.0, "mins": 1.0, "minutes": 1.0, "h": 60.0, "hr": 60.0}
_UNIT |= {"hrs": 60.0, "hours": 60.0, "d": 1440.0, "days": 1440.0}


def _minutes(raw: object, default_unit: float) -> float | None:
    """A positive duration in minutes from a number (in ``default_unit`` minutes) or a
    string with a unit; None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) * default_unit if raw > 0 else None
    if isinstance(raw, str):
        m = _DURATION.match(raw.lower())
        if m:
            value = float(m.group(1)) * (_UNIT[m.group(2)] if m.group(2) else default_unit)
            return value if value > 0 else None
    return None


def _declared(ci: CI, keys: tuple[str, ...], unit: float) -> tuple[float, str] | None:
    for key in keys:
        value = _minutes(ci.attributes.get(key), unit)
        if value is not None:
            return value, key
    return None


def declared_availability(ci: CI) -> float | None:
    raw = ci.attributes.get("availability")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = raw / 100.0 if raw > 1 else float(raw)
        if 0 < value <= 1:
            return value
    return None


def class_default(table: Mapping[str, float], ci_class: str) -> tuple[float, str] | None:
    for cls in lineage(ci_class):
        if cls in table:
            return table[cls], cls
    return None


def is_logical(ci_class: str) -> bool:
    return any(c in LOGICAL for c in lineage(ci_class))


# -- one CI --------------------------------------------------------------------------------


def _pct(a: float) -> str:
    return f"{a * 100:.4g} %"


def reliability(
    ci: CI, outages: Sequence[Outage] = (), period: Period | None = None
) -> Reliability:
    """The evidence for one CI: its merged outages over ``period`` first, then what a
    person declared, then its class's defaults."""
    logical = is_logical(ci.ci_class)
    failures = len(outages) if period is not None else 0
    mtbf_decl = _declared(ci, _MTBF_KEYS, 60.0)  # hours, kept in minutes here
    mttr_decl = _declared(ci, _MTTR_KEYS, 1.0)
    rto_decl = _declared(ci, _RTO_KEYS, 1.0)

    resolved = [(o.end - o.start).total_seconds() / 60.0 for o in outages if o.resolved]
    # MTTR: observed, declared, RTO (an objective: the time it must take at most), default.
    if failures and resolved:
        mttr = Figure(
            sum(resolved) / len(resolved),
            "observed",
            f"mean of {len(resolved)} recorded repair{'s' if len(resolved) != 1 else ''}"
            f" {period.describe() if period else ''}".rstrip(),
        )
    elif mttr_decl is not None:
        mttr = Figure(mttr_decl[0], "declared", f"declared {mttr_decl[1]}")
    elif rto_decl is not None:
        mttr = Figure(rto_decl[0], "declared", f"declared {rto_decl[1]} (recovery objective)")
    elif logical:
        why = (
            "a party: nothing of ours to restore"
            if "Party" in lineage(ci.ci_class)
            else "comes back when what it rests on does"
        )
        mttr = Figure(0.0, "default", why)
    else:
        d = class_default(DEFAULT_MTTR, ci.ci_class)
        mttr = (
            Figure(d[0], "default", f"default for {d[1]}")
            if d is not None
            else Figure(
                None, "default", f"no repair time recorded or declared, none for {ci.ci_class}"
            )
        )

    quiet = (
        f"; no outage recorded {period.describe()}" if period is not None and not failures else ""
    )
    if failures and period is not None:
        down = sum(clipped_minutes(o, period) for o in outages)
        span = period.days * 1440.0
        when = period.describe()
        availability = Figure(
            max(0.0, 1.0 - down / span),
            "observed",
            f"{failures} outage{'s' if failures != 1 else ''}, {down:.0f} min down {when}",
        )
        mtbf = Figure(
            (span - down) / failures / 60.0,
            "observed",
            f"{failures} failure{'s' if failures != 1 else ''} {when}",
        )
    else:
        a_decl = declared_availability(ci)
        if mtbf_decl is not None:
            mtbf = Figure(mtbf_decl[0] / 60.0, "declared", f"declared {mtbf_decl[1]}")
        if a_decl is not None:
            availability = Figure(a_decl, "declared", "declared availability" + quiet)
        elif mtbf_decl is not None and mttr.value is not None and mttr.source == "declared":
            m = mtbf_decl[0]
            availability = Figure(
                m / (m + mttr.value), "declared", f"declared {mtbf_decl[1]} and MTTR{quiet}"
            )
        else:
            d = class_default(DEFAULT_AVAILABILITY, ci.ci_class)
            value, cls = d if d is not None else (1.0, ci.ci_class)
            why = "its structure" if logical else f"default for {cls}"
            availability = Figure(value, "default", why + quiet)
        if mtbf_decl is None:
            mtbf = _implied_mtbf(ci.ci_class, availability, mttr, logical)
    return Reliability(
        ci_id=ci.id,
        ci_class=ci.ci_class,
        availability=availability,
        mtbf_hours=mtbf,
        mttr_minutes=mttr,
        failures=failures,
        period_days=period.days if period is not None else 0.0,
        logical=logical and not failures,
    )


def _implied_mtbf(ci_class: str, availability: Figure, mttr: Figure, logical: bool) -> Figure:
    """MTBF from a declared availability and repair time, else the class's failure rate."""
    a, r = availability.value, mttr.value
    if logical or a is None or a >= 1.0:
        return Figure(None, availability.source, "does not fail on its own")
    if availability.source == "declared" and r:
        return Figure(a / (1.0 - a) * r / 60.0, "declared", "from availability and MTTR")
    d = class_default(DEFAULT_FAILURES_PER_YEAR, ci_class)
    if d is None:
        return Figure(None, "default", f"no failure rate known for {ci_class}")
    return Figure(MINUTES_PER_YEAR / 60.0 / d[0], "default", f"default for {d[1]}: {d[0]:g} a year")


def failure_rate(evidence: Reliability) -> float:
    """Expected failures per year: observed count over the period, else 1 / MTBF."""
    if evidence.availability.source == "observed" and evidence.period_days > 0:
        return evidence.failures / (evidence.period_days / 365.25)
    mtbf = evidence.mtbf_hours.value
    if mtbf is None or mtbf <= 0:
        return 0.0
    return MINUTES_PER_YEAR / 60.0 / mtbf


# -- many CIs ------------------------------------------------------------------------------


def gather(cis: Iterable[CI], records: Records | None) -> dict[str, Reliability]:
    """Evidence for each of ``cis`` (the CIs of one cone), from records read once."""
    chosen = list(cis)
    period = observation_period(records) if records is not None else None
    found = (
        outages_of(records, {c.id: c.name for c in chosen}, period) if records is not None else {}
    )
    return {c.id: reliability(c, found.get(c.id, ()), period) for c in chosen}


@dataclass(frozen=True)
class Tally:
    """How many components rest on each source (logical CIs left out)."""

    observed: int
    declared: int
    default: int

    @property
    def components(self) -> int:
        return self.observed + self.declared + self.default

    @property
    def mostly_defaults(self) -> bool:
        return self.components > 0 and self.default * 2 > self.components

    def describe(self) -> str:
        return (
            f"{self.observed} observed, {self.declared} declared, {self.default} on class defaults"
        )

    def warning(self, what: str) -> str | None:
        if not self.mostly_defaults:
            return None
        return (
            f"{what} rests mostly on class defaults ({self.default} of {self.components}"
            " components have no recorded outages or declared figures): it says little"
            " about this estate"
        )


def tally(evidence: Iterable[Reliability]) -> Tally:
    counts = dict.fromkeys(SOURCES, 0)
    for ev in evidence:
        if not ev.logical:
            counts[ev.source] += 1
    return Tally(counts["observed"], counts["declared"], counts["default"])


@dataclass(frozen=True)
class ServiceRecord:
    """A service's own outage record: the incidents that took it down."""

    availability: float
    outages: int
    downtime_minutes: float
    period_days: float
    mean_minutes: float | None  # mean length of its resolved outages (whole, not clipped)

    @property
    def basis(self) -> str:
        s = "s" if self.outages != 1 else ""
        return f"{self.outages} outage{s}, {self.downtime_minutes:.0f} min {over(self.period_days)}"


def service_record(records: Records, service_id: str) -> ServiceRecord | None:
    """The service's observed availability over the period, from outage incidents naming
    it as a service (overlaps counted once); None when the CMDB has observed nothing."""
    period = observation_period(records)
    if period is None:
        return None
    now = _utc(records.now)
    found = [
        Outage(
            _utc(i.opened_at),
            min(now, _utc(i.resolved_at)) if i.resolved_at is not None else now,
            i.resolved_at is not None,
            (i.id,),
        )
        for i in records.incidents
        if i.outage and service_id in i.service_ids
    ]
    merged = [o for o in merge(found) if o.end >= period.start and o.start <= period.end]
    down = sum(clipped_minutes(o, period) for o in merged)
    lengths = [(o.end - o.start).total_seconds() / 60.0 for o in merged if o.resolved]
    return ServiceRecord(
        availability=max(0.0, 1.0 - down / (period.days * 1440.0)),
        outages=len(merged),
        downtime_minutes=down,
        period_days=period.days,
        mean_minutes=sum(lengths) / len(lengths) if lengths else None,
    )
