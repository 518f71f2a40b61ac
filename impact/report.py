"""The answer to "what does this do to our services?": impacted CIs and services, each
with severity, the paths that explain it, customers, SLA exposure and score.

:func:`assess` is pure: it takes the impact graph, the failures, the CIs already down in
open incidents, the window (or the incident's "now") and the incident records (for the
outages already spent this period), and returns an :class:`ImpactReport`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from cmdb.domain.built import builder
from cmdb.domain.model import Criticality
from cmdb.domain.records import Incident
from cmdb.domain.service import SLA, Priority, ServiceKind
from impact._arrays import reach
from impact.explain import Explainer, ImpactPath, customers_of
from impact.graph import ImpactGraph
from impact.propagate import GroupNote, propagate
from impact.score import Score, score
from impact.severity import FailureMode, Severity
from impact.sla import (
    IncidentExposure,
    Interval,
    WindowExposure,
    incident_exposure,
    window_exposure,
)
from impact.sla import minutes_in_hours as hours_minutes

Question = Literal["change", "incident", "what-if"]
DEFAULT_HORIZON = 240.0  # minutes an ongoing outage is assumed to last without a target


def severity_name(s: Severity) -> str:
    return s.name.lower()


_SEVERITY_NAMES = {int(s): severity_name(s) for s in Severity}


class FailedCI(BaseModel):
    id: str
    name: str
    ci_class: str
    mode: str
    source: Literal["asked", "open incident"]


class ImpactedCI(BaseModel):
    id: str
    name: str
    ci_class: str
    severity: str
    new: bool  # worse than with the open incidents alone
    reason: str
    paths: list[ImpactPath]
    # The quorum behind the reason (what a cluster or replica set lost), or for a grouping
    # (a namespace, a site) how many of its members are hit: never down for that alone.
    group: GroupNote | None = None


class ServiceImpact(ImpactedCI):
    kind: str
    criticality: str | None
    customers: list[str]
    sla: str | None
    availability_target: float | None
    window: WindowExposure | None = None
    incident: IncidentExposure | None = None
    score: Score


class Caps(BaseModel):
    max_depth: int | None = None
    max_nodes: int | None = None
    strategy: str | None = None
    store_calls: int | None = None
    fetched_cis: int
    depth_reached: int
    truncated_by_depth: bool
    truncated_by_nodes: bool
    frontier: list[str]  # impacted CIs the depth cap may have stopped short of


class ImpactReport(BaseModel):
    question: Question
    as_of: datetime | None
    now: datetime
    window_start: datetime | None
    window_end: datetime | None
    score: float
    failed: list[FailedCI]
    already_down: list[FailedCI]
    unknown: list[str]  # asked-for CIs not in the graph (retired, or outside the subgraph)
    retired_ignored: list[str]
    services: list[ServiceImpact]
    cis: list[ImpactedCI]
    caps: Caps
    warnings: list[str]


# Makers of the models an answer has many of, from values the engine made or took from
# valid models (see cmdb.domain.built).
_item = builder(ImpactedCI)
_service_item = builder(ServiceImpact)
_window_exposure = builder(WindowExposure)
_incident_exposure = builder(IncidentExposure)


def naming(incidents: Iterable[Incident]) -> dict[str, list[Incident]]:
    """Each id the incidents name (as a service or as a CI) -> those incidents, in order:
    what each service's outages are read from (a month of a busy desk's incidents,
    scanned once rather than once per service)."""
    out: dict[str, list[Incident]] = {}
    for inc in incidents:
        for named in dict.fromkeys((*inc.service_ids, *inc.ci_ids)):
            out.setdefault(named, []).append(inc)
    return out


def service_outages(
    incidents: Iterable[Incident], service_id: str, until: datetime
) -> list[Interval]:
    """When a service was out, from the incidents recorded against it (open ones to now);
    an incident that is not an outage (a reduction in quality) spends nothing."""
    out: list[Interval] = []
    for inc in incidents:
        if not inc.outage:
            continue
        if service_id not in inc.service_ids and service_id not in inc.ci_ids:
            continue
        end = inc.resolved_at if inc.resolved_at is not None else until
        if end > inc.opened_at:
            out.append((inc.opened_at, min(end, until)))
    return out


_SEVERITY = {int(s): s for s in Severity}
# Enum values by member: reading ``.value`` goes through the enum machinery each time.
_VALUES: dict[Enum, str] = {m: m.value for e in (ServiceKind, Criticality) for m in e}


def _window(
    sla: SLA,
    start: datetime,
    end: datetime,
    outages: list[Interval],
    counts: bool,
    now: datetime,
    seen: dict[tuple[object, ...], Any],
) -> WindowExposure:
    """:func:`window_exposure` of a planned window, worked out once per distinct input:
    the services of one answer mostly share their service hours, target and allowances,
    and differ only by the SLA's name."""
    allowed = sla.scheduled_interruptions
    key = (
        "window",
        sla.service_hours.model_dump_json(),
        sla.availability_target,
        allowed.per_month,
        allowed.max_minutes,
        allowed.notice_hours,
        tuple(outages),
        counts,
    )
    got = seen.get(key)
    if got is None:
        got = seen[key] = window_exposure(
            sla, start, end, outages, counts=counts, planned=True, announced=now
        )
        return got
    # The same figures under this SLA's name (each value validated when the first was made).
    return _window_exposure(
        sla=sla.name,
        start=got.start,
        end=got.end,
        minutes_in_hours=got.minutes_in_hours,
        scheduled_interruption=got.scheduled_interruption,
        counts_against_budget=got.counts_against_budget,
        periods=[*got.periods],
        breach=got.breach,
    )


def _incident(
    sla: SLA,
    ahead: tuple[datetime, datetime],
    opened_at: datetime,
    now: datetime,
    outages: list[Interval],
    down: bool,
    seen: dict[tuple[object, ...], Any],
) -> tuple[float, IncidentExposure | None]:
    """Service-hour minutes ``ahead`` and, for a service down, the exposure of the ongoing
    outage (a walk through the rest of the month's service hours): each worked out once
    per distinct input in an answer, as :func:`_window`."""
    hours = sla.service_hours.model_dump_json()
    key: tuple[object, ...] = ("ahead", hours, ahead)
    minutes = seen.get(key)
    if minutes is None:
        minutes = seen[key] = hours_minutes(sla.service_hours, *ahead)
    if not down:
        return minutes, None
    key = ("incident", hours, sla.availability_target, opened_at, now, tuple(outages))
    got = seen.get(key)
    if got is None:
        got = seen[key] = incident_exposure(sla, opened_at, now, outages)
        return minutes, got
    return minutes, _incident_exposure(
        sla=sla.name,
        opened_at=got.opened_at,
        now=got.now,
        minutes_so_far=got.minutes_so_far,
        budget=got.budget,
        breached=got.breached,
        breach_at=got.breach_at,
        minutes_left=got.minutes_left,
        service_minutes_left=got.service_minutes_left,
    )


def _horizon(sla: SLA | None, priority: Priority) -> float:
    if sla is not None and priority in sla.resolution_minutes:
        return float(sla.resolution_minutes[priority])
    return DEFAULT_HORIZON


def assess(
    graph: ImpactGraph,
    failures: Mapping[str, FailureMode],
    *,
    question: Question,
    now: datetime,
    already_down: Iterable[str] = (),
    window: tuple[datetime, datetime] | None = None,
    incidents: Sequence[Incident] = (),
    opened_at: datetime | None = None,
    priority: Priority = Priority.P3,
    as_of: datetime | None = None,
    paths: int = 3,
    caps: Caps | None = None,
) -> ImpactReport:
    """Propagate, explain, score and expose: the whole answer for one question."""
    down_before = [d for d in dict.fromkeys(already_down) if d not in failures]
    prop = propagate(graph, failures, already_down=down_before)
    # What the open incidents alone do (nothing at all without them).
    base_sev = (
        propagate(graph, {}, already_down=down_before).sev.tolist()
        if down_before
        else [0] * graph.n
    )
    explainer = Explainer(prop)
    asked = [graph.pos[c] for c in prop.failed]
    from_asked = reach(graph.out, np.array(asked, dtype=np.int64), graph.n)
    # What the asked failures reach, and the groupings of what they reach.
    hit = prop.sev > 0
    listed = np.flatnonzero(graph.with_groupings(from_asked & hit) & hit).tolist()

    cis: list[ImpactedCI] = []
    services: list[ServiceImpact] = []
    seen: dict[tuple[object, ...], Any] = {}  # SLA figures by their inputs (_window)
    named = naming(incidents)
    # Plain lists: read once per CI, numpy scalars one at a time are slow.
    now_sev = prop.sev.tolist()
    all_cis, names = graph.cis, graph.names
    for v in sorted(listed, key=lambda i: (-now_sev[i], all_cis[i].ci_class, names[i])):
        ci = all_cis[v]
        reason, note = prop.explain(v)
        item = _item(  # of the engine's own values: see cmdb.domain.built
            id=ci.id,
            name=ci.name,
            ci_class=ci.ci_class,
            severity=_SEVERITY_NAMES[now_sev[v]],
            new=now_sev[v] > base_sev[v],
            reason=reason,
            paths=explainer.paths(v, paths, alternates=ci.service is not None),
            group=note,
        )
        cis.append(item)
        if ci.service is not None:
            services.append(
                _service(
                    graph,
                    v,
                    now_sev[v],
                    item,
                    now,
                    window,
                    named.get(ci.id, []),
                    opened_at,
                    priority,
                    seen,
                )
            )
    services.sort(key=lambda s: (-s.score.value, s.name, s.id))

    def failed_ci(
        ci_id: str, mode: FailureMode, source: Literal["asked", "open incident"]
    ) -> FailedCI:
        ci = graph.cis[graph.pos[ci_id]]
        return FailedCI(
            id=ci.id, name=ci.name, ci_class=ci.ci_class, mode=mode.value, source=source
        )

    frontier = [graph.ids[i] for i in listed if graph.frontier.size and graph.frontier[i]]
    return ImpactReport(
        question=question,
        as_of=as_of,
        now=now,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        score=max((s.score.value for s in services), default=0.0),
        failed=[failed_ci(c, m, "asked") for c, m in prop.failed.items()],
        already_down=[
            failed_ci(c, FailureMode.DOWN, "open incident") for c in sorted(prop.already_down)
        ],
        unknown=prop.unknown,
        retired_ignored=graph.ignored,
        services=services,
        cis=cis,
        caps=(
            caps
            or Caps(
                fetched_cis=graph.n,
                depth_reached=graph.depth_reached,
                truncated_by_depth=graph.truncated_by_depth,
                truncated_by_nodes=graph.truncated_by_nodes,
                frontier=[],
            )
        ).model_copy(update={"frontier": sorted(frontier)}),
        warnings=graph.warnings,
    )


def _service(
    graph: ImpactGraph,
    v: int,
    now_sev: int,
    item: ImpactedCI,
    now: datetime,
    window: tuple[datetime, datetime] | None,
    incidents: Sequence[Incident],
    opened_at: datetime | None,
    priority: Priority,
    seen: dict[tuple[object, ...], Any],
) -> ServiceImpact:
    ci = graph.cis[v]
    details = ci.service
    assert details is not None
    sla = details.sla
    sev = _SEVERITY[now_sev]
    customers = customers_of(graph, v)
    outages = service_outages(incidents, ci.id, now)
    window_exp: WindowExposure | None = None
    incident_exp: IncidentExposure | None = None
    if window is not None:
        start, end = window
        if sla is not None:
            window_exp = _window(sla, start, end, outages, sev is Severity.DOWN, now, seen)
            minutes = window_exp.minutes_in_hours
        else:
            minutes = (end - start).total_seconds() / 60.0
    else:
        horizon = _horizon(sla, priority)
        ahead = (now, now + timedelta(minutes=horizon))
        if sla is not None:
            minutes, incident_exp = _incident(
                sla, ahead, opened_at or now, now, outages, sev is Severity.DOWN, seen
            )
        else:
            minutes = horizon
    # Built as ``item`` is (its paths and notes shared, not validated again: of the
    # engine's own making), and the rest of plain values the engine took from valid models.
    return _service_item(
        **item.__dict__,
        kind=_VALUES[details.kind],
        criticality=_VALUES[ci.criticality] if ci.criticality else None,
        customers=customers,
        sla=sla.name if sla else None,
        availability_target=sla.availability_target if sla else None,
        window=window_exp,
        incident=incident_exp,
        score=score(
            sev,
            criticality=ci.criticality,
            customers=len(customers),
            target_percent=sla.availability_target if sla else None,
            minutes_in_hours=minutes,
        ),
    )
