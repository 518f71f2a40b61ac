"""``/changes``: requests for change (RFCs) through their lifecycle, their risk, the schedule
of changes, collisions and window violations, window suggestions and the review; the same
practice as ``cmdb change ...`` (cmdb/practice).

Scope: a token scoped to services sees a change that names at least one CI or service in
its view (with only those ids shown), and every answer derived from changes (schedule,
collisions, violations, suggestions) is trimmed to what it may see; anything else answers
404, as if missing. It may write only changes whose CIs and services are all in its view.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cmdb.api.routers._shared import instant, resolve_visible, stamped, validated
from cmdb.app.inputs import MAX_REFS
from cmdb.app.scope import (
    Visibility,
    change_readable,
    check_writable,
    incident_readable,
    named,
    readable,
)
from cmdb.auth.roles import authority as role_authority
from cmdb.auth.tokens import Principal
from cmdb.config import Settings
from cmdb.domain.errors import Forbidden, InvalidInput, NotFound
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangePriority,
    ChangeState,
    ChangeType,
    ExpectedImpact,
)
from cmdb.practice.changes import assess, assess_change, create_change, update_change
from cmdb.practice.changes import transition_change as practice_transition
from cmdb.practice.collisions import Collision
from cmdb.practice.lifecycle import OPEN_STATES, allowed_next
from cmdb.practice.policy import Policy, load_policy
from cmdb.practice.reports import assessment_seen, seen
from cmdb.practice.review import review_change
from cmdb.practice.risk import Assessment
from cmdb.practice.scheduling import Planner, Suggestion
from cmdb.practice.windows import Violation
from cmdb.store.contract import GraphStore
from cmdb.web.deps import Editor, Reader, SettingsDep, Store, Visible
from impact.report import ImpactReport

router = APIRouter(prefix="/changes", tags=["changes"])

MAX_TEXT = 10_000
MAX_DAYS = 366


def now() -> datetime:
    return datetime.now(UTC)


def policy_of(settings: Settings) -> Policy:
    return load_policy(settings.practice_policy_file)


def visible_change(store: GraphStore, vis: Visibility, change_id: str) -> Change:
    try:
        change = store.get_change(change_id)
    except NotFound:
        change = None
    if change is None or not readable(vis, change):
        raise NotFound(f"no change {change_id!r}", where="change_id")
    return change


# --- models -------------------------------------------------------------------------------


class ChangeOut(Change):
    allowed_next: list[ChangeState] = Field(
        default_factory=list, description="the states it may go to next"
    )


def change_out(store: GraphStore, vis: Visibility, change: Change) -> ChangeOut:
    """``change`` as the caller is shown it: the CIs, services and declared versions in its
    view, and the linked incidents it reads (a linked record's id is a hint too)."""
    if not vis.unrestricted:
        change = seen(vis.ids, change).model_copy(
            update={
                "incident_ids": [
                    i for i in change.incident_ids if incident_readable(store, vis, i)
                ],
                "related_changes": [
                    c for c in change.related_changes if change_readable(store, vis, c)
                ],
            }
        )
    return ChangeOut.model_validate({**change.model_dump(), "allowed_next": allowed_next(change)})


class ChangeListOut(BaseModel):
    items: list[ChangeOut]


Text = Annotated[str, Field(max_length=MAX_TEXT)]
Refs = Annotated[list[str], Field(max_length=MAX_REFS)]


class _RfcFields(BaseModel):
    # Unknown or server-owned fields (state, risk, log, outcome...) are refused (422).
    model_config = ConfigDict(extra="forbid")


class ChangeIn(_RfcFields):
    id: str = Field(
        min_length=1, max_length=128, pattern=r"^\S+$", description="The RFC's reference."
    )
    title: str = Field(min_length=1, max_length=500)
    type: ChangeType = ChangeType.NORMAL
    priority: ChangePriority = ChangePriority.NORMAL
    requester: str = Field(default="", max_length=200, description="Default: the caller.")
    cis: Refs = Field(default_factory=list, description="Affected CIs: id, kind=value or name.")
    ci_versions: dict[str, str] = Field(
        default_factory=dict, description="CI reference -> the version the change brings."
    )
    services: Refs = Field(default_factory=list, description="Services it concerns.")
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    reason: Text = ""
    business_benefit: Text = ""
    backout_plan: Text = ""
    expected_impact: ExpectedImpact | None = None
    related_changes: Refs = Field(default_factory=list)
    references: Refs = Field(default_factory=list)
    resources: Refs = Field(default_factory=list)


class ChangePatchIn(_RfcFields):
    """Only the fields given change; lists replace the stored ones."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    priority: ChangePriority | None = None
    requester: str | None = Field(default=None, max_length=200)
    cis: Refs | None = None
    ci_versions: dict[str, str] | None = None
    services: Refs | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    reason: Text | None = None
    business_benefit: Text | None = None
    backout_plan: Text | None = None
    expected_impact: ExpectedImpact | None = None
    related_changes: Refs | None = None
    references: Refs | None = None
    resources: Refs | None = None


class TransitionIn(_RfcFields):
    to: ChangeState = Field(description="The next state (a review: POST .../review).")
    note: Text = ""
    planned_start: datetime | None = Field(default=None, description="Set the window first.")
    planned_end: datetime | None = None


class ReviewIn(_RfcFields):
    outcome: ChangeOutcome
    note: Text = ""


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


# --- shared query parameters ---------------------------------------------------------------

Start = Annotated[datetime | None, Query(description="ISO 8601 (no zone: UTC); default now.")]
ChangeRef = Annotated[str, Query(description="id, kind=value or unique name")]


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
    ci_id = resolve_visible(store, vis, ci, where="ci").id if ci else None
    svc_id = resolve_visible(store, vis, service, where="service").id if service else None
    found = [
        c
        for c in store.list_changes(ci_id=ci_id)
        if readable(vis, c)
        and (not state or c.state in state)
        and (type is None or c.type is type)
        and (svc_id is None or svc_id in c.service_ids)
    ]
    found.sort(key=lambda c: c.id)
    return ChangeListOut(items=[change_out(store, vis, c) for c in found])


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
    return schedule_report(store, vis, start=start, end=end, days=days, service=service, ci=ci)


def schedule_report(
    store: GraphStore,
    vis: Visibility,
    *,
    start: datetime | None,
    end: datetime | None,
    days: int,
    service: str | None,
    ci: str | None,
) -> ScheduleOut:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}", where="days")
    t0 = instant(start) or now()
    t1 = instant(end) or t0 + timedelta(days=days)
    if t1 <= t0:
        raise InvalidInput("the period must end after it starts", where="end")
    svc_id = resolve_visible(store, vis, service, where="service").id if service else None
    ci_id = resolve_visible(store, vis, ci, where="ci").id if ci else None
    changes = [c for c in store.list_changes() if readable(vis, c)]
    by_id = {c.id: c for c in changes}
    planner = Planner(store, t0)
    rows = planner.schedule(changes, t0, t1, service=svc_id, ci=ci_id)
    items: list[ScheduleRowOut] = []
    for row in rows:
        ch = by_id[row.id]
        assert ch.planned_start is not None and ch.planned_end is not None
        report = planner.impact(ch.ci_ids, (ch.planned_start, ch.planned_end))
        hits = [s for s in (report.services if report else []) if s.severity != "up"]
        items.append(
            ScheduleRowOut(
                id=ch.id,
                title=ch.title,
                type=ch.type,
                state=ch.state,
                start=ch.planned_start,
                end=ch.planned_end,
                risk=row.risk,
                approval=row.approval,
                cis=[RefOut(id=c, name=planner.ci(c).name) for c in vis.keep(ch.ci_ids)],
                services=[
                    ServiceHitOut(id=s.id, name=s.name, severity=s.severity)
                    for s in hits
                    if vis.allows(s.id)
                ],
            )
        )
    return ScheduleOut(start=t0, end=t1, items=items)


def _hidden_names(vis: Visibility, reports: list[ImpactReport | None]) -> set[str]:
    """Names of the CIs and services in ``reports`` the caller may not see."""
    names: set[str] = set()
    for r in reports:
        if r is None:
            continue
        names |= {s.name for s in r.services if not vis.allows(s.id)}
        names |= {c.name for c in r.cis if not vis.allows(c.id)}
    return names


def window_for(col: Collision, a: Change, at: datetime) -> tuple[datetime, datetime]:
    if col.start is not None and col.end is not None:
        return col.start, col.end
    if a.planned_start is not None and a.planned_end is not None:
        return a.planned_start, a.planned_end
    return at, at + timedelta(hours=1)


def collision_report(
    store: GraphStore, vis: Visibility, only: str | None, at: datetime
) -> CollisionsOut:
    """Collisions and violations of the changes the caller sees (``only``: one change's);
    a scoped caller is not shown one whose subjects include anything outside its view."""
    every = store.list_changes()
    changes = [c for c in every if readable(vis, c)]
    planner = Planner(store, at)
    found = planner.collisions(changes, only=only)
    viol = [
        v
        for c in changes
        if only in (None, c.id) and c.state in OPEN_STATES
        for v in planner.violations(c)
        if vis.allows(v.service_id)
    ]
    if not vis.unrestricted:
        by_id = {c.id: c for c in changes}
        kept: list[Collision] = []
        for col in found:
            a, b = by_id[col.a], by_id[col.b]
            window = window_for(col, a, at)
            reports = [
                planner.impact(a.ci_ids, window),
                planner.impact(b.ci_ids, window),
                planner.impact([*a.ci_ids, *b.ci_ids], window),
            ]
            hidden = _hidden_names(vis, reports)
            hidden |= {planner.ci(i).name for i in named(a) + named(b) if not vis.allows(i)}
            if not hidden & set(col.subjects):
                kept.append(col)
        found = kept
    return CollisionsOut(
        collisions=[CollisionOut.model_validate(c.model_dump()) for c in found],
        violations=[ViolationOut.model_validate(v.model_dump()) for v in viol],
    )


@router.get("/collisions", operation_id="listChangeCollisions", response_model=CollisionsOut)
async def list_change_collisions(_: Reader, store: Store, vis: Visible) -> CollisionsOut:
    """Clashes between open changes whose windows overlap (same CI, parent and child, a
    joint quorum break or service hit, the same service), and every blackout,
    maintenance-window and service-hour violation."""
    return await run_in_threadpool(collision_report, store, vis, None, now())


@router.get("/{change_id}", operation_id="getChange", response_model=ChangeOut)
def get_change(change_id: str, _: Reader, store: Store, vis: Visible) -> ChangeOut:
    """One RFC with its log and the states it may go to next."""
    return change_out(store, vis, visible_change(store, vis, change_id))


@router.get(
    "/{change_id}/collisions", operation_id="getChangeCollisions", response_model=CollisionsOut
)
async def get_change_collisions(
    change_id: str, _: Reader, store: Store, vis: Visible
) -> CollisionsOut:
    """This change's clashes with others, and its window violations."""

    def work() -> CollisionsOut:
        visible_change(store, vis, change_id)
        return collision_report(store, vis, change_id, now())

    return await run_in_threadpool(work)


@router.get("/{change_id}/risk", operation_id="getChangeRisk", response_model=AssessmentOut)
def get_change_risk(
    change_id: str, _: Reader, store: Store, vis: Visible, settings: SettingsDep
) -> AssessmentOut:
    """The change's risk as it would be assessed now, every rule and why; nothing is
    recorded (POST .../assess records it)."""
    change = visible_change(store, vis, change_id)
    result = assess(store, change, policy_of(settings), now())
    return AssessmentOut.model_validate(assessment_seen(vis.ids, result).model_dump())


MAX_MINUTES = 7 * 24 * 60


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
    return suggest_window(store, vis, settings, change_id, minutes=minutes, start=start, days=days)


def suggest_window(
    store: GraphStore,
    vis: Visibility,
    settings: Settings,
    change_id: str,
    *,
    minutes: int,
    start: datetime | None,
    days: int | None,
) -> SuggestionOut:
    """The answer of GET .../suggest-window (GraphQL's suggestChangeWindow too), trimmed
    to what the caller sees: the services it respects and the changes it kept clear of."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidInput(f"minutes must be between 1 and {MAX_MINUTES}", where="minutes")
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}", where="days")
    change = visible_change(store, vis, change_id)
    t0 = instant(start) or now()
    horizon = timedelta(days=days or policy_of(settings).suggest_horizon_days)
    planner = Planner(store, t0)
    duration = timedelta(minutes=minutes)
    got = planner.suggest(change, store.list_changes(), duration, t0, horizon)
    if not vis.unrestricted:
        hidden = _hidden_names(vis, [planner.impact(change.ci_ids, (t0, t0 + duration))])
        got = got.model_copy(
            update={
                "services": [s for s in got.services if s.rsplit(" (", 1)[0] not in hidden],
                "avoided": [a for a in got.avoided if readable(vis, store.get_change(a))],
            }
        )
    return SuggestionOut.model_validate(got.model_dump())


# --- writing -------------------------------------------------------------------------------


def _resolve(store: GraphStore, vis: Visibility, refs: list[str], where: str) -> list[str]:
    return list(
        dict.fromkeys(
            resolve_visible(store, vis, r, where=f"{where}.{i}").id for i, r in enumerate(refs)
        )
    )


def _versions(store: GraphStore, vis: Visibility, versions: dict[str, str]) -> dict[str, str]:
    return {
        resolve_visible(store, vis, ref, where=f"ci_versions.{ref}").id: v
        for ref, v in versions.items()
    }


@router.post("", operation_id="createChange", status_code=201, response_model=ChangeOut)
def create_change_route(
    body: ChangeIn, request: Request, store: Store, principal: Editor, vis: Visible
) -> ChangeOut:
    """Raise an RFC (a draft). CIs and services are named as everywhere else."""
    return create_rfc(stamped(store, request), vis, principal.name, body)


def create_rfc(store: GraphStore, vis: Visibility, actor: str, body: ChangeIn) -> ChangeOut:
    """The write behind POST /changes (GraphQL's createChange too); ``store`` stamped."""
    cis = _resolve(store, vis, body.cis, "cis")
    versions = _versions(store, vis, body.ci_versions)
    services = _resolve(store, vis, body.services, "services")
    data = body.model_dump(exclude={"cis", "services", "ci_versions"})
    data |= {
        "requester": body.requester or actor,
        "ci_ids": list(dict.fromkeys([*cis, *versions])),
        "ci_versions": versions,
        "service_ids": services,
    }
    change = validated(Change, data, where="body")
    check_writable(vis, change, "raise it")
    made = create_change(store, change, actor=actor, now=now())
    return change_out(store, vis, made)


def _writable_change(store: GraphStore, vis: Visibility, change_id: str, what: str) -> Change:
    change = visible_change(store, vis, change_id)
    check_writable(vis, change, what)
    return change


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
    return update_rfc(stamped(store, request), vis, principal.name, change_id, body)


def update_rfc(
    store: GraphStore, vis: Visibility, actor: str, change_id: str, body: ChangePatchIn
) -> ChangeOut:
    """The write behind PATCH /changes/{id} (GraphQL's updateChange too); ``store``
    stamped. Only the fields set in ``body`` change; its lists replace the stored ones."""
    change = _writable_change(store, vis, change_id, "amend it")
    given = body.model_dump(include=body.model_fields_set)
    if not given:
        raise InvalidInput("nothing to change: give at least one field", where="body")
    fields: dict[str, object] = {
        k: v for k, v in given.items() if k not in ("cis", "services", "ci_versions")
    }
    if body.cis is not None:
        fields["ci_ids"] = _resolve(store, vis, body.cis, "cis")
    if body.services is not None:
        fields["service_ids"] = _resolve(store, vis, body.services, "services")
    if body.ci_versions is not None:
        versions = _versions(store, vis, body.ci_versions)
        fields["ci_versions"] = versions
        ids = fields.get("ci_ids", change.ci_ids)
        assert isinstance(ids, list)
        fields["ci_ids"] = list(dict.fromkeys([*ids, *versions]))
    candidate = validated(Change, {**change.model_dump(), **fields}, where="body")
    check_writable(vis, candidate, "name CIs outside it")
    updated = update_change(store, change_id, fields, actor=actor)
    return change_out(store, vis, updated)


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
    return transition_rfc(
        stamped(store, request),
        vis,
        principal.name,
        change_id,
        body,
        authority_of(principal),
        policy_of(settings),
    )


def authority_of(principal: Principal) -> ApprovalLevel:
    """The caller's change authority; Forbidden for a role without one. (An API caller is
    never the unrestricted operator, which is what no authority means to the practice.)"""
    held = role_authority(principal.role)
    if held is None:
        raise Forbidden(f"the {principal.role.value} role holds no change authority")
    return held


def transition_rfc(
    store: GraphStore,
    vis: Visibility,
    actor: str,
    change_id: str,
    body: TransitionIn,
    authority: ApprovalLevel,
    policy: Policy,
) -> ChangeOut:
    """The write behind POST .../transition (GraphQL's transitionChange too); ``store``
    stamped. ``policy`` assesses a standard change authorised without an assessment."""
    _writable_change(store, vis, change_id, "move it")
    if body.to is ChangeState.REVIEWED:
        raise InvalidInput(
            "a review records an outcome: POST /changes/{change_id}/review", where="to"
        )
    moved = practice_transition(
        store,
        change_id,
        body.to,
        actor=actor,
        now=now(),
        note=body.note,
        window=(body.planned_start, body.planned_end),
        authority=authority,
        policy=policy,
    )
    return change_out(store, vis, moved)


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
    return assess_rfc(stamped(store, request), vis, principal.name, change_id, policy_of(settings))


def assess_rfc(
    store: GraphStore, vis: Visibility, actor: str, change_id: str, policy: Policy
) -> AssessOut:
    _writable_change(store, vis, change_id, "assess it")
    changed, result = assess_change(store, change_id, policy, actor=actor, now=now())
    return AssessOut(
        change=change_out(store, vis, changed),
        assessment=AssessmentOut.model_validate(assessment_seen(vis.ids, result).model_dump()),
    )


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
    return review_rfc(
        stamped(store, request), vis, principal.name, change_id, body, policy_of(settings)
    )


def review_rfc(
    store: GraphStore,
    vis: Visibility,
    actor: str,
    change_id: str,
    body: ReviewIn,
    policy: Policy,
) -> ReviewOut:
    _writable_change(store, vis, change_id, "review it")
    reviewed, linked = review_change(
        store,
        change_id,
        body.outcome,
        policy,
        actor=actor,
        now=now(),
        note=body.note,
        # A scoped caller links only incidents it reads: it never writes a record it
        # could not see.
        may_link=None if vis.unrestricted else (lambda inc: readable(vis, inc)),
    )
    return ReviewOut(
        change=change_out(store, vis, reviewed),
        linked_incidents=[i.id for i in linked if readable(vis, i)],
    )
