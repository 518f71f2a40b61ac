"""``/impact``: the impact engine's questions (impact/queries.py), the same ones the CLI asks.

CIs are named as everywhere else: an id, ``kind=value`` or a unique name. A token scoped to
services is refused (404, as if missing) any CI outside its scope, and sees in the answers
only what is inside it: another service hit by the same failure is not shown to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cmdb.api.routers._shared import resolve_visible
from cmdb.app.inputs import MAX_REFS
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import CI
from cmdb.store.contract import GraphStore
from cmdb.web.deps import Reader, Store, Visible, ids_allowed
from cmdb.web.responses import json_answer
from impact.availability import AvailabilityResult
from impact.cause import CauseResult
from impact.fetch import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES
from impact.queries import (
    Limits,
    availability_report,
    cause_report,
    change_impact,
    incident_impact,
    recovery_report,
    spof_report,
)
from impact.recovery import RecoveryPlan
from impact.report import ImpactReport
from impact.severity import FailureMode
from impact.spof import SpofResult

router = APIRouter(prefix="/impact", tags=["impact"])

MAX_DEPTH = 4 * DEFAULT_MAX_DEPTH
MAX_NODES = 10 * DEFAULT_MAX_NODES


# --- request and response models --------------------------------------------------------


class _WalkIn(BaseModel):
    # Unknown or server-owned fields are refused (422), not silently ignored.
    model_config = ConfigDict(extra="forbid")

    as_of: datetime | None = Field(
        default=None, description="Ask about the graph (and open incidents) as they were then."
    )
    depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=0, le=MAX_DEPTH, description="Depth cap.")
    max_nodes: int = Field(default=DEFAULT_MAX_NODES, ge=1, le=MAX_NODES, description="Node cap.")


class IncidentImpactIn(_WalkIn):
    cis: list[str] = Field(
        min_length=1, max_length=MAX_REFS, description="Failing CIs: id, kind=value or name."
    )
    mode: FailureMode = FailureMode.DOWN
    paths: int = Field(default=3, ge=1, le=10, description="Explaining paths per CI.")


class ChangeImpactIn(IncidentImpactIn):
    start: datetime = Field(description="Start of the change window (ISO 8601).")
    end: datetime = Field(description="End of the change window (ISO 8601).")


class CauseIn(_WalkIn):
    cis: list[str] = Field(
        min_length=1, max_length=MAX_REFS, description="Affected CIs or services."
    )
    lookback_hours: float = Field(default=24.0, ge=0, le=24 * 366)
    top: int = Field(default=10, ge=1, le=100)


class ImpactReportOut(ImpactReport):
    pass


class SpofOut(SpofResult):
    pass


class AvailabilityOut(AvailabilityResult):
    pass


class CauseOut(CauseResult):
    pass


class RecoveryOut(RecoveryPlan):
    pass


AsOf = Annotated[
    datetime | None, Query(description="The graph and open incidents as they were then.")
]
Depth = Annotated[int, Query(ge=0, le=MAX_DEPTH, description="Depth cap of the walk.")]
Nodes = Annotated[int, Query(ge=1, le=MAX_NODES, description="Node cap of the walk.")]
ServiceRef = Annotated[str, Path(description="The service: id, kind=value or unique name.")]


# --- resolving what the caller named, inside what it may see ----------------------------


def _resolve_all(store: GraphStore, vis: Visibility, refs: list[str]) -> list[CI]:
    out: dict[str, CI] = {}
    for i, ref in enumerate(refs):
        ci = resolve_visible(store, vis, ref, where=f"cis.{i}")
        out.setdefault(ci.id, ci)
    return list(out.values())


def _service(store: GraphStore, vis: Visibility, ref: str) -> CI:
    ci = resolve_visible(store, vis, ref, where="service")
    if ci.service is None:
        raise InvalidInput(f"{ci.label()} is not a Service", where="service")
    return ci


def _limits(depth: int, max_nodes: int) -> Limits:
    return Limits(max_depth=depth, max_nodes=max_nodes)


# --- trimming answers to the caller's scope ---------------------------------------------


def _visible_report(report: ImpactReport, vis: Visibility) -> ImpactReport:
    """The report trimmed to what the caller may see (the engine's own, untouched, for
    an unscoped caller: it is written as it is, not validated again)."""
    if vis.unrestricted:
        return report
    services = [
        s.model_copy(update={"paths": [p for p in s.paths if ids_allowed(vis, p.ci_ids)]})
        for s in report.services
        if vis.allows(s.id)
    ]
    cis = [
        c.model_copy(update={"paths": [p for p in c.paths if ids_allowed(vis, p.ci_ids)]})
        for c in report.cis
        if vis.allows(c.id)
    ]
    trimmed = report.model_copy(
        update={
            "services": services,
            "cis": cis,
            "score": max((s.score.value for s in services), default=0.0),
            "already_down": [f for f in report.already_down if vis.allows(f.id)],
            "retired_ignored": vis.keep(report.retired_ignored),
            "caps": report.caps.model_copy(update={"frontier": vis.keep(report.caps.frontier)}),
            # Warnings name CIs anywhere in the walked graph: not for a scoped caller.
            "warnings": [],
        }
    )
    return trimmed


# --- routes -----------------------------------------------------------------------------


@router.post("/change", operation_id="impactChange", response_model=ImpactReportOut)
async def impact_change(body: ChangeImpactIn, store: Store, _: Reader, vis: Visible) -> Response:
    """A planned change takes the CIs down (or degrades them) from ``start`` to ``end``:
    the services it hits, how badly, why (paths), and the SLA exposure of the window."""
    # The CAB's question, asked most: one thread-pool hop (a sync route takes two), and
    # the report, already a validated model, serialised once by pydantic rather than
    # validated again against the response model.
    return await run_in_threadpool(_impact_change, body, store, vis)


def _impact_change(body: ChangeImpactIn, store: GraphStore, vis: Visibility) -> Response:
    if body.end <= body.start:
        raise InvalidInput("the window must end after it starts", where="end")
    report = change_impact(
        store,
        _resolve_all(store, vis, body.cis),
        body.start,
        body.end,
        mode=body.mode,
        as_of=body.as_of,
        limits=_limits(body.depth, body.max_nodes),
        paths=body.paths,
    )
    return json_answer(ImpactReport, _visible_report(report, vis))


@router.post("/incident", operation_id="impactIncident", response_model=ImpactReportOut)
async def impact_incident(
    body: IncidentImpactIn, store: Store, _: Reader, vis: Visible
) -> Response:
    """The CIs are failing now: the services hit, and how long each SLA has before breach."""
    return await run_in_threadpool(_impact_incident, body, store, vis)


def _impact_incident(body: IncidentImpactIn, store: GraphStore, vis: Visibility) -> Response:
    report = incident_impact(
        store,
        _resolve_all(store, vis, body.cis),
        mode=body.mode,
        as_of=body.as_of,
        limits=_limits(body.depth, body.max_nodes),
        paths=body.paths,
    )
    return json_answer(ImpactReport, _visible_report(report, vis))


@router.get("/spof/{service:path}", operation_id="impactSpof", response_model=SpofOut)
def impact_spof(
    service: ServiceRef,
    store: Store,
    _: Reader,
    vis: Visible,
    as_of: AsOf = None,
    depth: Depth = DEFAULT_MAX_DEPTH,
    max_nodes: Nodes = DEFAULT_MAX_NODES,
) -> SpofOut:
    """CIs whose failure alone takes the service down (redundancy and open incidents
    considered)."""
    svc = _service(store, vis, service)
    result = spof_report(store, svc, as_of=as_of, limits=_limits(depth, max_nodes))
    result = result.model_copy(update={"spofs": [s for s in result.spofs if vis.allows(s.id)]})
    return SpofOut.model_validate(result, from_attributes=True)


@router.get(
    "/availability/{service:path}",
    operation_id="impactAvailability",
    response_model=AvailabilityOut,
)
def impact_availability(
    service: ServiceRef,
    store: Store,
    _: Reader,
    vis: Visible,
    as_of: AsOf = None,
    depth: Depth = DEFAULT_MAX_DEPTH,
    max_nodes: Nodes = DEFAULT_MAX_NODES,
) -> AvailabilityOut:
    """Expected availability from the components, and the odds of breaching the SLA."""
    svc = _service(store, vis, service)
    result = availability_report(store, svc, as_of=as_of, limits=_limits(depth, max_nodes))
    result = result.model_copy(
        update={"components": [c for c in result.components if vis.allows(c.id)]}
    )
    return AvailabilityOut.model_validate(result, from_attributes=True)


@router.post("/cause", operation_id="impactCause", response_model=CauseOut)
def impact_cause(body: CauseIn, store: Store, _: Reader, vis: Visible) -> CauseOut:
    """Which upstream CI best explains all these affected CIs or services?"""
    result = cause_report(
        store,
        _resolve_all(store, vis, body.cis),
        as_of=body.as_of,
        lookback=timedelta(hours=body.lookback_hours),
        limits=_limits(body.depth, body.max_nodes),
        top=body.top,
    )
    result = result.model_copy(
        update={
            "candidates": [
                c.model_copy(update={"paths": [p for p in c.paths if ids_allowed(vis, p.ci_ids)]})
                for c in result.candidates
                if vis.allows(c.id)
            ]
        }
    )
    return CauseOut.model_validate(result, from_attributes=True)


@router.get("/recovery/{service:path}", operation_id="impactRecovery", response_model=RecoveryOut)
def impact_recovery(
    service: ServiceRef,
    store: Store,
    _: Reader,
    vis: Visible,
    as_of: AsOf = None,
    current: Annotated[
        bool, Query(description="Plan for what open incidents have down now (not a cold start).")
    ] = False,
    depth: Depth = DEFAULT_MAX_DEPTH,
    max_nodes: Nodes = DEFAULT_MAX_NODES,
) -> RecoveryOut:
    """What to bring back first for the service, clusters only to quorum."""
    svc = _service(store, vis, service)
    plan = recovery_report(
        store, svc, as_of=as_of, limits=_limits(depth, max_nodes), current=current
    )
    plan = plan.model_copy(update={"steps": [s for s in plan.steps if vis.allows(s.id)]})
    return RecoveryOut.model_validate(plan, from_attributes=True)
