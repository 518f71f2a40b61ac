"""The single points of failure of a service, ranked by what a failure costs.

:mod:`impact.spof` finds the SPOFs of one service exactly; this module says which matter
most, to what kind of remedy each belongs, and what would remove it.

**What a failure costs.** A SPOF of the service asked about is often a SPOF of others too
(a switch under every service of a hall), so for each SPOF we count every service its
failure alone takes down: the SPOFs' impact is walked up to the services it reaches, and
each of those is held to the same exact test as the one asked about (its own dependency
cone, redundancy and open incidents considered). Then, like the impact score
(:mod:`impact.score`), one number from 0 to 100 with its parts, each between 0 and 1:

    cost = 100 * (0.35 S + 0.25 U + 0.20 T + 0.20 F)

* **S, services lost**: ``w / (w + 1)`` where w sums the criticality weights of the
  services lost (critical 1, high 0.75, medium or unset 0.5, low 0.25);
* **U, customers lost**: ``n / (n + 1)`` for the n distinct customers of those services;
* **T, SLA tightness**: the tightest availability target among them
  (:func:`impact.score.tightness`: 99.9 % -> 0.6);
* **F, failure**: how often it fails and for how long, as the minutes it is expected to
  be down a year, m = failures a year x their length (``(1 - availability)`` of a year):
  ``m / (m + 60)`` (an hour a year 0.5, a server at 99.9 % 0.9, never 0). The figures come
  from the CI's reliability evidence (:mod:`impact.evidence`: outages observed over the
  CMDB's records, else a declared availability or MTBF, else class defaults), and each
  row says which. The length matters: an instance that fails often but restarts in
  minutes costs less than a server that fails less often and waits hours for a part.

The consequences weigh 0.8 and the likelihood 0.2 on purpose: a failure rate resting on
class defaults separates little, and a CI that rarely fails but takes every service with
it still belongs near the top. Ties go to the CI that is down longer, then to the one
that takes more services. The failure rate comes from one function, :func:`failure_rate`.

**Kinds.** A SPOF is a *location* (a Location: a site, a hall), a *supplier* (a Supplier,
or a CI bought in under a supplier contract) or *infrastructure* (everything else:
hardware, compute, network, storage, software and platform, supporting services). Each kind
has its own remedy and owner, so the answers are grouped by it.

**What would remove it** comes from :data:`REMEDIES`, chosen by the CI's relationships
first (a member of a cluster that needs all its members, a host carrying more of a
cluster's members than its quorum can lose, the only instance of an application) and then
by its class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cmdb.domain.classes import is_a, lineage
from cmdb.domain.model import CI, Criticality
from cmdb.domain.service import AgreementKind, ServiceKind
from impact import evidence
from impact.evidence import Records, Reliability
from impact.explain import customers_of
from impact.graph import REPLICA_CLASSES, REPLICA_PARENTS, GroupKind, ImpactGraph
from impact.score import CRITICALITY_WEIGHT, tightness
from impact.spof import LostService, Spof, SpofCost, SpofGroup, SpofResult, spofs_of_each

WEIGHTS: dict[str, float] = {"services": 0.35, "customers": 0.25, "sla": 0.20, "failure": 0.20}
KINDS: tuple[str, ...] = ("infrastructure", "supplier", "location")
DEFAULT_LIMIT = 10
HOUR = 60.0  # minutes down a year at which F is one half

# What would stop a CI being a single point of failure: every phrase an answer uses.
REMEDIES: dict[str, str] = {
    "location": "a second site",
    "supplier": "a second supplier or a contract with a stand-in",
    "cluster_single": "a second member for cluster {group}",
    "cluster_all": "slack in cluster {group} (it needs all {n} of its members up)",
    "spread": "spread the members of {group} over more hosts (this one carries {m} of {n})",
    "single_replica": "a second instance of {group}",
    "Database": "a standby or replica",
    "LoadBalancer": "a second load balancer (an HA pair)",
    "NetworkDevice": "a redundant link",
    "StorageVolume": "a mirrored or replicated volume",
    "Container": "a second replica on another host",
    "Compute": "a second host to fail over to",
    "Cluster": "a second cluster to fail over to",
    "CloudResource": "a second region or provider",
    "Application": "a second deployment to fail over to",
    "KubernetesWorkload": "a second deployment to fail over to",
    "ApplicationInstance": "a second instance behind a load balancer",
    "Service": "a fallback for the service (a second provider or a degraded mode)",
    "default": "a redundant alternative",
}

HOSTING = frozenset({"HOSTED_ON", "RUNS_ON"})  # what runs on a host

# (roots, upstream) -> the impact view of what the store holds around them.
Fetch = Callable[[Sequence[CI], bool], ImpactGraph]


@dataclass(frozen=True)
class Failing:
    """How often one CI fails, and for how long, by its evidence."""

    per_year: float  # expected failures a year
    minutes_down: float  # expected minutes down a year
    source: str  # observed, declared or default
    basis: str  # what it rests on


def failure_rate(ev: Reliability) -> Failing:
    """Expected failures and minutes down a year of one CI, the source of those figures
    (observed, declared, default) and what they rest on."""
    available = ev.availability.value if ev.availability.value is not None else 1.0
    down = max(0.0, 1.0 - available) * evidence.MINUTES_PER_YEAR
    if ev.source == "observed" or ev.mtbf_hours.source == "declared":
        basis = ev.mtbf_hours.basis
    elif ev.logical:
        basis = "fails only through what it rests on"
    else:
        basis = f"{ev.availability.basis}, repairs {ev.mttr_minutes.basis}"
    return Failing(evidence.failure_rate(ev), down, ev.source, basis)


def kind_of(ci: CI) -> str:
    if is_a(ci.ci_class, "Location"):
        return "location"
    if is_a(ci.ci_class, "Supplier") or any(
        a.kind is AgreementKind.SUPPLIER_CONTRACT for a in ci.agreements
    ):
        return "supplier"
    return "infrastructure"


def likelihood(minutes_down: float) -> float:
    """The failure part F from the minutes a CI is expected to be down a year."""
    m = max(0.0, minutes_down)
    return m / (m + HOUR)


def cost_of(services: Sequence[LostService], minutes_down: float) -> SpofCost:
    weight = sum(
        CRITICALITY_WEIGHT[Criticality(s.criticality) if s.criticality else None] for s in services
    )
    n = len({c for s in services for c in s.customers})
    parts = {
        "services": weight / (weight + 1.0),
        "customers": n / (n + 1.0),
        "sla": max((tightness(s.availability_target) for s in services), default=0.0),
        "failure": likelihood(minutes_down),
    }
    value = 100.0 * sum(WEIGHTS[k] * v for k, v in parts.items())
    return SpofCost(
        value=round(value, 1),
        services=round(parts["services"], 4),
        customers=round(parts["customers"], 4),
        sla_tightness=round(parts["sla"], 4),
        failure=round(parts["failure"], 4),
    )


# --- ranking ------------------------------------------------------------------------------


def rank(
    result: SpofResult,
    graph: ImpactGraph,
    fetch: Fetch,
    *,
    already_down: Iterable[str] = (),
    records: Records | None = None,
) -> SpofResult:
    """``result`` (from :func:`impact.spof.single_points_of_failure` over ``graph``, the
    service's dependency cone) ranked costliest first, every SPOF priced and given its
    kind and remedy. ``fetch`` reads more of the store: what the SPOFs' failure reaches,
    and the cones of the other services it reaches. ``records``: the incidents and
    discovery runs the failure rates are observed from (None: declared and defaults)."""
    if not result.spofs:
        return cut(result)
    down = list(already_down)
    nodes = [graph.pos[s.id] for s in result.spofs]
    lost, details, warnings = _services_lost(result, graph, nodes, fetch, down)
    found = evidence.gather([graph.cis[i] for i in nodes], records)
    rows: list[Spof] = []
    for s, i in zip(result.spofs, nodes, strict=True):
        ci = graph.cis[i]
        failing = failure_rate(found[ci.id])
        services = _ordered([details[sid] for sid in lost[s.id]])
        kind = kind_of(ci)
        rows.append(
            s.model_copy(
                update={
                    "kind": kind,
                    "services_lost": services,
                    "customers_lost": sorted({c for x in services for c in x.customers}),
                    "failure_rate": round(failing.per_year, 4),
                    "minutes_down": round(failing.minutes_down, 1),
                    "failure_rate_source": failing.source,
                    "failure_rate_basis": failing.basis,
                    "cost": cost_of(services, failing.minutes_down),
                    "remedy": remedy(graph, i, kind),
                }
            )
        )
    return cut(result.model_copy(update={"spofs": rows, "warnings": [*result.warnings, *warnings]}))


def cut(
    result: SpofResult, *, keep: Callable[[str], bool] | None = None, limit: int | None = None
) -> SpofResult:
    """The ranked answer as a caller sees it: only the CIs ``keep`` allows (each SPOF's
    services lost too, its cost priced again over them), then the ``limit`` costliest,
    saying per kind how many were left out."""
    rows = result.spofs
    warnings = result.warnings
    if keep is not None:
        rows = [_trim(s, keep) for s in rows if keep(s.id)]
        warnings = []  # they speak of the whole walk, not of the caller's view
    rows = sorted(rows, key=_order)
    rows = [s.model_copy(update={"rank": n}) for n, s in enumerate(rows, start=1)]
    shown = rows if limit is None else rows[:limit]
    groups = [_group(k, rows, shown) for k in KINDS]
    return result.model_copy(
        update={
            "spofs": shown,
            "total": len(rows),
            "left_out": len(rows) - len(shown),
            "groups": groups,
            "warnings": warnings,
        }
    )


def _group(kind: str, rows: list[Spof], shown: list[Spof]) -> SpofGroup:
    mine = [s for s in rows if s.kind == kind]
    seen = sum(s.kind == kind for s in shown)
    top = mine[0] if mine else None
    return SpofGroup(
        kind=kind,
        found=len(mine),
        shown=seen,
        left_out=len(mine) - seen,
        costliest=top.name if top else None,
        costliest_cost=top.cost.value if top and top.cost else None,
    )


def _order(s: Spof) -> tuple[float, float, int, str, str, str]:
    value = s.cost.value if s.cost is not None else 0.0
    return (-value, -s.minutes_down, -len(s.services_lost), s.ci_class, s.name, s.id)


def _trim(s: Spof, keep: Callable[[str], bool]) -> Spof:
    if s.cost is None:
        return s
    services = [x for x in s.services_lost if keep(x.id)]
    return s.model_copy(
        update={
            "services_lost": services,
            "customers_lost": sorted({c for x in services for c in x.customers}),
            "cost": cost_of(services, s.minutes_down),
        }
    )


def _ordered(services: list[LostService]) -> list[LostService]:
    def key(s: LostService) -> tuple[bool, float, str, str]:
        weight = CRITICALITY_WEIGHT[Criticality(s.criticality) if s.criticality else None]
        return (not s.customer_facing, -weight, s.name, s.id)

    return sorted(services, key=key)


# --- the services a single failure takes down ---------------------------------------------


def _services_lost(
    result: SpofResult, graph: ImpactGraph, nodes: list[int], fetch: Fetch, down: list[str]
) -> tuple[dict[str, list[str]], dict[str, LostService], list[str]]:
    """Per SPOF id, the ids of the services its failure alone takes down; each such
    service described; warnings when a cap may have hidden some."""
    asked = result.service
    reach = fetch([graph.cis[i] for i in nodes], False)
    warnings: list[str] = []
    if reach.truncated_by_nodes or reach.truncated_by_depth:
        warnings.append(
            "the walk from the single points of failure to what rests on them hit a cap:"
            " other services they take down may be missing"
        )
    services = [v for v in range(reach.n) if is_a(reach.cis[v].ci_class, "Service")]
    details = {reach.ids[v]: _lost(reach, v) for v in services}
    if asked not in details:  # cut off by a cap: its own cone still describes it
        details[asked] = _lost(graph, graph.pos[asked])
    # A SPOF that is a service (a supporting one) is lost with the one asked about.
    lost: dict[str, list[str]] = {
        s.id: [asked, *([s.id] if s.id in details else [])] for s in result.spofs
    }
    others = [v for v in services if reach.ids[v] != asked]
    if not others:
        return lost, details, warnings
    cones = fetch([reach.cis[v] for v in others], True)
    if cones.truncated_by_nodes or cones.truncated_by_depth:
        warnings.append(
            "the cones of the other services reached hit a cap: which of them a single"
            " failure takes down may be wrong"
        )
    at = [cones.pos[reach.ids[v]] for v in others if reach.ids[v] in cones.pos]
    for v, found in spofs_of_each(cones, at, already_down=down).items():
        service_id = cones.ids[v]
        for x in found:
            if cones.ids[x] in lost:
                lost[cones.ids[x]].append(service_id)
    return lost, details, warnings


def _lost(graph: ImpactGraph, v: int) -> LostService:
    ci = graph.cis[v]
    details = ci.service
    sla = details.sla if details is not None else None
    return LostService(
        id=ci.id,
        name=ci.name,
        customer_facing=details is not None and details.kind is ServiceKind.CUSTOMER_FACING,
        criticality=ci.criticality.value if ci.criticality else None,
        availability_target=sla.availability_target if sla is not None else None,
        customers=customers_of(graph, v),
    )


# --- what would remove it -----------------------------------------------------------------


def remedy(graph: ImpactGraph, x: int, kind: str) -> str:
    """The phrase of :data:`REMEDIES` for node ``x``: by kind, relationships, then class."""
    if kind != "infrastructure":
        return REMEDIES[kind]
    name = graph.name
    for e in graph.out.of(x).tolist():
        g = int(graph.egroup[e])
        n, k = int(graph.gsize[g]), int(graph.gk[g])
        if graph.gkind[g] == GroupKind.CLUSTER and k == n:
            key = "cluster_single" if n == 1 else "cluster_all"
            return REMEDIES[key].format(group=name(int(graph.gnode[g])), n=n)
    spread = _common_mode(graph, x)
    if spread is not None:
        g, m = spread
        return REMEDIES["spread"].format(
            group=name(int(graph.gnode[g])), m=m, n=int(graph.gsize[g])
        )
    cls = graph.cis[x].ci_class
    if cls in REPLICA_CLASSES:
        for e in graph.out.of(x).tolist():
            owner = int(graph.dst[e])
            if graph.type_name(e) == "CONTAINS" and any(
                is_a(graph.cis[owner].ci_class, p) for p in REPLICA_PARENTS
            ):
                return REMEDIES["single_replica"].format(group=name(owner))
    for c in lineage(cls):
        if c in REMEDIES:
            return REMEDIES[c]
    return REMEDIES["default"]


def _common_mode(graph: ImpactGraph, x: int) -> tuple[int, int] | None:
    """When ``x`` is a host: a cluster or replica group more of whose members run on it
    than the group can lose (one server under two of a quorum-2 cluster's three VMs), as
    (group, members it carries)."""
    if not is_a(graph.cis[x].ci_class, "Compute"):
        return None
    hit: dict[int, int] = {}
    for e in graph.out.of(x).tolist():
        g0 = int(graph.egroup[e])
        if graph.type_name(e) not in HOSTING or int(graph.gk[g0]) != int(graph.gsize[g0]):
            continue  # not hosted on x, or x is one of several hosts it can choose from
        u = int(graph.dst[e])
        for e2 in graph.out.of(u).tolist():
            g = int(graph.egroup[e2])
            if graph.gsize[g] > graph.gk[g]:
                hit[g] = hit.get(g, 0) + 1
    for g, m in sorted(hit.items()):
        if m > int(graph.gsize[g] - graph.gk[g]):
            return g, m
    return None
