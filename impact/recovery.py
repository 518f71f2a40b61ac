"""Recovery order for a service: what to bring back first, and how long it takes.

Over the service's dependency cone, each CI that is down needs its repair time to come back
once what it needs is up: its MTTR from the evidence (:mod:`impact.evidence`): observed over
the CMDB's recorded outages, else declared (``mttr_minutes``, ``recovery_minutes``, or the
recovery objective ``rto_minutes``), else its class's default. Logical CIs (services,
applications, clusters, workloads) come back when their parts do (0 of their own); a CI
whose class has no default and that carries none is counted as 0 and listed as unknown,
its step saying why. Each step says where its time came from, the plan counts the CIs on
class defaults, and lists when each service of the cone is back.
Work on independent CIs runs in parallel, so the time a CI is back is

    finish(v) = ready(v) + minutes(v),   ready(v) = max over v's groups of the k-th
                                          smallest finish among the group's members

A plain dependency (k = n = 1) waits for its one member; a cluster that needs k of n up
waits only for its k quickest members: **clusters to quorum**. The members that make the
quorum are chosen (already-up members first, then the quickest), and the rest are left for
later (``deferred``). ``finish(service)`` is the longest path through the chosen CIs: the
recovery-time estimate, with that path given as the critical path. Steps are listed by
start time, with their wave (1 + the highest wave of what they wait for).

``down=None`` plans a cold start (everything in the cone is down, as after losing a site);
otherwise only CIs down after propagating the given failures need recovery. CIs in a
dependency cycle cannot come up one before another: they are recovered together, starting
when the cycle's outside needs are met and taking the longest of their times.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from cmdb.domain.model import CI
from impact.cone import cone_of
from impact.evidence import Records, gather
from impact.graph import GroupKind, ImpactGraph
from impact.propagate import propagate
from impact.severity import FailureMode, Severity


class Step(BaseModel):
    id: str
    name: str
    ci_class: str
    wave: int
    start_minute: float
    finish_minute: float
    recovery_minutes: float
    time_known: bool
    note: str = ""
    source: str = "default"  # where recovery_minutes came from: observed | declared | default
    basis: str = ""  # e.g. "mean of 3 recorded repairs over 12 months", or why it is unknown


class ServiceBack(BaseModel):
    """When a service of the cone is back, in minutes from the start of the recovery."""

    id: str
    name: str
    back_minute: float


class RecoveryPlan(BaseModel):
    service: str
    service_name: str
    cold_start: bool
    total_minutes: float
    critical_path: list[str]  # names, from the first CI to bring back to the service
    steps: list[Step]
    deferred: list[str]  # down cluster or replica members not needed for quorum
    unknown_times: list[str]  # CIs on the plan with no repair time known (counted as 0)
    services: list[ServiceBack] = []  # every service of the cone on the plan, first back first
    on_defaults: int = 0  # steps (logical CIs left out) timed by a class default
    timed_steps: int = 0  # steps (logical CIs left out) in all
    warning: str | None = None  # most steps rest on class defaults: said first


def recovery_minutes(ci: CI) -> float | None:
    raw = ci.attributes.get("recovery_minutes")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw >= 0:
        return float(raw)
    return None


def recovery_plan(
    graph: ImpactGraph,
    service_id: str,
    *,
    down: Iterable[str] | None = None,
    records: Records | None = None,
) -> RecoveryPlan:
    """``records``: the outages the CMDB holds (None: declared times and defaults only)."""
    s = graph.index(service_id)
    if s is None:
        raise KeyError(service_id)
    cone = cone_of(graph, s)
    m = cone.size
    if down is None:
        need = [True] * m
    else:
        prop = propagate(graph, dict.fromkeys(down, FailureMode.DOWN))
        need = [int(prop.sev[i]) == int(Severity.DOWN) for i in cone.nodes]
    evidence = gather((graph.cis[i] for i in cone.nodes), records)
    found = [evidence[graph.ids[i]] for i in cone.nodes]
    minutes = [ev.mttr_minutes.value for ev in found]
    own = [(t or 0.0) if need[v] else 0.0 for v, t in enumerate(minutes)]

    finish = [0.0] * m
    chosen: list[list[list[int]]] = [[] for _ in range(m)]  # per CI, per group: members waited for
    for comp in cone.comps:
        inside = set(comp)
        ready = 0.0
        picks: dict[int, list[list[int]]] = {}
        for v in comp:
            picks[v] = []
            for g in cone.groups[v]:
                outside = [u for u in g.members if u not in inside]
                k = g.k - (
                    len(g.members) - len(outside)
                )  # members inside count as coming up with v
                # Up members first (they cost nothing), then the quickest to come back.
                ranked = sorted(outside, key=lambda u: (need[u], finish[u], cone.ci_id(u)))
                take = ranked[: max(0, k)]
                picks[v].append(take)
                if take:
                    ready = max(ready, max(finish[u] for u in take))
        span = max(own[v] for v in comp)
        for v in comp:
            chosen[v] = picks[v]
            finish[v] = ready + span if any(need[u] for u in comp) else 0.0

    # The CIs the service actually waits for: walk the chosen members from the service.
    cycle_mates = {v: comp for comp in cone.comps if len(comp) > 1 for v in comp}
    on_plan: set[int] = set()
    todo = [cone.root]
    while todo:
        v = todo.pop()
        if v in on_plan:
            continue
        on_plan.add(v)
        todo.extend(cycle_mates.get(v, ()))
        for take in chosen[v]:
            todo.extend(take)
    deferred = sorted(
        cone.graph.name(cone.nodes[u])
        for v in on_plan
        for g in cone.groups[v]
        if g.kind is not GroupKind.HARD
        for u in g.members
        if need[u] and u not in on_plan
    )

    wave = [0] * m
    for comp in cone.comps:
        w = 0
        for v in comp:
            for take in chosen[v]:
                w = max(w, *(wave[u] for u in take if need[u]), 0)
        for v in comp:
            wave[v] = w + 1 if need[v] else w

    steps = []
    for v in on_plan:
        if not need[v]:
            continue
        i = cone.nodes[v]
        note = ""
        for g in cone.groups[v]:
            if g.kind is not GroupKind.HARD:
                note = f"waits for {g.k} of {len(g.members)} members"
        steps.append(
            Step(
                id=graph.ids[i],
                name=graph.name(i),
                ci_class=graph.cis[i].ci_class,
                wave=wave[v],
                start_minute=finish[v] - own[v],
                finish_minute=finish[v],
                recovery_minutes=own[v],
                time_known=minutes[v] is not None,
                note=note,
                source=found[v].mttr_minutes.source,
                basis=found[v].mttr_minutes.basis,
            )
        )
    steps.sort(key=lambda st: (st.start_minute, st.wave, st.name, st.id))
    timed = [found[v] for v in on_plan if need[v] and not found[v].logical]
    on_defaults = sum(1 for ev in timed if ev.mttr_minutes.source == "default")
    warning = (
        f"this plan rests mostly on class defaults ({on_defaults} of {len(timed)} repair"
        " times have no recorded repairs or declared figures): it says little about this estate"
        if timed and on_defaults * 2 > len(timed)
        else None
    )
    back = sorted(
        (
            ServiceBack(
                id=graph.ids[cone.nodes[v]], name=graph.name(cone.nodes[v]), back_minute=finish[v]
            )
            for v in on_plan
            if graph.cis[cone.nodes[v]].service is not None
        ),
        key=lambda b: (b.back_minute, b.name),
    )

    critical = [cone.root]
    while True:
        v = critical[-1]
        waits = [u for take in chosen[v] for u in take if need[u]]
        if not waits:
            break
        critical.append(max(waits, key=lambda u: (finish[u], cone.ci_id(u))))
    return RecoveryPlan(
        service=service_id,
        service_name=graph.name(s),
        cold_start=down is None,
        total_minutes=finish[cone.root],
        critical_path=[graph.name(cone.nodes[v]) for v in reversed(critical)],
        steps=steps,
        deferred=deferred,
        unknown_times=sorted({st.name for st in steps if not st.time_known}),
        services=back,
        on_defaults=on_defaults,
        timed_steps=len(timed),
        warning=warning,
    )
