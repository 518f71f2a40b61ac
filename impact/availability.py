"""Expected availability of a service from its components (breaching the SLA: breach.py).

**Components.** Each CI in the service's cone is up on its own with probability ``p``
(independently of the others), taken from its reliability evidence (:mod:`impact.evidence`):
observed over the CMDB's recorded outages, else ``attributes.availability`` (a fraction,
or a percent when above 1) or a declared MTBF and MTTR, else the default of its class
(nearest ancestor in the class tree, table ``DEFAULT_AVAILABILITY``). Logical CIs
(services, applications, clusters, workloads, customers, teams) default to 1: their
availability is their structure. Agreements (OLAs, supplier contracts) are *targets* for a
component together with what it depends on, so they are not used as its own availability
(that would count the dependencies twice). The answer counts the components resting on
each source, and warns first when most rest on class defaults.

**Structure.** A CI is up when it is up on its own and each of its groups has at least k of
its n members up (:mod:`impact.graph`): a plain dependency is a series element, a 1-of-n
group a parallel one, a cluster k-of-n. If no component is reachable from the service by
two different paths (series-parallel: a tree of groups), the members of every group are
independent and the answer is exact: ``P(v) = p_v * prod over groups P(at least k of
members)``, each term by the Poisson-binomial recursion over the members' probabilities.

**Shared components** (one host under two cluster VMs, one database under two services'
instances) break independence. We then factor (pivotal decomposition): pick a shared
component x, ``A = p_x * A(x up) + (1 - p_x) * A(x down)``, simplify (CIs whose state is
now certain are constants; a CI no longer reachable twice is no longer shared), and repeat
until none is shared. That is exact, and fast when failures of shared components decide a
lot (which is when they matter). The most probable branch is split first; past a budget
(``MAX_FACTORINGS`` sub-problems, and ``FACTORING_WORK`` CI visits in all) we stop and
return documented **bounds** instead:

* lower: the exactly solved branches, and at least the product of every component's
  ``p`` in the cone (everything up keeps the service up: a coherent system does that well);
* upper: the solved branches plus, per open branch, its probability times the availability
  of its undecided single points of failure (:mod:`impact.spof`: each must be up), and at
  most the product of the ``p`` of the service and all its SPOFs;
* estimate: the solved branches plus, per open branch, its probability times the
  series-parallel formula with its shared components taken as independent (clamped into
  the bounds). The open branches are the least probable ones, so the error is confined to
  them; with many shared components in series (a large estate) the bounds stay wide and
  the estimate leans low (a shared component in series is counted once per path).

A cycle in the cone is cut at the edge that closes it on a depth-first walk from the
service; the result is then marked approximate.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from cmdb.domain.classes import lineage
from cmdb.domain.model import CI
from impact.cone import Cone, cone_of
from impact.evidence import (
    DEFAULT_AVAILABILITY,
    Records,
    Reliability,
    Tally,
    failure_rate,
    gather,
    observation_period,
    service_record,
    tally,
)
from impact.factoring import at_least, factor
from impact.graph import ImpactGraph
from impact.spof import spof_indices

MAX_FACTORINGS = 4096
FACTORING_WORK = 150_000  # CI visits the factoring may spend (steps x cone size)


class Component(BaseModel):
    id: str
    name: str
    ci_class: str
    availability: float
    source: str  # "observed", "attribute" or "default for <class>"
    evidence: str = "default"  # observed | declared | default
    basis: str = ""  # what the figure rests on, e.g. "2 outages, 310 min down over 12 months"
    failures: int = 0  # outages observed over the period
    mttr_minutes: float | None = None
    mttr_source: str = "default"
    failures_per_year: float = 0.0
    logical: bool = False  # up when its parts are: not counted among the components


class EvidenceCount(BaseModel):
    """How many components (logical CIs left out) rest on each source."""

    observed: int
    declared: int
    default: int
    observed_over: str | None = None  # "over 12 months"; None: the CMDB records no outages

    @classmethod
    def of(cls, t: Tally, over: str | None) -> EvidenceCount:
        return cls(observed=t.observed, declared=t.declared, default=t.default, observed_over=over)

    def describe(self) -> str:
        seen = f"observed {self.observed_over}" if self.observed_over else "observed"
        return f"{self.observed} {seen}, {self.declared} declared, {self.default} class defaults"


class Sourced(BaseModel):
    """One figure of an answer and where it came from."""

    figure: str
    value: float | None
    source: str  # observed | declared | default (a combined figure: what most parts rest on)
    basis: str


class AvailabilityResult(BaseModel):
    service: str
    service_name: str
    availability: float
    exact: bool
    method: str  # "series-parallel", "factoring", "bounds"
    lower: float
    upper: float
    factorings: int
    cone_size: int
    cycles_cut: bool
    components: list[Component]
    target_percent: float | None = None
    period_start: datetime | None = None
    agreed_minutes: float | None = None
    expected_downtime_minutes: float | None = None
    allowed_minutes: float | None = None
    mean_outage_minutes: float | None = None
    breach_probability: float | None = None
    evidence: EvidenceCount | None = None
    warning: str | None = None  # most components rest on class defaults: said first
    figures: list[Sourced] = []  # each figure above with its source and basis
    observed_availability: float | None = None  # the service's own outage record
    observed_basis: str | None = None


def component_availability(ci: CI) -> tuple[float, str]:
    raw = ci.attributes.get("availability")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = raw / 100.0 if raw > 1 else float(raw)
        if 0 < value <= 1:
            return value, "attribute"
    for cls in lineage(ci.ci_class):
        if cls in DEFAULT_AVAILABILITY:
            return DEFAULT_AVAILABILITY[cls], f"default for {cls}"
    return 1.0, "default"


class _Structure:
    """The cone as plain lists, with cycles cut: what the factoring recursion walks."""

    def __init__(self, cone: Cone, p: list[float]) -> None:
        self.cone = cone
        self.p = p
        self.root = cone.root
        self.groups: list[list[tuple[tuple[int, ...], int]]] = []
        if all(len(c) == 1 for c in cone.comps):
            # No cycle (every strongly connected component is one CI): the walk below
            # would keep every member; skip it.
            self.groups = [
                [(g.members, min(g.k, len(g.members))) for g in gs] for gs in cone.groups
            ]
            self.cycles_cut = False
            self.order = _post_order(self.root, self.groups)
            return
        keep = _acyclic_members(cone)
        for v, groups in enumerate(cone.groups):
            mine: list[tuple[tuple[int, ...], int]] = []
            for i, g in enumerate(groups):
                members = tuple(m for m in g.members if (v, i, m) in keep)
                if members:
                    mine.append((members, min(g.k, len(members))))
            self.groups.append(mine)
        self.cycles_cut = len(keep) < sum(len(g.members) for gs in cone.groups for g in gs)
        self.order = _post_order(self.root, self.groups)  # dependencies first, reachable only

    def evaluate(self, fixed: dict[int, bool]) -> float:
        prob = [0.0] * len(self.p)
        for v in self.order:
            own = fixed.get(v)
            pv = self.p[v] if own is None else float(own)
            for members, k in self.groups[v]:
                if pv == 0.0:
                    break
                pv *= at_least(k, [prob[m] for m in members])
            prob[v] = pv
        return prob[self.root]

    def analyse(self, fixed: dict[int, bool]) -> tuple[int | None, list[int]]:
        """The service's state if already certain, else the shared random components."""
        const: list[int | None] = [None] * len(self.p)
        for v in self.order:
            own = fixed.get(v)
            intrinsic = (1 if own else 0) if own is not None else (1 if self.p[v] >= 1.0 else None)
            if intrinsic == 0:
                const[v] = 0
                continue
            certain_up = intrinsic == 1
            dead = False
            for members, k in self.groups[v]:
                c0 = sum(1 for m in members if const[m] == 0)
                c1 = sum(1 for m in members if const[m] == 1)
                if len(members) - c0 < k:
                    dead = True
                    break
                if c1 < k:
                    certain_up = False
            const[v] = 0 if dead else (1 if certain_up else None)
        if const[self.root] is not None:
            return const[self.root], []
        paths = [0] * len(self.p)
        paths[self.root] = 1
        for v in reversed(self.order):
            if const[v] is not None or not paths[v]:
                continue
            for members, _k in self.groups[v]:
                for m in members:
                    if const[m] is None:
                        paths[m] = min(2, paths[m] + paths[v])
        shared = [
            v
            for v in self.order
            if const[v] is None and v not in fixed and self.p[v] < 1.0 and paths[v] >= 2
        ]
        return None, shared


def _post_order(root: int, groups: list[list[tuple[tuple[int, ...], int]]]) -> list[int]:
    seen = {root}
    order: list[int] = []
    stack: list[tuple[int, int]] = [(root, 0)]
    flat = [[m for members, _k in gs for m in members] for gs in groups]
    while stack:
        v, i = stack[-1]
        if i < len(flat[v]):
            stack[-1] = (v, i + 1)
            w = flat[v][i]
            if w not in seen:
                seen.add(w)
                stack.append((w, 0))
            continue
        stack.pop()
        order.append(v)
    return order


def _acyclic_members(cone: Cone) -> set[tuple[int, int, int]]:
    """(owner, group number, member) kept after cutting the edges that close cycles."""
    keep: set[tuple[int, int, int]] = set()
    state = [0] * cone.size  # 0 new, 1 on the walk, 2 done
    state[cone.root] = 1
    stack: list[tuple[int, list[tuple[int, int]], int]] = []
    edges = [(i, m) for i, g in enumerate(cone.groups[cone.root]) for m in g.members]
    stack.append((cone.root, edges, 0))
    while stack:
        v, todo, at = stack[-1]
        if at < len(todo):
            stack[-1] = (v, todo, at + 1)
            i, m = todo[at]
            if state[m] == 1:
                continue  # closes a cycle: cut
            keep.add((v, i, m))
            if state[m] == 0:
                state[m] = 1
                nxt = [(j, w) for j, g in enumerate(cone.groups[m]) for w in g.members]
                stack.append((m, nxt, 0))
            continue
        state[v] = 2
        stack.pop()
    return keep


@dataclass(order=True)
class _Branch:
    """A sub-problem of the factoring: some components' own states fixed."""

    neg_weight: float  # heap order: the most probable branch first
    seq: int
    fixed: dict[int, bool] = field(compare=False)


def _factor(
    st: _Structure, spofs: list[int], max_steps: int
) -> tuple[float, float, float, int, bool]:
    """Best-first factoring: (value, lower, upper, steps, exact).

    The specification: service_availability runs impact.factoring.factor, the same
    search computed incrementally, and tests hold the two to the same floats.

    The most probable branch is always split next, so when the step budget runs out the
    branches left open carry little probability; each contributes between 0 and its
    weight times the product of its undecided SPOFs' availability (each must be up).
    """
    done = 0.0
    heap = [_Branch(-1.0, 0, {})]
    seq = steps = 0
    while heap and steps < max_steps:
        branch = heapq.heappop(heap)
        weight, fixed = -branch.neg_weight, branch.fixed
        known, shared = st.analyse(fixed)
        steps += 1
        if known is not None:
            done += weight * known
            continue
        if not shared:
            done += weight * st.evaluate(fixed)
            continue
        x = shared[0]  # the most upstream shared component: its failure settles the most
        for up, w in ((True, st.p[x]), (False, 1.0 - st.p[x])):
            seq += 1
            heapq.heappush(heap, _Branch(-weight * w, seq, {**fixed, x: up}))
    if not heap:
        return done, done, done, steps, True
    open_upper = open_estimate = 0.0
    for branch in heap:
        weight = -branch.neg_weight
        cap = 1.0
        for v in spofs:
            own = branch.fixed.get(v)
            cap *= st.p[v] if own is None else float(own)
        open_upper += weight * cap
        # Inside an open branch, shared components are taken as independent.
        open_estimate += weight * st.evaluate(branch.fixed)
    return done + open_estimate, done, done + open_upper, steps, False


def _source_label(ev: Reliability, ci: CI) -> str:
    """The older ``Component.source`` wording ("attribute", "default for <class>"), kept for
    its readers; "observed" when outages were recorded."""
    if ev.source == "observed":
        return "observed"
    if ev.source == "declared":
        return "attribute"
    return component_availability(ci)[1]


def combined_source(count: EvidenceCount) -> str:
    """The source most components rest on (a tie goes to the weaker)."""
    ranked = [
        ("default", count.default),
        ("declared", count.declared),
        ("observed", count.observed),
    ]
    return max(ranked, key=lambda kv: kv[1])[0] if any(n for _s, n in ranked) else "default"


def service_availability(
    graph: ImpactGraph,
    service_id: str,
    *,
    max_factorings: int = MAX_FACTORINGS,
    records: Records | None = None,
) -> AvailabilityResult:
    """``records``: the outages the CMDB holds (None: declared values and defaults only)."""
    s = graph.index(service_id)
    if s is None:
        raise KeyError(service_id)
    cone = cone_of(graph, s)
    evidence = gather((graph.cis[i] for i in cone.nodes), records)
    found = [evidence[graph.ids[i]] for i in cone.nodes]
    parts = [
        (ev.availability.value or 0.0, _source_label(ev, graph.cis[i]))
        for i, ev in zip(cone.nodes, found, strict=True)
    ]
    p = [a for a, _src in parts]
    st = _Structure(cone, p)
    _, shared = st.analyse({})
    spofs = [cone.local[i] for i in spof_indices(graph, s)]
    # Each step walks the cone: cap the work, not only the count of steps.
    steps = min(max_factorings, max(16, FACTORING_WORK // max(1, cone.size)))
    # factor() is _factor() computed incrementally: the same floats, a fraction of the time.
    value, lower, upper, used, exact = factor(st, spofs, steps)
    if not exact:
        # The global bounds hold too: everything up keeps the service up; every SPOF and
        # the service itself must be up.
        lower = max(lower, math.prod(p[v] for v in st.order))
        upper = min(upper, math.prod(p[v] for v in {cone.root, *spofs}))
        value = min(upper, max(lower, value))
    method = "series-parallel" if not shared else "factoring" if exact else "bounds"
    components = [
        Component(
            id=graph.ids[i],
            name=graph.name(i),
            ci_class=graph.cis[i].ci_class,
            availability=a,
            source=src,
            evidence=ev.source,
            basis=ev.availability.basis,
            failures=ev.failures,
            mttr_minutes=ev.mttr_minutes.value,
            mttr_source=ev.mttr_minutes.source,
            failures_per_year=failure_rate(ev),
            logical=ev.logical,
        )
        for i, (a, src), ev in zip(cone.nodes, parts, found, strict=True)
    ]
    components.sort(key=lambda c: (c.availability, c.ci_class, c.name))
    period = observation_period(records) if records is not None else None
    count = EvidenceCount.of(tally(found), period.describe() if period else None)
    own = service_record(records, service_id) if records is not None else None
    how = "exact" if exact and not st.cycles_cut else f"between {lower:.6%} and {upper:.6%}"
    return AvailabilityResult(
        service=service_id,
        service_name=graph.name(s),
        availability=value,
        exact=exact and not st.cycles_cut,
        method=method,
        lower=lower,
        upper=upper,
        factorings=used,
        cone_size=cone.size,
        cycles_cut=st.cycles_cut,
        components=components,
        evidence=count,
        warning=tally(found).warning("this availability"),
        figures=[
            Sourced(
                figure="availability",
                value=value,
                source=combined_source(count),
                basis=f"{how}, {method}, from {len(found)} CIs: {count.describe()}",
            )
        ],
        observed_availability=own.availability if own is not None else None,
        observed_basis=own.basis if own is not None else None,
    )
