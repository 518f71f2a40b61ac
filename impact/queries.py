"""The engine's questions asked of a store: what the CLI and the API call.

Each function fetches the subgraph it needs (:mod:`impact.fetch`, one call by default),
reads the incident and change records it needs, and hands everything to the pure parts of
the engine. Every one takes ``as_of``: the graph, and the incidents open, as they were then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import CI
from cmdb.domain.records import Change, ChangeState, Incident, IncidentState
from cmdb.domain.service import Priority
from cmdb.store.contract import GraphStore
from cmdb.store.gcpause import gc_paused
from impact import spof_rank
from impact.availability import AvailabilityResult, service_availability
from impact.breach import with_sla
from impact.cause import (
    FAILURE_WINDOW,
    CauseResult,
    Evidence,
    rank_causes,
    real_changes,
    suspects,
)
from impact.evidence import Records
from impact.fetch import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES, Fetched, Strategy, fetch
from impact.graph import ImpactGraph, build_impact_graph
from impact.recovery import RecoveryPlan, recovery_plan
from impact.report import Caps, ImpactReport, assess
from impact.severity import FailureMode
from impact.sla import budget_since
from impact.spof import SpofResult, single_points_of_failure

# Change records that say something was done to a CI: evidence for a cause (a scheduled
# one too, once its window has begun: it is in progress).
_DONE = {ChangeState.IMPLEMENTED, ChangeState.REVIEWED, ChangeState.CLOSED}
HISTORY_LOOKUPS = 50  # candidates whose history is read, best-explaining first
RUNS_READ = 1000  # newest discovery runs read for hosts seen down (one call)


@dataclass(frozen=True)
class Limits:
    """Caps of the walk, and how to fetch: "walk" by default, the exact closure and the
    members of its clusters in one store round trip (each relationship type followed in
    its own impact direction), faster than "rounds" (the same CIs in a few round trips) on
    every case bench/impact.py measures; "one-call" (one BOTH walk) reads the whole
    connected estate on every realistic estate (see impact/fetch.py)."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES
    strategy: Strategy = "walk"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _now(now: datetime | None, as_of: datetime | None) -> datetime:
    if as_of is not None:
        return as_of
    return now if now is not None else datetime.now(UTC)


def incidents_as_of(
    store: GraphStore, as_of: datetime | None, *, since: datetime | None = None
) -> list[Incident]:
    """Every incident as it stood at ``as_of``: opened by then, resolved only if by then;
    with ``since`` (at or before ``as_of``), those resolved before it left out unread."""
    if since is not None and as_of is not None:
        since = min(_aware(since), _aware(as_of))  # one resolved after as_of was open then
    found = store.list_incidents(resolved_since=since)
    if as_of is None:
        return found
    out: list[Incident] = []
    for inc in found:
        if inc.opened_at > as_of:
            continue
        if inc.resolved_at is not None and inc.resolved_at > as_of:
            inc = inc.model_copy(update={"resolved_at": None, "state": IncidentState.OPEN})
        out.append(inc)
    return out


def open_incident_cis(incidents: Sequence[Incident]) -> list[str]:
    return sorted(
        {
            c
            for inc in incidents
            if inc.resolved_at is None and inc.state is IncidentState.OPEN
            for c in inc.ci_ids
        }
    )


def _graph(
    store: GraphStore,
    roots: Sequence[CI],
    upstream: bool,
    limits: Limits,
    as_of: datetime | None,
    *,
    brief: bool = False,
) -> tuple[ImpactGraph, Fetched]:
    # ``brief`` where the answer reads no CI's sources, provenance, identifiers or
    # agreements (change and incident impact); the questions that weigh evidence
    # (availability, SPOF ranks) read them.
    got = fetch(
        store,
        roots,
        upstream=upstream,
        strategy=limits.strategy,
        max_depth=limits.max_depth,
        max_nodes=limits.max_nodes,
        as_of=as_of,
        brief=brief,
    )
    return build_impact_graph(got.subgraph, frontier=got.frontier), got


def _caps(graph: ImpactGraph, got: Fetched, limits: Limits) -> Caps:
    return Caps(
        max_depth=limits.max_depth,
        max_nodes=limits.max_nodes,
        strategy=got.strategy,
        store_calls=got.calls,
        fetched_cis=len(got.subgraph.nodes),
        depth_reached=got.subgraph.depth_reached,
        truncated_by_depth=got.subgraph.truncated_by_depth,
        truncated_by_nodes=got.subgraph.truncated_by_nodes,
        frontier=[],
    )


def _failed_and_roots(
    store: GraphStore, cis: Sequence[CI], incidents: Sequence[Incident], as_of: datetime | None
) -> tuple[list[CI], list[str]]:
    """The roots to fetch from: the failed CIs and the CIs down in open incidents (so a
    quorum dented by an incident is seen)."""
    down = [c for c in open_incident_cis(incidents) if c not in {x.id for x in cis}]
    extra: list[CI] = []
    if as_of is None:
        # One read for all of them (one round trip on Neo4j, where a desk's score of open
        # incidents was as many); a CI an incident names may be gone: left out.
        found = store.get_cis(down) if down else {}
        extra = [found[c] for c in down if c in found]
    else:
        for ci_id in down:
            try:
                extra.append(store.get_ci(ci_id, as_of=as_of))
            except NotFound:  # an incident may name a CI that did not exist at as_of
                continue
    return [*cis, *extra], [c.id for c in extra]


# An impact answer builds ~10k short-lived objects (decoded CIs, paths, notes) and no
# reference cycles; with the collector running, its passes over them were ~20 % of a
# change impact at 100k CIs (bench/impact.py). Reference counting frees them as usual.
@gc_paused()
def change_impact(
    store: GraphStore,
    cis: Sequence[CI],
    start: datetime,
    end: datetime,
    *,
    mode: FailureMode = FailureMode.DOWN,
    as_of: datetime | None = None,
    now: datetime | None = None,
    limits: Limits = Limits(),
    paths: int = 3,
    with_open_incidents: bool = True,
) -> ImpactReport:
    """A planned change takes ``cis`` down (or degrades them) from ``start`` to ``end``."""
    if end <= start:
        raise InvalidInput("the window must end after it starts", where="--end")
    # What the answer reads of them: the open ones and the outages of the SLA months from
    # the window's (or now's, if earlier) on.
    since = budget_since(min(_aware(start), _aware(_now(now, as_of))))
    incidents = incidents_as_of(store, as_of, since=since)
    roots, down = (
        _failed_and_roots(store, cis, incidents, as_of) if with_open_incidents else (list(cis), [])
    )
    graph, got = _graph(store, roots, False, limits, as_of, brief=True)
    return assess(
        graph,
        {c.id: mode for c in cis},
        question="change",
        now=_now(now, as_of),
        already_down=down,
        window=(start, end),
        incidents=incidents,
        as_of=as_of,
        paths=paths,
        caps=_caps(graph, got, limits),
    )


@gc_paused()  # as change_impact
def incident_impact(
    store: GraphStore,
    cis: Sequence[CI],
    *,
    mode: FailureMode = FailureMode.DOWN,
    as_of: datetime | None = None,
    now: datetime | None = None,
    limits: Limits = Limits(),
    paths: int = 3,
) -> ImpactReport:
    """``cis`` are failing now: what is hit, and how long each SLA has before breach."""
    at = _now(now, as_of)
    # The open ones, and the outages of this SLA month (the budget left).
    incidents = incidents_as_of(store, as_of, since=budget_since(at))
    roots, down = _failed_and_roots(store, cis, incidents, as_of)
    asked = {c.id for c in cis}
    mine = [i for i in incidents if i.resolved_at is None and asked & set(i.ci_ids)]
    opened = min((i.opened_at for i in mine), default=at)
    priority = min((i.priority for i in mine), default=Priority.P3)
    graph, got = _graph(store, roots, False, limits, as_of, brief=True)
    return assess(
        graph,
        {c.id: mode for c in cis},
        question="incident",
        now=at,
        already_down=down,
        incidents=incidents,
        opened_at=opened,
        priority=priority,
        as_of=as_of,
        paths=paths,
        caps=_caps(graph, got, limits),
    )


def _service(ci: CI) -> CI:
    if ci.service is None:
        raise InvalidInput(f"{ci.label()} is not a Service", where="SERVICE")
    return ci


def spof_report(
    store: GraphStore,
    service: CI,
    *,
    as_of: datetime | None = None,
    limits: Limits = Limits(),
    with_open_incidents: bool = True,
) -> SpofResult:
    _service(service)
    incidents = incidents_as_of(store, as_of)
    down = open_incident_cis(incidents) if with_open_incidents else []
    graph, _ = _graph(store, [service], True, limits, as_of)
    found = single_points_of_failure(graph, service.id, already_down=down)
    records = failure_records(store, as_of=as_of, incidents=incidents)
    return spof_rank.rank(
        found,
        graph,
        lambda roots, up: _graph(store, roots, up, limits, as_of)[0],
        already_down=down,
        records=records,
    )


def failure_records(
    store: GraphStore,
    *,
    as_of: datetime | None = None,
    now: datetime | None = None,
    incidents: Sequence[Incident] | None = None,
) -> Records:
    """What the store records about failures, read once per question: the incidents (as
    they stood at ``as_of``) and the newest discovery runs (those that saw a host down)."""
    at = _now(now, as_of)
    runs = [r for r in store.list_runs(limit=RUNS_READ) if _aware(r.started_at) <= at]
    found = incidents if incidents is not None else incidents_as_of(store, as_of)
    return Records(incidents=found, runs=runs, now=at)


def availability_report(
    store: GraphStore,
    service: CI,
    *,
    as_of: datetime | None = None,
    now: datetime | None = None,
    limits: Limits = Limits(),
) -> AvailabilityResult:
    """Expected availability and SLA breach odds, every figure from the evidence the store
    holds (recorded outages over the last year, declared values, class defaults)."""
    _service(service)
    graph, _ = _graph(store, [service], True, limits, as_of)
    records = failure_records(store, as_of=as_of, now=now)
    result = service_availability(graph, service.id, records=records)
    return with_sla(result, graph, _now(now, as_of), records=records)


def recovery_report(
    store: GraphStore,
    service: CI,
    *,
    as_of: datetime | None = None,
    limits: Limits = Limits(),
    current: bool = False,
    now: datetime | None = None,
) -> RecoveryPlan:
    """A cold-start plan, or (``current``) one for the CIs down in open incidents now; each
    step timed by the CI's repair-time evidence (observed, declared, default)."""
    _service(service)
    graph, _ = _graph(store, [service], True, limits, as_of)
    incidents = incidents_as_of(store, as_of)
    down = open_incident_cis(incidents) if current else None
    records = failure_records(store, as_of=as_of, now=now, incidents=incidents)
    return recovery_plan(graph, service.id, down=down, records=records)


def cause_report(
    store: GraphStore,
    cis: Sequence[CI],
    *,
    as_of: datetime | None = None,
    now: datetime | None = None,
    lookback: timedelta = timedelta(hours=24),
    limits: Limits = Limits(),
    top: int = 10,
    failure_window: timedelta = FAILURE_WINDOW,
) -> CauseResult:
    """Which upstream CI best explains ``cis``: the ranking of :mod:`impact.cause` with the
    changes and incidents the store records. Changes are weighed against the first symptom:
    the earliest open incident naming one of ``cis`` (else now)."""
    at = _now(now, as_of)
    graph, _ = _graph(store, cis, True, limits, as_of)
    affected = [c.id for c in cis]
    incidents = incidents_as_of(store, as_of)
    symptoms = symptom_incidents(incidents, affected)
    first = min((_aware(i.opened_at) for i in symptoms), default=None)
    # Whose records are worth reading: the candidates explaining most, nearest first.
    ids = suspects(graph, affected, HISTORY_LOOKUPS)
    return rank_causes(
        graph,
        affected,
        evidence=_evidence(store, ids, first or at, at, lookback),
        failures=_failures(incidents, ids, {i.id for i in symptoms}),
        now=at,
        first_symptom=first,
        symptom_incidents=[i.id for i in symptoms],
        lookback=lookback,
        failure_window=failure_window,
        top=top,
    )


def symptom_incidents(incidents: Sequence[Incident], affected: Sequence[str]) -> list[Incident]:
    """The open incidents naming an affected item (as a CI or as a service), oldest first."""
    wanted = set(affected)
    return sorted(
        (
            i
            for i in incidents
            if i.resolved_at is None
            and i.state is IncidentState.OPEN
            and wanted.intersection([*i.ci_ids, *i.service_ids])
        ),
        key=lambda i: (i.opened_at, i.id),
    )


def _state_at(ch: Change, at: datetime) -> ChangeState | None:
    """The change's state at ``at`` by its log (its current state when it keeps none)."""
    if not ch.log:
        return ch.state
    passed = [e for e in ch.log if _aware(e.at) <= at]
    return passed[-1].state if passed else None


def change_window(ch: Change, at: datetime) -> tuple[datetime | None, datetime] | None:
    """When an RFC ran, as (start, end), if by ``at`` it was implemented or in progress: its
    schedule (changes happen inside their window), else the instant its log says it was
    implemented. A scheduled change counts once its window has begun."""
    state = _state_at(ch, at)
    start = _aware(ch.planned_start) if ch.planned_start else None
    end = _aware(ch.planned_end) if ch.planned_end else None
    if state in _DONE:
        done = [_aware(e.at) for e in ch.log if e.state is ChangeState.IMPLEMENTED]
        end = end or (done[-1] if done else start)
    elif state is ChangeState.SCHEDULED:
        if start is None or start > at:
            return None
        end = end or start
    else:
        return None
    if end is None:
        return None
    return (start if start is not None and start <= end else None), end


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _evidence(
    store: GraphStore, ci_ids: Sequence[str], first: datetime, now: datetime, lookback: timedelta
) -> list[Evidence]:
    """The changes to ``ci_ids`` that ended at most ``lookback`` before the first symptom
    and began by ``now``: RFCs implemented or in progress, and recorded field changes
    (not the loading or first discovery of a CI, :func:`impact.cause.real_changes`)."""
    since = first - lookback
    wanted = set(ci_ids)
    out: list[Evidence] = []
    for ch in store.list_changes():
        window = change_window(ch, now)
        if window is None or not wanted.intersection(ch.ci_ids):
            continue
        start, end = window
        if end < since or (start or end) > now:
            continue
        for ci_id in sorted(wanted.intersection(ch.ci_ids)):
            out.append(
                Evidence(
                    ci_id=ci_id,
                    at=end,
                    start=start,
                    kind="change",
                    ref=ch.id,
                    what=f"{ch.id} {(_state_at(ch, now) or ch.state).value}: {ch.title}",
                )
            )
    for ci_id in ci_ids:
        for h in real_changes(store.history(ci_id)):
            if not since <= _aware(h.at) <= now:
                continue
            out.append(
                Evidence(
                    ci_id=ci_id,
                    at=_aware(h.at),
                    kind="field",
                    what=f"{h.field} {_short(h.before)} -> {_short(h.after)}"
                    f" by {h.actor} via {h.source}",
                )
            )
    return out


def _failures(
    incidents: Sequence[Incident], ci_ids: Sequence[str], symptoms: set[str]
) -> list[Evidence]:
    """Incidents on ``ci_ids``, the symptoms' own left out. An incident is on the CIs it
    names as at fault, or, naming none, on its services: a component's failure is not
    counted again against every service it took down."""
    wanted = set(ci_ids)
    out: list[Evidence] = []
    for inc in incidents:
        if inc.id in symptoms:
            continue
        for ci_id in sorted(wanted.intersection(inc.ci_ids or inc.service_ids)):
            out.append(
                Evidence(
                    ci_id=ci_id,
                    at=_aware(inc.opened_at),
                    kind="incident",
                    ref=inc.id,
                    what=f"{inc.id} {inc.priority.value}: {inc.title}",
                )
            )
    return out
