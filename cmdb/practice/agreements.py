"""Agreements that hold each other up: an SLA checked against the OLAs and supplier
contracts of everything its service rests on.

An SLA must never promise more than its components' agreements allow (a 4 h fix in the
SLA cannot rest on an 8 h fix in a supplier contract). For each service with an SLA we
walk what it rests on, the way the impact engine walks a failure backwards
(:func:`impact.fetch.impact_walk` upstream: against DEPENDS_ON, RUNS_ON, CONTAINS...,
from a cluster to its members), and compare every agreement found there, the service's
own included, target by target:

* **availability**: the agreement's percentage is lower than the SLA's;
* **response** and **resolution**, per priority: the agreement allows more minutes than
  the SLA for the same priority.

A target either side leaves out is not compared (nothing was promised, so nothing is
contradicted). Each agreement is reported with the shortest path from the service to
the CI it covers and, per target, both figures.

**Redundancy.** An agreement on one member of a cluster that survives losing it (its
quorum is below its member count) does not bound the service: the other members carry
it. Such an agreement is still listed, with the cluster that shields it, but its gaps
are not findings. A CI reached both directly and only behind a shield counts as direct.

Pure over a :class:`~cmdb.store.contract.Subgraph`; :func:`fetch_dependencies` asks the
store for it in one call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from cmdb.domain.model import CI, RETIRED_STATUSES, Relationship
from cmdb.domain.relationships import REGISTRY
from cmdb.domain.service import SLA, Agreement, PortfolioState, Priority
from cmdb.store.contract import Direction, GraphStore, Subgraph
from impact.fetch import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES, fetch, impact_walk

Target = Literal["availability", "response", "resolution"]


class AgreementCIRef(BaseModel):
    id: str
    name: str
    ci_class: str


class AgreementRef(BaseModel):
    kind: str  # ola or supplier_contract
    name: str
    party: str


class AgreementGap(BaseModel):
    """One target the agreement below does not meet."""

    target: Target
    priority: Priority | None  # None for availability
    unit: Literal["percent", "minutes"]
    sla_value: float
    agreement_value: float
    text: str  # "P1 resolution 480 min vs 240 min"


class DependencyPath(BaseModel):
    """From the service (``ci_ids[0]``) to the CI the agreement covers; ``phrases[i]``
    joins CI i to CI i+1 as read from the service (depends on, contains, has member)."""

    ci_ids: list[str]
    names: list[str]
    phrases: list[str]
    text: str


class AgreementCheck(BaseModel):
    """One agreement under a service, against the service's SLA."""

    agreement: AgreementRef
    ci: AgreementCIRef  # the CI the agreement covers
    path: DependencyPath
    shielded_by: str | None  # the redundant cluster in front of it (its gaps are no finding)
    gaps: list[AgreementGap]
    holds: bool  # no gap, or shielded by redundancy


class ServiceAgreements(BaseModel):
    """A service's SLA and every agreement it rests on, each checked against it."""

    service: AgreementCIRef
    sla: str | None  # the SLA's name; None: the service has none, nothing is compared
    agreements: list[AgreementCheck]
    findings: int  # agreements that do not hold the SLA up
    truncated: bool  # the walk hit its depth or node cap: agreements further down unseen


class AgreementFinding(BaseModel):
    """A weaker agreement below a stronger SLA: what the health report and the CAB agenda
    list."""

    service: AgreementCIRef
    sla: str
    agreement: AgreementRef
    ci: AgreementCIRef
    path: DependencyPath
    gaps: list[AgreementGap]


# -- comparing two agreements -------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:g}"


def compare(sla: SLA, agreement: Agreement) -> list[AgreementGap]:
    """Each target of ``sla`` that ``agreement`` promises less of: availability first, then
    response and resolution from P1 to P4. A target missing on either side is skipped."""
    gaps: list[AgreementGap] = []
    theirs = agreement.availability_target
    if theirs is not None and theirs < sla.availability_target:
        gaps.append(
            AgreementGap(
                target="availability",
                priority=None,
                unit="percent",
                sla_value=sla.availability_target,
                agreement_value=theirs,
                text=f"availability {_num(theirs)} % vs {_num(sla.availability_target)} %",
            )
        )
    for target, ours_by, theirs_by in (
        ("response", sla.response_minutes, agreement.response_minutes),
        ("resolution", sla.resolution_minutes, agreement.resolution_minutes),
    ):
        for p in Priority:
            ours_m, theirs_m = ours_by.get(p), theirs_by.get(p)
            if ours_m is None or theirs_m is None or theirs_m <= ours_m:
                continue
            gaps.append(
                AgreementGap(
                    target="response" if target == "response" else "resolution",
                    priority=p,
                    unit="minutes",
                    sla_value=ours_m,
                    agreement_value=theirs_m,
                    text=f"{p.value} {target} {theirs_m} min vs {ours_m} min",
                )
            )
    return gaps


# -- walking what a service rests on ------------------------------------------------------


def _ref(ci: CI) -> AgreementCIRef:
    return AgreementCIRef(id=ci.id, name=ci.name, ci_class=ci.ci_class)


# One step of the walk: (next CI, the edge, the phrase read from the service's side).
_Step = tuple[str, Relationship, str]


class _Walk:
    """The dependency steps of a subgraph, each edge the way an upstream impact walk takes
    it, and the membership edges a redundant cluster shields."""

    def __init__(self, sub: Subgraph, walk: dict[str, Direction]) -> None:
        self.nodes = sub.nodes
        self.steps: dict[str, list[_Step]] = {}
        members: dict[str, int] = {}
        for e in sub.edges:
            if REGISTRY[e.type].redundancy_membership:
                members[e.target_id] = members.get(e.target_id, 0) + 1
        self.shields: set[str] = set()  # ids of membership edges behind slack
        # Ordered by names, not ids: among paths of one length, both stores pick the same.
        edges = [e for e in sub.edges if e.source_id in sub.nodes and e.target_id in sub.nodes]
        edges.sort(key=lambda r: (sub.nodes[r.source_id].name, sub.nodes[r.target_id].name, r.type))
        for e in edges:
            way = walk.get(e.type)
            rtype = REGISTRY[e.type]
            if way in (Direction.OUT, Direction.BOTH):
                self.steps.setdefault(e.source_id, []).append((e.target_id, e, rtype.forward))
            if way in (Direction.IN, Direction.BOTH):
                self.steps.setdefault(e.target_id, []).append((e.source_id, e, rtype.reverse))
            if rtype.redundancy_membership:
                cluster = sub.nodes[e.target_id]
                n = members[e.target_id]
                if cluster.redundancy is not None and cluster.redundancy.required(n) < n:
                    self.shields.add(e.id)

    def search(self, root: str, *, shielded: bool) -> dict[str, tuple[str, Relationship, str]]:
        """Breadth-first from ``root`` (a visited set keeps cycles finite): each CI reached,
        with the step that first reached it. Without ``shielded``, edges a redundant
        cluster shields are not taken."""
        parent: dict[str, tuple[str, Relationship, str]] = {}
        seen = {root}
        todo = deque([root])
        while todo:
            a = todo.popleft()
            for b, e, phrase in self.steps.get(a, ()):
                if b in seen or (not shielded and e.id in self.shields):
                    continue
                seen.add(b)
                parent[b] = (a, e, phrase)
                todo.append(b)
        return parent

    def path(
        self, root: str, ci_id: str, parent: dict[str, tuple[str, Relationship, str]]
    ) -> tuple[DependencyPath, str | None]:
        """The path from ``root`` to ``ci_id`` and the first cluster shielding it."""
        ids, phrases = [ci_id], []
        shield: str | None = None
        while ids[-1] != root:
            a, e, phrase = parent[ids[-1]]
            if e.id in self.shields:
                shield = self.nodes[a].name  # walking back: the last one seen is the first
            phrases.append(phrase)
            ids.append(a)
        ids.reverse()
        phrases.reverse()
        names = [self.nodes[i].name for i in ids]
        text = names[0]
        for phrase, name in zip(phrases, names[1:], strict=True):
            text += f" -({phrase})-> {name}"
        return DependencyPath(ci_ids=ids, names=names, phrases=phrases, text=text), shield


def check_service(
    sub: Subgraph, service: CI, walk: dict[str, Direction], *, truncated: bool | None = None
) -> ServiceAgreements:
    """Every agreement in ``sub`` that ``service`` rests on, checked against its SLA:
    the CIs reached directly first, by distance, then those behind redundancy."""
    sla = service.service.sla if service.service is not None else None
    w = _Walk(sub, walk)
    direct = w.search(service.id, shielded=False)
    anyway = w.search(service.id, shielded=True)
    order = [service.id, *direct, *(i for i in anyway if i not in direct)]
    checks: list[AgreementCheck] = []
    for ci_id in order:
        ci = service if ci_id == service.id else sub.nodes[ci_id]
        if not ci.agreements:
            continue
        if ci_id == service.id:
            path = DependencyPath(ci_ids=[ci.id], names=[ci.name], phrases=[], text=ci.name)
            shield = None
        else:
            path, shield = w.path(service.id, ci_id, direct if ci_id in direct else anyway)
        for a in ci.agreements:
            gaps = compare(sla, a) if sla is not None else []
            checks.append(
                AgreementCheck(
                    agreement=AgreementRef(kind=a.kind.value, name=a.name, party=a.party),
                    ci=_ref(ci),
                    path=path,
                    shielded_by=shield,
                    gaps=gaps,
                    holds=not gaps or shield is not None,
                )
            )
    cut = (sub.truncated_by_depth or sub.truncated_by_nodes) if truncated is None else truncated
    return ServiceAgreements(
        service=_ref(service),
        sla=sla.name if sla is not None else None,
        agreements=checks,
        findings=sum(1 for c in checks if not c.holds),
        truncated=cut,
    )


def findings_of(checked: ServiceAgreements) -> list[AgreementFinding]:
    """The agreements that do not hold the service's SLA up, as findings."""
    if checked.sla is None:
        return []
    return [
        AgreementFinding(
            service=checked.service,
            sla=checked.sla,
            agreement=c.agreement,
            ci=c.ci,
            path=c.path,
            gaps=c.gaps,
        )
        for c in checked.agreements
        if not c.holds
    ]


# -- asking the store ---------------------------------------------------------------------


def fetch_dependencies(
    store: GraphStore,
    services: Sequence[CI],
    *,
    as_of: datetime | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> tuple[Subgraph, dict[str, Direction]]:
    """What ``services`` rest on, in one store call, and the walk that reached it (each
    service's own closure lies inside the union: the walk is per type, not per root)."""
    walk, _ = impact_walk(list(services), upstream=True)
    got = fetch(
        store,
        list(services),
        upstream=True,
        strategy="walk",
        max_depth=max_depth,
        max_nodes=max_nodes,
        as_of=as_of,
    )
    return got.subgraph, walk


def check_services(
    store: GraphStore,
    services: Iterable[CI],
    *,
    as_of: datetime | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> list[ServiceAgreements]:
    """Each of ``services`` checked, in the order given (one store call for all)."""
    svcs = list(services)
    if not svcs:
        return []
    sub, walk = fetch_dependencies(
        store, svcs, as_of=as_of, max_depth=max_depth, max_nodes=max_nodes
    )
    return [check_service(sub, s, walk) for s in svcs]


def _in_force(svc: CI) -> bool:
    details = svc.service
    return (
        details is not None
        and details.sla is not None
        and details.portfolio is not PortfolioState.RETIRED
        and svc.status not in RETIRED_STATUSES
    )


def agreement_findings(
    store: GraphStore,
    services: Iterable[CI],
    *,
    as_of: datetime | None = None,
) -> list[AgreementFinding]:
    """Every finding under the services that carry an SLA, by service name, then the
    nearest agreement first. A withdrawn service, or one retired from the portfolio, has
    no SLA in force: it is left out (a pipeline service is checked before it goes live)."""
    with_sla = sorted(
        (s for s in services if _in_force(s)),
        key=lambda s: (s.name, s.id),
    )
    return [f for c in check_services(store, with_sla, as_of=as_of) for f in findings_of(c)]
