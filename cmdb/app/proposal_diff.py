"""The impact diff of a what-if proposal: the estate as it is, and as the proposal leaves it.

Nothing is written. The part of the live graph the proposal can change is fetched once
(impact.fetch, "walk"): downstream from every live CI an edit names, to find the services
that depend on them; then upstream from those services and those CIs, which is everything
the engine reads to answer for the services. The edits are applied in memory to a copy of
that subgraph (:func:`apply_edits`) and each service is asked the same questions of both,
with the engine's own functions: its single points of failure (impact.spof), its expected
availability with the evidence each figure rests on (impact.availability, with the SLA's
period from impact.breach), and the impact paths from each edited CI to it
(impact.explain.path_of). Services whose answers differ are listed with their customers
and SLA; other open proposals naming the same CIs are collisions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel

from cmdb.app.changes import visible_change
from cmdb.app.proposals import check_version
from cmdb.app.scope import Visibility
from cmdb.domain.classes import is_a
from cmdb.domain.errors import NotFound
from cmdb.domain.model import CI, Relationship, relationship_id
from cmdb.domain.proposals import Edit, EditOp, Proposal, ProposalState
from cmdb.store.contract import GraphStore, Subgraph
from cmdb.store.gcpause import gc_paused
from impact._arrays import BoolArray, reach
from impact.availability import AvailabilityResult, service_availability
from impact.breach import with_sla
from impact.evidence import Records, gather
from impact.explain import customers_of, path_of
from impact.fetch import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES, fetch
from impact.graph import TYPE_NAMES, ImpactGraph, build_impact_graph
from impact.graph_diff import touched_below
from impact.queries import failure_records, incidents_as_of, open_incident_cis
from impact.spof import single_points_of_failure


class SpofOut(BaseModel):
    id: str
    name: str
    ci_class: str


class Component(BaseModel):
    """A component whose part in the service's availability the proposal adds or removes."""

    id: str
    name: str
    availability: float
    evidence: str  # observed | declared | default
    basis: str


class Availability(BaseModel):
    value: float
    exact: bool
    method: str
    lower: float
    upper: float
    basis: str  # what the figure rests on, as the engine says
    target_percent: float | None = None
    breach_probability: float | None = None


class PathOut(BaseModel):
    cause: str
    ci_ids: list[str]
    text: str


class ServiceDiff(BaseModel):
    id: str
    name: str
    criticality: str | None
    customers: list[str]
    sla: str | None
    sla_target_percent: float | None
    spofs_before: list[SpofOut]
    spofs_after: list[SpofOut]
    spofs_removed: list[SpofOut]
    spofs_introduced: list[SpofOut]
    # None where the proposal changes nothing the engine reads for the service (its cone's
    # CIs, impact edges, groups and evidence): its answers cannot change; none is asked.
    availability_before: Availability | None
    availability_after: Availability | None
    components_added: list[Component]
    components_removed: list[Component]
    paths_appeared: list[PathOut]
    paths_disappeared: list[PathOut]
    changed: bool
    evaluated: bool = True  # False: the cone is unchanged (see availability_before)


class Collision(BaseModel):
    proposal: str  # the other change's id
    version: int
    ci_ids: list[str]


class ProposalDiff(BaseModel):
    proposal: str
    version: int
    edits: int
    services: list[ServiceDiff]  # those the proposal changes, then the others; by name
    collisions: list[Collision]
    fetched_cis: int
    truncated: bool


# --- the edits, in memory --------------------------------------------------------------


def apply_edits(sub: Subgraph, edits: Iterable[Edit], live: dict[str, CI]) -> Subgraph:
    """``sub`` as the edits leave it (a copy; ``sub`` is untouched). ``live``: CIs the
    edits name that the subgraph may lack (an added edge's far end). A retired CI leaves
    with its edges, as the engine ignores retired CIs."""
    nodes = dict(sub.nodes)
    edges = {e.id: e for e in sub.edges if e.active}
    for e in edits:
        if e.op is EditOp.ADD_CI:
            assert e.ci is not None
            nodes[e.ci.id] = e.ci
        elif e.op is EditOp.RETIRE_CI:
            assert e.ci_id is not None
            nodes.pop(e.ci_id, None)
        elif e.op in (EditOp.UPDATE_CI, EditOp.SET_REDUNDANCY):
            assert e.ci_id is not None
            ci = nodes.get(e.ci_id)
            if ci is None:
                continue  # outside every cone asked about: changes no answer
            if e.op is EditOp.SET_REDUNDANCY:
                nodes[e.ci_id] = ci.model_copy(update={"redundancy": e.redundancy})
            else:
                nodes[e.ci_id] = CI.model_validate(
                    {**ci.model_dump(by_alias=True), **(e.fields or {})}
                )
        else:
            assert e.type and e.source_id and e.target_id
            rid = relationship_id(e.type, e.source_id, e.target_id)
            if e.op is EditOp.ADD_REL:
                for end in (e.source_id, e.target_id):
                    if end not in nodes and end in live:
                        nodes[end] = live[end]
                edges[rid] = Relationship(
                    id=rid, type=e.type, source_id=e.source_id, target_id=e.target_id
                )
            else:
                edges.pop(rid, None)
    kept = [r for r in edges.values() if r.source_id in nodes and r.target_id in nodes]
    return sub.model_copy(update={"nodes": nodes, "edges": kept, "links": []})


# --- one service, before and after -------------------------------------------------------


def _spofs(graph: ImpactGraph, sid: str, down: list[str]) -> list[SpofOut]:
    found = single_points_of_failure(graph, sid, already_down=down)
    return [SpofOut(id=s.id, name=s.name, ci_class=s.ci_class) for s in found.spofs]


def _availability(r: AvailabilityResult) -> Availability:
    return Availability(
        value=r.availability,
        exact=r.exact,
        method=r.method,
        lower=r.lower,
        upper=r.upper,
        basis=r.figures[0].basis if r.figures else "",
        target_percent=r.target_percent,
        breach_probability=r.breach_probability,
    )


def _paths(graph: ImpactGraph, causes: Iterable[str], sid: str) -> dict[tuple[str, ...], PathOut]:
    """The shortest impact path from each cause to the service, by its CIs."""
    s = graph.index(sid)
    out: dict[tuple[str, ...], PathOut] = {}
    if s is None:
        return out
    # Only the service's cone leads to it, and every CI with an edge into the cone is in
    # it: a walk kept inside finds its CIs in the same order, from the same predecessors,
    # without wandering through everything else downstream of a cause.
    inside = reach(graph.inc, np.array([s], dtype=np.int64), graph.n)
    for cause in causes:
        c = graph.index(cause)
        if c is None or c == s or not inside[c]:
            continue
        came: dict[int, tuple[int, int]] = {c: (-1, -1)}
        queue = deque([c])
        while queue and s not in came:
            v = queue.popleft()
            for e in graph.out.of(v).tolist():
                w = int(graph.dst[e])
                if w not in came and inside[w]:
                    came[w] = (v, e)
                    queue.append(w)
        if s not in came:
            continue
        nodes, edges, v = [s], [], s
        while came[v][0] >= 0:
            prev, e = came[v]
            nodes.append(prev)
            edges.append(e)
            v = prev
        p = path_of(graph, nodes[::-1], edges[::-1])
        out[tuple(p.ci_ids)] = PathOut(cause=p.cause, ci_ids=p.ci_ids, text=p.text)
    return out


def _components(r: AvailabilityResult) -> dict[str, Component]:
    return {
        c.id: Component(
            id=c.id, name=c.name, availability=c.availability, evidence=c.evidence, basis=c.basis
        )
        for c in r.components
    }


# The fields of a CI the engine reads besides its evidence and the groups it makes.
_ENGINE_FIELDS = ("ci_class", "status", "redundancy", "service", "agreements")


Groups = set[tuple[str, int, int, frozenset[str]]]


def _cone(graph: ImpactGraph, sid: str) -> tuple[dict[str, CI], set[tuple[str, str, str]], Groups]:
    """The service's dependency cone: its CIs by id, its impact edges by end ids, and its
    quorum groups (owner, members needed, kind, members)."""
    s = graph.index(sid)
    assert s is not None
    inside = reach(graph.inc, np.array([s], dtype=np.int64), graph.n)  # cone_of's nodes
    nodes = np.flatnonzero(inside).tolist()
    keep = np.flatnonzero(inside[graph.src] & inside[graph.dst])
    ids = graph.ids
    edges: set[tuple[str, str, str]] = {
        (ids[a], ids[b], TYPE_NAMES[t])
        for a, b, t in zip(
            graph.src[keep].tolist(),
            graph.dst[keep].tolist(),
            graph.etype[keep].tolist(),
            strict=True,
        )
    }
    groups = {
        (
            ids[int(graph.gnode[g])],
            int(graph.gk[g]),
            int(graph.gkind[g]),
            frozenset(ids[m] for m in graph.members(g)),
        )
        for g in np.flatnonzero(inside[graph.gnode]).tolist()
    }
    return {ids[i]: graph.cis[i] for i in nodes}, edges, groups


def _same_for_engine(before: ImpactGraph, after: ImpactGraph, sid: str, records: Records) -> bool:
    """The proposal leaves everything the engine reads for this service as it is: the
    same CIs in its cone, impact edges and quorum groups, and each CI whose document
    differs differs in nothing the engine reads (its class, status, redundancy, service
    details, agreements, and the reliability evidence the engine draws from it, by the
    engine's own impact.evidence.gather)."""
    cis_b, edges_b, groups_b = _cone(before, sid)
    cis_a, edges_a, groups_a = _cone(after, sid)
    if cis_b.keys() != cis_a.keys() or edges_b != edges_a or groups_b != groups_a:
        return False
    return all(cis_a[i] == b or _reads_same(cis_a[i], b, records) for i, b in cis_b.items())


def _reads_same(a: CI, b: CI, records: Records) -> bool:
    """The engine reads the same of both versions of a CI's document (its class, status,
    redundancy, service details, agreements, and the evidence gather draws from it)."""
    if any(getattr(a, f) != getattr(b, f) for f in _ENGINE_FIELDS):
        return False
    return gather([a], records) == gather([b], records)


def _unchanged(
    before: ImpactGraph, after: ImpactGraph, service: CI, records: Records, moved: BoolArray
) -> ServiceDiff | None:
    """The service's diff when the proposal changes nothing the engine reads for it
    (:func:`_same_for_engine`), else None. ``moved``: impact.graph_diff.touched_below,
    False where the cone is certainly the same (no need to compare it)."""
    v = before.index(service.id)
    if (v is None or moved[v]) and not _same_for_engine(before, after, service.id, records):
        return None
    details = service.service
    sla = details.sla if details is not None else None
    return ServiceDiff(
        id=service.id,
        name=service.name,
        criticality=service.criticality.value if service.criticality else None,
        customers=customers_of(before, v) if v is not None else [],
        sla=sla.name if sla is not None else None,
        sla_target_percent=sla.availability_target if sla is not None else None,
        spofs_before=[],
        spofs_after=[],
        spofs_removed=[],
        spofs_introduced=[],
        availability_before=None,
        availability_after=None,
        components_added=[],
        components_removed=[],
        paths_appeared=[],
        paths_disappeared=[],
        changed=False,
        evaluated=False,
    )


def _service_diff(
    before: ImpactGraph,
    after: ImpactGraph,
    service: CI,
    causes: list[str],
    down: list[str],
    records: Records,
    at: datetime,
) -> ServiceDiff:
    sid = service.id
    sb, sa = _spofs(before, sid, down), _spofs(after, sid, down)
    b_ids, a_ids = {x.id for x in sb}, {x.id for x in sa}
    ab = with_sla(service_availability(before, sid, records=records), before, at, records=records)
    aa = with_sla(service_availability(after, sid, records=records), after, at, records=records)
    cb, ca = _components(ab), _components(aa)
    pb, pa = _paths(before, causes, sid), _paths(after, causes, sid)
    details = service.service
    sla = details.sla if details is not None else None
    v = after.index(sid)
    customers = customers_of(after, v) if v is not None else []
    out = ServiceDiff(
        id=sid,
        name=service.name,
        criticality=service.criticality.value if service.criticality else None,
        customers=customers,
        sla=sla.name if sla is not None else None,
        sla_target_percent=sla.availability_target if sla is not None else None,
        spofs_before=sb,
        spofs_after=sa,
        spofs_removed=[x for x in sb if x.id not in a_ids],
        spofs_introduced=[x for x in sa if x.id not in b_ids],
        availability_before=_availability(ab),
        availability_after=_availability(aa),
        components_added=[c for k, c in ca.items() if k not in cb],
        components_removed=[c for k, c in cb.items() if k not in ca],
        paths_appeared=[p for k, p in pa.items() if k not in pb],
        paths_disappeared=[p for k, p in pb.items() if k not in pa],
        changed=False,
    )
    out.changed = bool(
        out.spofs_removed
        or out.spofs_introduced
        or out.paths_appeared
        or out.paths_disappeared
        or out.components_added
        or out.components_removed
        or ab.availability != aa.availability
    )
    return out


# --- the whole proposal ------------------------------------------------------------------


def collisions(store: GraphStore, proposal: Proposal) -> list[Collision]:
    """Other open proposals that name a CI this one names."""
    mine = proposal.touches()
    out = []
    for other in store.list_proposals(state=ProposalState.OPEN):
        if other.id == proposal.id:
            continue
        shared = sorted(mine & other.touches())
        if shared:
            out.append(Collision(proposal=other.id, version=other.version, ci_ids=shared))
    return out


# A 10k-CI diff allocates a whole estate's models, graphs and branches, and makes almost
# no reference cycles; with the collector on, its generation-2 passes walked all of it,
# ~35 % of the diff (measured with bench/proposals.py's estate).
@gc_paused()
def evaluate(
    store: GraphStore,
    proposal: Proposal,
    *,
    now: datetime | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> ProposalDiff:
    """The diff of ``proposal`` against the live graph (see the module docstring)."""
    at = now or datetime.now(UTC)
    added = {e.ci.id for e in proposal.edits if e.ci is not None}
    named = sorted(proposal.touches() - added)
    live: dict[str, CI] = {}
    for ci_id in named:
        try:
            live[ci_id] = store.get_ci(ci_id)
        except NotFound:  # removed since it was staged: nothing to fetch from
            continue
    roots = list(live.values())
    down_sub = fetch(
        store, roots, upstream=False, strategy="walk", max_nodes=max_nodes, brief=True
    ).subgraph
    services = sorted(
        (c for c in down_sub.nodes.values() if is_a(c.ci_class, "Service")), key=lambda c: c.id
    )
    up = fetch(
        store,
        [*services, *roots],
        upstream=True,
        strategy="walk",
        max_depth=DEFAULT_MAX_DEPTH,
        max_nodes=max_nodes,
    ).subgraph
    before = build_impact_graph(up)
    after = build_impact_graph(apply_edits(up, proposal.edits, live))
    incidents = incidents_as_of(store, None)
    down = open_incident_cis(incidents)
    records = failure_records(store, now=at, incidents=incidents)
    causes = [*named, *sorted(added)]
    moved = touched_below(before, after, lambda a, b: _reads_same(a, b, records))
    diffs = [
        _unchanged(before, after, s, records, moved)
        or _service_diff(before, after, s, causes, down, records, at)
        for s in services
        if before.index(s.id) is not None and after.index(s.id) is not None
    ]
    diffs.sort(key=lambda d: (not d.changed, d.name, d.id))
    return ProposalDiff(
        proposal=proposal.id,
        version=proposal.version,
        edits=len(proposal.edits),
        services=diffs,
        collisions=collisions(store, proposal),
        fetched_cis=len(up.nodes),
        truncated=down_sub.truncated_by_nodes or up.truncated_by_nodes,
    )


def diff(
    store: GraphStore,
    vis: Visibility,
    change_id: str,
    *,
    version: int | None = None,
    now: datetime | None = None,
) -> ProposalDiff:
    """The caller's view of the diff: a scoped caller is shown the services in its view
    and the collisions on CIs in its view."""
    visible_change(store, vis, change_id)
    # The whole proposal is evaluated (the truth), and the answer trimmed to the caller's
    # services: everything a service's answer names is upstream of it, so in view too.
    check_version(version)
    proposal = store.get_proposal(change_id, version=version)
    out = evaluate(store, proposal, now=now)
    if vis.unrestricted:
        return out
    return out.model_copy(
        update={
            "services": [s for s in out.services if vis.allows(s.id)],
            "collisions": [
                c.model_copy(update={"ci_ids": vis.keep(c.ci_ids)})
                for c in out.collisions
                if vis.keep(c.ci_ids)
            ],
        }
    )
