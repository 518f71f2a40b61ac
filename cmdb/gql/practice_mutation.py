# mypy: disable-error-code="untyped-decorator"
# (strawberry.mutation(...) with arguments is typed as returning Any without its mypy plugin)
"""Mutations for changes and incidents (``Mutation`` inherits ``PracticeMutation``).

Each one needs the edit permission (change managers, the CAB, the change board and admins)
and runs the same use case as its REST route (cmdb/app/changes.py, incidents.py): the
same validation, the same scope rules, the same approval levels, the same history rows
(stamped with the request id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import strawberry

from cmdb.app import changes, incidents
from cmdb.app.caller import Caller
from cmdb.app.change_inputs import ChangePatch, ChangeReview, ChangeStep, NewChange
from cmdb.app.changes import authority_of
from cmdb.app.incident_inputs import NewIncident, NewPriority, Resolution
from cmdb.app.inputs import validated
from cmdb.auth.roles import Permission
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import (
    ChangeOutcome,
    ChangePriority,
    ChangeState,
    ChangeType,
    ExpectedImpact,
    Level,
)
from cmdb.gql.practice import PInfo
from cmdb.gql.types import ChangeRecordType, IncidentType
from cmdb.practice.policy import Policy


@strawberry.input(name="CIVersionInput", description="The version a change brings to a CI "
    "(id, kind=value or unique name); the CI is among those it changes.")  # fmt: skip
class CIVersionInput:
    ci: str
    version: str


def _versions(given: list[CIVersionInput] | None) -> dict[str, str] | None:
    return None if given is None else {v.ci: v.version for v in given}


@strawberry.input(name="ChangeInput", description="A new RFC (a draft); CIs and services by "
    "id, kind=value or unique name.")  # fmt: skip
class ChangeInput:
    id: str
    title: str
    type: ChangeType = ChangeType.NORMAL
    priority: ChangePriority = ChangePriority.NORMAL
    requester: str = strawberry.field(default="", description="default: the caller")
    cis: list[str] = strawberry.field(default_factory=list)
    ci_versions: list[CIVersionInput] = strawberry.field(default_factory=list)
    services: list[str] = strawberry.field(default_factory=list)
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    reason: str = ""
    business_benefit: str = ""
    backout_plan: str = ""
    expected_impact: ExpectedImpact | None = None
    related_changes: list[str] = strawberry.field(default_factory=list)
    references: list[str] = strawberry.field(default_factory=list)
    resources: list[str] = strawberry.field(default_factory=list)


@strawberry.input(name="ChangeUpdateInput", description="What to amend (REST's PATCH "
    "/changes/{id}): only the fields given change, and the lists given replace the stored "
    "ones. The documentation until the change is closed; its CIs and window only as a "
    "draft or assessed (which drops the assessment), or for an emergency change.")  # fmt: skip
class ChangeUpdateInput:
    title: str | None = strawberry.UNSET
    priority: ChangePriority | None = strawberry.UNSET
    requester: str | None = strawberry.UNSET
    cis: list[str] | None = strawberry.UNSET
    ci_versions: list[CIVersionInput] | None = strawberry.field(
        default=strawberry.UNSET, description="its CIs join `cis`"
    )
    services: list[str] | None = strawberry.UNSET
    planned_start: datetime | None = strawberry.UNSET
    planned_end: datetime | None = strawberry.UNSET
    reason: str | None = strawberry.UNSET
    business_benefit: str | None = strawberry.UNSET
    backout_plan: str | None = strawberry.UNSET
    expected_impact: ExpectedImpact | None = strawberry.UNSET
    related_changes: list[str] | None = strawberry.UNSET
    references: list[str] | None = strawberry.UNSET
    resources: list[str] | None = strawberry.UNSET


async def _policy(info: PInfo) -> Policy:
    # The policy is a file read: off the event loop.
    return await info.context.call(changes.policy_of, info.context.settings)


async def _use_case(info: PInfo, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A use case (cmdb/app) that writes, called as the caller (its request id goes into
    history), with what it may see."""
    ctx = info.context
    principal = ctx.require(Permission.EDIT)
    vis = await ctx.visibility()
    caller = Caller(principal, ctx.request_id)
    return await ctx.call(fn, ctx.store, caller, vis, *args, **kwargs)


@strawberry.type
class PracticeMutation:
    @strawberry.mutation(description="Raise an RFC (a draft).")
    async def create_change(self, info: PInfo, input: ChangeInput) -> ChangeRecordType:
        given = {**vars(input), "ci_versions": _versions(input.ci_versions)}
        body = validated(NewChange, given, where="input")
        return cast(ChangeRecordType, await _use_case(info, changes.create, body))

    @strawberry.mutation(
        description="Amend an RFC (an emergency change is documented after the fact this "
        "way, so that it can be reviewed): the same fields and rules as REST's PATCH "
        "/changes/{id}; a scoped caller amends only a change wholly in its view, to name "
        "only what is in its view."
    )
    async def update_change(
        self, info: PInfo, id: strawberry.ID, input: ChangeUpdateInput
    ) -> ChangeRecordType:
        given = {k: v for k, v in vars(input).items() if v is not strawberry.UNSET}
        if not given:
            raise InvalidInput("nothing to change: give at least one field", where="input")
        if "ci_versions" in given:
            given["ci_versions"] = _versions(given["ci_versions"])
        body = validated(ChangePatch, given, where="input")
        return cast(ChangeRecordType, await _use_case(info, changes.update, str(id), body))

    @strawberry.mutation(
        description="One step of a change's lifecycle (an illegal one names the allowed next "
        "states); scheduling may set the window in the same step. Authorising a change, or "
        "rejecting an assessed one, needs a role whose change authority covers the approval "
        "it needs (FORBIDDEN otherwise); a standard change authorised unassessed is assessed "
        "in the same step, pre-approved only within the policy's ceiling."
    )
    async def transition_change(
        self,
        info: PInfo,
        id: strawberry.ID,
        to: ChangeState,
        note: str = "",
        planned_start: datetime | None = None,
        planned_end: datetime | None = None,
    ) -> ChangeRecordType:
        body = validated(
            ChangeStep,
            {"to": to, "note": note, "planned_start": planned_start, "planned_end": planned_end},
        )
        # Deciding the change needs the caller's change authority, which only its role gives.
        authority = authority_of(info.context.require(Permission.EDIT))
        policy = await _policy(info)
        got = await _use_case(info, changes.transition, str(id), body, policy, authority=authority)
        return cast(ChangeRecordType, got)

    @strawberry.mutation(
        description="Assess a change's risk and record it (a draft moves to assessed); the "
        "explanation is the change's `assessment` field."
    )
    async def assess_change(self, info: PInfo, id: strawberry.ID) -> ChangeRecordType:
        changed, _ = await _use_case(info, changes.assess, str(id), await _policy(info))
        return cast(ChangeRecordType, changed)

    @strawberry.mutation(
        description="Post-implementation review: the outcome, and the incidents opened on "
        "impacted CIs during the change or soon after, linked both ways (`incidentIds`)."
    )
    async def review_change(
        self, info: PInfo, id: strawberry.ID, outcome: ChangeOutcome, note: str = ""
    ) -> ChangeRecordType:
        body = validated(ChangeReview, {"outcome": outcome, "note": note})
        got = await _use_case(info, changes.review, str(id), body, await _policy(info))
        return cast(ChangeRecordType, got.change)

    @strawberry.mutation(
        description="Record an incident on failing CIs: impacted services, impact (default: "
        "from the impact engine), priority from impact and urgency; P1 is major."
    )
    async def open_incident(
        self,
        info: PInfo,
        id: strawberry.ID,
        title: str,
        cis: list[str],
        urgency: Level = Level.MEDIUM,
        impact: Level | None = None,
        opened_at: datetime | None = None,
    ) -> IncidentType:
        body = validated(
            NewIncident,
            {
                "id": str(id),
                "title": title,
                "cis": cis,
                "urgency": urgency,
                "impact": impact,
                "opened_at": opened_at,
            },
        )
        got = await _use_case(info, incidents.open_incident, body, await _policy(info))
        return cast(IncidentType, got)

    @strawberry.mutation(description="Re-prioritise an incident from a new impact and/or urgency.")
    async def prioritise_incident(
        self,
        info: PInfo,
        id: strawberry.ID,
        impact: Level | None = None,
        urgency: Level | None = None,
    ) -> IncidentType:
        body = validated(NewPriority, {"impact": impact, "urgency": urgency})
        policy = await _policy(info)
        got = await _use_case(info, incidents.prioritise, str(id), body, policy)
        return cast(IncidentType, got)

    @strawberry.mutation(
        description="Resolve an incident (stops both clocks), or only record the response."
    )
    async def resolve_incident(
        self,
        info: PInfo,
        id: strawberry.ID,
        responded_only: bool = False,
        at: datetime | None = None,
    ) -> IncidentType:
        body = validated(Resolution, {"responded_only": responded_only, "at": at})
        return cast(IncidentType, await _use_case(info, incidents.resolve, str(id), body))
