"""``/impact``: the impact engine's questions, the same use cases GraphQL and the CLI call
(cmdb/app/impact.py).

CIs are named as everywhere else: an id, ``kind=value``, ``Class:name`` or a unique name.
A token scoped to services is refused (404, as if missing) any CI outside its scope, and
sees in the answers only what is inside it: another service hit by the same failure is not
shown to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cmdb.app import impact
from cmdb.app.impact import MAX_DEPTH, MAX_NODES, MAX_SPOFS, Limits
from cmdb.app.inputs import MAX_REFS
from cmdb.app.scope import Visibility
from cmdb.store.contract import GraphStore
from cmdb.web.deps import Reader, Store, Visible
from cmdb.web.responses import json_answer
from impact.availability import AvailabilityResult
from impact.cause import CauseResult
from impact.fetch import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES
from impact.recovery import RecoveryPlan
from impact.report import ImpactReport
from impact.severity import FailureMode
from impact.spof import SpofResult

router = APIRouter(prefix="/impact", tags=["impact"])


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
ServiceRef = Annotated[
    str, Path(description="The service: id, kind=value, Class:name or unique name.")
]


def _limits(depth: int, max_nodes: int) -> Limits:
    return Limits(max_depth=depth, max_nodes=max_nodes)


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
    report = impact.change_impact(
        store,
        vis,
        impact.resolve_all(store, vis, body.cis),
        body.start,
        body.end,
        mode=body.mode,
        as_of=body.as_of,
        limits=_limits(body.depth, body.max_nodes),
        paths=body.paths,
    )
    return json_answer(ImpactReport, report)


@router.post("/incident", operation_id="impactIncident", response_model=ImpactReportOut)
async def impact_incident(
    body: IncidentImpactIn, store: Store, _: Reader, vis: Visible
) -> Response:
    """The CIs are failing now: the services hit, and how long each SLA has before breach."""
    return await run_in_threadpool(_impact_incident, body, store, vis)


def _impact_incident(body: IncidentImpactIn, store: GraphStore, vis: Visibility) -> Response:
    report = impact.incident_impact(
        store,
        vis,
        impact.resolve_all(store, vis, body.cis),
        mode=body.mode,
        as_of=body.as_of,
        limits=_limits(body.depth, body.max_nodes),
        paths=body.paths,
    )
    return json_answer(ImpactReport, report)


@router.get("/spof/{service:path}", operation_id="impactSpof", response_model=SpofOut)
def impact_spof(
    service: ServiceRef,
    store: Store,
    _: Reader,
    vis: Visible,
    as_of: AsOf = None,
    depth: Depth = DEFAULT_MAX_DEPTH,
    max_nodes: Nodes = DEFAULT_MAX_NODES,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_SPOFS,
            description="Only the N costliest (default: all; `left_out` says how many more).",
        ),
    ] = None,
) -> SpofOut:
    """CIs whose failure alone takes the service down (redundancy and open incidents
    considered), costliest first: the services and customers each one's failure takes
    down, its SLA tightness and failure rate, its kind, and what would remove it."""
    svc = impact.service(store, vis, service)
    result = impact.spof(
        store, vis, svc, as_of=as_of, limits=_limits(depth, max_nodes), limit=limit
    )
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
    svc = impact.service(store, vis, service)
    result = impact.availability(store, vis, svc, as_of=as_of, limits=_limits(depth, max_nodes))
    return AvailabilityOut.model_validate(result, from_attributes=True)


@router.post("/cause", operation_id="impactCause", response_model=CauseOut)
def impact_cause(body: CauseIn, store: Store, _: Reader, vis: Visible) -> CauseOut:
    """Which upstream CI best explains all these affected CIs or services?"""
    result = impact.cause(
        store,
        vis,
        impact.resolve_all(store, vis, body.cis),
        as_of=body.as_of,
        lookback=timedelta(hours=body.lookback_hours),
        limits=_limits(body.depth, body.max_nodes),
        top=body.top,
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
    svc = impact.service(store, vis, service)
    plan = impact.recovery(
        store, vis, svc, as_of=as_of, limits=_limits(depth, max_nodes), current=current
    )
    return RecoveryOut.model_validate(plan, from_attributes=True)
