"""``/changes``: requests for change (RFCs) through their lifecycle, their risk, the schedule
of changes, collisions and window violations, window suggestions and the review; the same
use cases as GraphQL and ``cmdb change ...`` (cmdb/app/changes.py, change_schedule.py).

Scope: a token scoped to services sees a change that names at least one CI or service in
its view (with only those ids shown), and every answer derived from changes (schedule,
collisions, violations, suggestions) is trimmed to what it may see; anything else answers
404, as if missing. It may write only changes whose CIs and services are all in its view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cmdb.api.routers._shared import caller
from cmdb.app import change_schedule, changes
from cmdb.app.change_inputs import ChangePatch, ChangeReview, ChangeStep, NewChange
from cmdb.app.change_schedule import MAX_DAYS, MAX_MINUTES
from cmdb.app.changes import authority_of, policy_of
from cmdb.domain.records import Change, ChangeState, ChangeType
from cmdb.practice.collisions import Collision
from cmdb.practice.lifecycle import allowed_next
from cmdb.practice.risk import Assessment
from cmdb.practice.scheduling import Suggestion
from cmdb.practice.windows import Violation
from cmdb.web.deps import Editor, Reader, SettingsDep, Store, Visible

router = APIRouter(prefix="/changes", tags=["changes"])


# --- models -------------------------------------------------------------------------------


class ChangeOut(Change):
    allowed_next: list[ChangeState] = Field(
        default_factory=list, description="the states it may go to next"
    )


def change_out(change: Change) -> ChangeOut:
    """A change as the use case shows it, with the states it may go to next."""
    return ChangeOut.model_validate({**change.model_dump(), "allowed_next": allowed_next(change)})


class ChangeListOut(BaseModel):
    items: list[ChangeOut]


class ChangeIn(NewChange):
    pass


class ChangePatchIn(ChangePatch):
    """Only the fields given change; lists replace the stored ones."""


class TransitionIn(ChangeStep):
    pass


class ReviewIn(ChangeReview):
    pass


class AssessmentOut(Assessment):
    pass


class AssessOut(BaseModel):
    change: ChangeOut
    assessment: AssessmentOut


class ReviewOut(BaseModel):
    change: ChangeOut
    linked_incidents: list[str] = Field(description="incidents the review linked")


class RefOut(BaseModel):
    id: str
    name: str


class ServiceHitOut(RefOut):
    severity: str


class ScheduleRowOut(BaseModel):
    id: str
    title: str
    type: ChangeType
    state: ChangeState
    start: datetime | None
    end: datetime | None
    risk: str | None
    approval: str | None
    cis: list[RefOut]
    services: list[ServiceHitOut] = Field(description="services it degrades or takes down")


class ScheduleOut(BaseModel):
    start: datetime
    end: datetime
    items: list[ScheduleRowOut]


class CollisionOut(Collision):
    pass


class ViolationOut(Violation):
    pass


class CollisionsOut(BaseModel):
    collisions: list[CollisionOut]
    violations: list[ViolationOut]


class SuggestionOut(Suggestion):
    pass


def _assessment_out(result: Assessment) -> AssessmentOut:
    return AssessmentOut.model_validate(result.model_dump())


def _collisions_out(got: change_schedule.Collisions) -> CollisionsOut:
    return CollisionsOut.model_validate(got.model_dump())


# --- shared query parameters ---------------------------------------------------------------

Start = Annotated[datetime | None, Query(description="ISO 8601 (no zone: UTC); default now.")]


# --- reading -------------------------------------------------------------------------------


@router.get("", operation_id="listChanges", response_model=ChangeListOut)
def list_changes(
    _: Reader,
    store: Store,
    vis: Visible,
    state: Annotated[list[ChangeState] | None, Query(description="repeatable")] = None,
    type: ChangeType | None = None,
    ci: Annotated[str | None, Query(description="changes naming this CI")] = None,
    service: Annotated[str | None, Query(description="changes naming this service")] = None,
) -> ChangeListOut:
    """RFCs by reference, filtered by state, type, CI or service."""
    found = changes.list_changes(store, vis, states=state, type=type, ci=ci, service=service)
    return ChangeListOut(items=[change_out(c) for c in found])


@router.get("/schedule", operation_id="scheduleChanges", response_model=ScheduleOut)
def schedule_changes(
    _: Reader,
    store: Store,
    vis: Visible,
    start: Start = None,
    end: Annotated[datetime | None, Query(description="default: start + days")] = None,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30,
    service: Annotated[str | None, Query(description="only changes hitting this service")] = None,
    ci: Annotated[str | None, Query(description="only changes naming or impacting this CI")] = None,
) -> ScheduleOut:
    """The schedule of changes in a period (rejected ones left out), with the services each
    degrades or takes down; optionally only those concerning one service or CI."""
    got = change_schedule.schedule(
        store, vis, start=start, end=end, days=days, service=service, ci=ci
    )
    return ScheduleOut.model_validate(got.model_dump())


@router.get("/collisions", operation_id="listChangeCollisions", response_model=CollisionsOut)
async def list_change_collisions(_: Reader, store: Store, vis: Visible) -> CollisionsOut:
    """Clashes between open changes whose windows overlap (same CI, parent and child, a
    joint quorum break or service hit, the same service), and every blackout,
    maintenance-window and service-hour violation."""
    got = await run_in_threadpool(change_schedule.collisions, store, vis)
    return _collisions_out(got)


@router.get("/{change_id}", operation_id="getChange", response_model=ChangeOut)
def get_change(change_id: str, _: Reader, store: Store, vis: Visible) -> ChangeOut:
    """One RFC with its log and the states it may go to next."""
    return change_out(changes.get(store, vis, change_id))


@router.get(
    "/{change_id}/collisions", operation_id="getChangeCollisions", response_model=CollisionsOut
)
async def get_change_collisions(
    change_id: str, _: Reader, store: Store, vis: Visible
) -> CollisionsOut:
    """This change's clashes with others, and its window violations."""

    def work() -> change_schedule.Collisions:
        changes.visible_change(store, vis, change_id)
        return change_schedule.collisions(store, vis, change_id)

    return _collisions_out(await run_in_threadpool(work))


@router.get("/{change_id}/risk", operation_id="getChangeRisk", response_model=AssessmentOut)
def get_change_risk(
    change_id: str, _: Reader, store: Store, vis: Visible, settings: SettingsDep
) -> AssessmentOut:
    """The change's risk as it would be assessed now, every rule and why; nothing is
    recorded (POST .../assess records it)."""
    return _assessment_out(changes.risk(store, vis, change_id, policy_of(settings)))


@router.get(
    "/{change_id}/suggest-window", operation_id="suggestChangeWindow", response_model=SuggestionOut
)
def suggest_change_window(
    change_id: str,
    _: Reader,
    store: Store,
    vis: Visible,
    settings: SettingsDep,
    minutes: Annotated[int, Query(ge=1, le=MAX_MINUTES, description="How long it takes.")] = 60,
    start: Start = None,
    days: Annotated[
        int | None, Query(ge=1, le=MAX_DAYS, description="Search horizon (default: policy).")
    ] = None,
) -> SuggestionOut:
    """The earliest window that fits every interrupted service's maintenance windows,
    avoids their service hours and every impacted service's blackouts, and overlaps no
    change it would collide with."""
    got = change_schedule.suggest_window(
        store, vis, change_id, policy_of(settings), minutes=minutes, start=start, days=days
    )
    return SuggestionOut.model_validate(got.model_dump())


# --- writing -------------------------------------------------------------------------------


@router.post("", operation_id="createChange", status_code=201, response_model=ChangeOut)
def create_change_route(
    body: ChangeIn, request: Request, store: Store, principal: Editor, vis: Visible
) -> ChangeOut:
    """Raise an RFC (a draft). CIs and services are named as everywhere else."""
    return change_out(changes.create(store, caller(principal, request), vis, body))


@router.patch("/{change_id}", operation_id="updateChange", response_model=ChangeOut)
def update_change_route(
    change_id: str,
    body: ChangePatchIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
) -> ChangeOut:
    """Amend an RFC: its documentation until it is closed; its CIs and window only as a
    draft or assessed (which drops the assessment), or for an emergency change."""
    return change_out(changes.update(store, caller(principal, request), vis, change_id, body))


@router.post("/{change_id}/transition", operation_id="transitionChange", response_model=ChangeOut)
def transition_change(
    change_id: str,
    body: TransitionIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
    settings: SettingsDep,
) -> ChangeOut:
    """One step of the lifecycle; an illegal one is refused (422) naming the state and the
    allowed next ones. Scheduling may set the window in the same step. Authorising a
    change, or rejecting an assessed one, needs a role whose change authority covers the
    approval the change needs (403 otherwise): change-manager, cab, change-board. A
    standard change authorised unassessed is assessed in the same step: it is pre-approved
    only within the policy's ceiling, above it it needs what a normal change would."""
    authority, policy = authority_of(principal), policy_of(settings)
    moved = changes.transition(
        store, caller(principal, request), vis, change_id, body, policy, authority=authority
    )
    return change_out(moved)


@router.post("/{change_id}/assess", operation_id="assessChange", response_model=AssessOut)
def assess_change_route(
    change_id: str,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
    settings: SettingsDep,
) -> AssessOut:
    """Assess the risk (impact engine and failed-change history, through the policy's
    ordered rules) and record it; a draft (other than a standard change) moves to
    assessed."""
    policy = policy_of(settings)
    changed, result = changes.assess(store, caller(principal, request), vis, change_id, policy)
    return AssessOut(change=change_out(changed), assessment=_assessment_out(result))


@router.post("/{change_id}/review", operation_id="reviewChange", response_model=ReviewOut)
def review_change_route(
    change_id: str,
    body: ReviewIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
    settings: SettingsDep,
) -> ReviewOut:
    """Post-implementation review: the outcome, and the incidents on impacted CIs opened
    during the change or soon after, linked both ways."""
    policy = policy_of(settings)
    got = changes.review(store, caller(principal, request), vis, change_id, body, policy)
    return ReviewOut(change=change_out(got.change), linked_incidents=[i.id for i in got.linked])
