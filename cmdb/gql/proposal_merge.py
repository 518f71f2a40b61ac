# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""Merging a proposal in GraphQL: ``proposalConflicts``, ``mergeProposal`` and
``rebaseProposal``, through the use cases REST and the CLI call
(cmdb/app/proposal_merge.py), with the same scope and the source-precedence policy of the
settings. A merge that conflicts is refused with one error listing every conflict; the
query gives the same list in fields.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from cmdb.app import proposal_merge
from cmdb.app.caller import Caller
from cmdb.auth.roles import Permission
from cmdb.gql.context import GqlContext
from cmdb.gql.proposals import ProposalType, _proposal

PInfo = Info[GqlContext, None]

strawberry.enum(proposal_merge.ConflictKind, name="ProposalConflictKind")


@strawberry.type(
    name="ProposalConflict",
    description="Something the live graph changed under an edit since it was staged.",
)
class ProposalConflictType:
    edit: int = strawberry.field(description="the edit's index in the proposal")
    kind: proposal_merge.ConflictKind = strawberry.field(
        description="what moved, which says what resolves it (decide by this, not by why)"
    )
    ci_id: str | None
    ci_name: str | None
    field: str = strawberry.field(description="a CI field, attributes.<key>, or relationship")
    proposed_on: JSON | None = strawberry.field(description="the value when it was staged")
    now: JSON | None = strawberry.field(description="the value in the live graph now")
    changed_by: str | None = strawberry.field(description="who changed it, from history")
    source: str | None
    reason: str | None
    changed_at: datetime | None
    why: str


@strawberry.type(name="ProposalMerge", description="A merged proposal and what it wrote.")
class ProposalMergeType:
    proposal: ProposalType = strawberry.field(description="the version marking it merged")
    reason: str = strawberry.field(description="what every history row of the merge carries")
    created: int
    updated: int
    retired: int
    rels_created: int
    rels_retired: int
    history_rows: int


@strawberry.type(name="ProposalRebase", description="A proposal rebased on the live graph.")
class ProposalRebaseType:
    proposal: ProposalType
    accepted: list[ProposalConflictType] = strawberry.field(
        description="the live changes the rebase accepted"
    )


def _conflict(c: proposal_merge.MergeConflict) -> ProposalConflictType:
    return ProposalConflictType(**c.model_dump())


async def _caller(info: PInfo, permission: Permission) -> Caller:
    ctx = info.context
    return Caller(ctx.require(permission), ctx.request_id, "graphql")


@strawberry.type
class ProposalMergeQuery:
    @strawberry.field(
        description="What would stop the proposal's merge now, nothing written: each edit "
        "whose CIs, fields or relationships changed since it was staged."
    )
    async def proposal_conflicts(
        self, info: PInfo, change: strawberry.ID
    ) -> list[ProposalConflictType]:
        caller = await _caller(info, Permission.READ)
        ctx = info.context
        vis = await ctx.visibility()
        got = await ctx.call(
            proposal_merge.conflicts,
            ctx.store,
            vis,
            caller,
            str(change),
            precedence=proposal_merge.precedence_of(ctx.settings),
        )
        return [_conflict(c) for c in got]


@strawberry.type
class ProposalMergeMutation:
    @strawberry.mutation(
        description="Write the proposal into the live graph as one change set (its change "
        "implemented) and mark it merged; a conflict refuses it, listing each, nothing written."
    )
    async def merge_proposal(self, info: PInfo, change: strawberry.ID) -> ProposalMergeType:
        caller = await _caller(info, Permission.EDIT)
        ctx = info.context
        vis = await ctx.visibility()
        done = await ctx.call(
            proposal_merge.merge,
            ctx.store,
            vis,
            caller,
            str(change),
            precedence=proposal_merge.precedence_of(ctx.settings),
        )
        counts = done.model_dump(exclude={"proposal", "reason"})
        return ProposalMergeType(proposal=_proposal(done.proposal), reason=done.reason, **counts)

    @strawberry.mutation(
        description="A new version whose edits take the live graph as it is now as their "
        "base (its conflicts accepted); an edit the live graph no longer allows is named."
    )
    async def rebase_proposal(self, info: PInfo, change: strawberry.ID) -> ProposalRebaseType:
        caller = await _caller(info, Permission.EDIT)
        ctx = info.context
        vis = await ctx.visibility()
        made, accepted = await ctx.call(
            proposal_merge.rebase,
            ctx.store,
            vis,
            caller,
            str(change),
            precedence=proposal_merge.precedence_of(ctx.settings),
        )
        return ProposalRebaseType(
            proposal=_proposal(made), accepted=[_conflict(c) for c in accepted]
        )
