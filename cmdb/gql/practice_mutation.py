# mypy: disable-error-code="untyped-decorator"
# (strawberry.mutation(...) with arguments is typed as returning Any without its mypy plugin)
"""Mutations for changes and incidents (``Mutation`` inherits ``PracticeMutation``).

Each one needs the edit permission (change managers, the CAB, the change board and admins)
and runs the same write as its REST route (cmdb/api/routers/changes.py, incidents.py): the
same validation, the same scope rules, the same approval levels, the same history rows
(stamped with the request id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import strawberry

from cmdb.api.routers._shared import _Stamped, validated
from cmdb.api.routers.changes import (
    ChangeIn,
    ReviewIn,
    TransitionIn,
    assess_rfc,
    authority_of,
    create_rfc,
    policy_of,
    review_rfc,
    transition_rfc,
)
from cmdb.api.routers.incidents import (
    IncidentIn,
    PriorityIn,
    ResolveIn,
    open_for,
    prioritise_for,
    resolve_for,
)
from cmdb.auth.roles import Permission
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
from cmdb.store.contract import GraphStore


@strawberry.input(name="ChangeInput", description="A new RFC (a draft); CIs and services by "
    "id, kind=value or unique name.")  # fmt: skip
class ChangeInput:
    id: str
    title: str
    type: ChangeType = ChangeType.NORMAL
    priority: ChangePriority = ChangePriority.NORMAL
    requester: str = strawberry.field(default="", description="default: the caller")
    cis: list[str] = strawberry.field(default_factory=list)
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


async def _write(info: PInfo, fn: Any, *args: Any) -> Any:
    ctx = info.context
    principal = ctx.require(Permission.EDIT)
    vis = await ctx.visibility()
    store = cast(GraphStore, _Stamped(ctx.store, ctx.request_id))
    return await ctx.call(fn, store, vis, principal.name, *args)


@strawberry.type
class PracticeMutation:
    @strawberry.mutation(description="Raise an RFC (a draft).")
    async def create_change(self, info: PInfo, input: ChangeInput) -> ChangeRecordType:
        body = validated(ChangeIn, dict(vars(input)), where="input")
        return cast(ChangeRecordType, await _write(info, create_rfc, body))

    @strawberry.mutation(
        description="One step of a change's lifecycle (an illegal one names the allowed next "
        "states); scheduling may set the window in the same step. Authorising a change, or "
        "rejecting an assessed one, needs a role whose change authority covers the approval "
        "it needs (FORBIDDEN otherwise)."
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
            TransitionIn,
            {"to": to, "note": note, "planned_start": planned_start, "planned_end": planned_end},
        )
        # Deciding the change needs the caller's change authority, which only its role gives.
        principal = info.context.require(Permission.EDIT)
        authority = authority_of(principal)
        got = await _write(info, transition_rfc, str(id), body, authority)
        return cast(ChangeRecordType, got)

    @strawberry.mutation(
        description="Assess a change's risk and record it (a draft moves to assessed); the "
        "explanation is the change's `assessment` field."
    )
    async def assess_change(self, info: PInfo, id: strawberry.ID) -> ChangeRecordType:
        policy = policy_of(info.context.settings)
        got = await _write(info, assess_rfc, str(id), policy)
        return cast(ChangeRecordType, got.change)

    @strawberry.mutation(
        description="Post-implementation review: the outcome, and the incidents opened on "
        "impacted CIs during the change or soon after, linked both ways (`incidentIds`)."
    )
    async def review_change(
        self, info: PInfo, id: strawberry.ID, outcome: ChangeOutcome, note: str = ""
    ) -> ChangeRecordType:
        body = validated(ReviewIn, {"outcome": outcome, "note": note})
        policy = policy_of(info.context.settings)
        got = await _write(info, review_rfc, str(id), body, policy)
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
            IncidentIn,
            {
                "id": str(id),
                "title": title,
                "cis": cis,
                "urgency": urgency,
                "impact": impact,
                "opened_at": opened_at,
            },
        )
        policy = policy_of(info.context.settings)
        return cast(IncidentType, await _write(info, open_for, body, policy))

    @strawberry.mutation(description="Re-prioritise an incident from a new impact and/or urgency.")
    async def prioritise_incident(
        self,
        info: PInfo,
        id: strawberry.ID,
        impact: Level | None = None,
        urgency: Level | None = None,
    ) -> IncidentType:
        body = validated(PriorityIn, {"impact": impact, "urgency": urgency})
        policy = policy_of(info.context.settings)
        return cast(IncidentType, await _write(info, prioritise_for, str(id), body, policy))

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
        body = validated(ResolveIn, {"responded_only": responded_only, "at": at})
        return cast(IncidentType, await _write(info, resolve_for, str(id), body))
