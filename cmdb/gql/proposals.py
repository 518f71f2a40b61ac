# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""What-if proposals in GraphQL: a change's proposal (a version of it) and its impact diff,
read through the use cases REST calls (cmdb/app/proposals.py, proposal_diff.py), with the
same scope: a service-scoped token reads the proposal of a change it reads, shown with
the edits whose CIs are in its view, and the diff of the services in its view; it stages
edits where it may write the change and sees every live CI an edit names. The mutations
need the edit permission.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from cmdb.app import proposal_diff, proposals
from cmdb.app.caller import Caller
from cmdb.app.scope import Visibility
from cmdb.auth.roles import Permission
from cmdb.domain.proposals import Proposal, ProposalState
from cmdb.gql.context import GqlContext

PInfo = Info[GqlContext, None]

strawberry.enum(ProposalState, name="ProposalState")


@strawberry.type(
    name="ProposalEditCheck", description="Whether an edit still applies to the live graph."
)
class ProposalEditCheckType:
    holds: bool = strawberry.field(description="it applies to the live graph as it is now")
    why: list[str] = strawberry.field(
        description="why not: each CI or relationship the live graph moved under it"
    )


@strawberry.type(name="ProposalEdit", description="One staged edit.")
class ProposalEditType:
    op: str = strawberry.field(
        description="add_ci, update_ci, retire_ci, add_rel, retire_rel or set_redundancy"
    )
    text: str = strawberry.field(description="the edit in words, CIs by id")
    ci_ids: list[str] = strawberry.field(description="the CIs it names (a new one's id)")
    base: datetime | None = strawberry.field(
        description="the live CI's updated_at when the edit was staged"
    )
    index: int = strawberry.field(
        description="its position in the whole proposal (a token scoped to services may be"
        " shown only some edits; removeProposalEdit and a conflict name this)"
    )
    validity: ProposalEditCheckType | None = strawberry.field(
        default=None,
        description="whether it still applies to the live graph now, and why not (the"
        " proposal query; none in a mutation's answer)",
    )


@strawberry.type(name="Proposal", description="A version of a change's what-if proposal.")
class ProposalType:
    id: strawberry.ID = strawberry.field(description="the change's id")
    version: int
    state: ProposalState
    note: str
    author: str
    at: datetime
    edits: list[ProposalEditType]


def _proposal(p: Proposal) -> ProposalType:
    if not isinstance(p, proposals.ShownProposal):
        # What a mutation wrote: its writer sees every CI it names (a scoped one may write
        # no other), so each edit's index is its position.
        p = proposals.shown(Visibility(), p)
    return ProposalType(
        id=strawberry.ID(p.id),
        version=p.version,
        state=p.state,
        note=p.note,
        author=p.author,
        at=p.at,
        edits=[
            ProposalEditType(
                op=e.op.value,
                text=e.describe(),
                ci_ids=e.touches(),
                base=e.base,
                index=e.index,
                validity=None
                if e.validity is None
                else ProposalEditCheckType(holds=e.validity.holds, why=e.validity.why),
            )
            for e in p.edits
        ],
    )


@strawberry.type(name="ProposalCI")
class ProposalCIType:
    id: str
    name: str
    ci_class: str


@strawberry.type(name="ProposalAvailability", description="A service's expected availability.")
class ProposalAvailabilityType:
    value: float
    exact: bool
    method: str
    lower: float
    upper: float
    basis: str = strawberry.field(description="what the figure rests on, as the engine says")
    target_percent: float | None
    breach_probability: float | None


@strawberry.type(name="ProposalComponent")
class ProposalComponentType:
    id: str
    name: str
    availability: float
    evidence: str = strawberry.field(description="observed, declared or default")
    basis: str


@strawberry.type(name="ProposalPath", description="An impact path from a cause to a service.")
class ProposalPathType:
    cause: str
    ci_ids: list[str]
    text: str


@strawberry.type(name="ProposalServiceDiff", description="One service, before and after.")
class ProposalServiceDiffType:
    id: str
    name: str
    criticality: str | None
    customers: list[str]
    sla: str | None
    sla_target_percent: float | None
    spofs_removed: list[ProposalCIType]
    spofs_introduced: list[ProposalCIType]
    availability_before: ProposalAvailabilityType | None = strawberry.field(
        description="none when the proposal leaves its whole dependency cone as it is"
    )
    availability_after: ProposalAvailabilityType | None
    components_added: list[ProposalComponentType]
    components_removed: list[ProposalComponentType]
    paths_appeared: list[ProposalPathType]
    paths_disappeared: list[ProposalPathType]
    changed: bool
    evaluated: bool


@strawberry.type(name="ProposalCollision", description="Another open proposal on the same CIs.")
class ProposalCollisionType:
    proposal: str
    version: int
    ci_ids: list[str]


@strawberry.type(name="ProposalDiff", description="A proposal's impact against the live graph.")
class ProposalDiffType:
    proposal: str
    version: int
    edits: int
    services: list[ProposalServiceDiffType]
    collisions: list[ProposalCollisionType]
    fetched_cis: int
    truncated: bool


Version = Annotated[int | None, strawberry.argument(description="a version (default: the latest)")]


@strawberry.type
class ProposalsQuery:
    @strawberry.field(description="A change's what-if proposal (its latest version).")
    async def proposal(
        self, info: PInfo, change: strawberry.ID, version: Version = None
    ) -> ProposalType:
        ctx = info.context
        vis = await ctx.visibility()
        got = await ctx.call(
            proposals.get, ctx.store, vis, str(change), version=version, check=True
        )
        return _proposal(got)

    @strawberry.field(
        description="A proposal's impact diff, nothing written: per service, SPOFs removed "
        "and introduced, availability before and after, paths, customers and SLA."
    )
    async def proposal_diff(
        self, info: PInfo, change: strawberry.ID, version: Version = None
    ) -> ProposalDiffType:
        ctx = info.context
        vis = await ctx.visibility()
        got = await ctx.call(proposal_diff.diff, ctx.store, vis, str(change), version=version)
        # The answer's objects carry the fields the types declare, by the same names.
        return cast(ProposalDiffType, got)


@strawberry.input(name="ProposalEditInput", description="One edit, as REST takes it.")
class ProposalEditInput:
    op: str = strawberry.field(
        description="add_ci, update_ci, retire_ci, add_rel, retire_rel or set_redundancy"
    )
    ci: JSON | None = strawberry.field(
        default=None, description="add_ci: the new CI's fields (class, name, ...; no id)"
    )
    ci_id: str | None = strawberry.field(
        default=None, description="update_ci, retire_ci, set_redundancy: the CI"
    )
    fields: JSON | None = strawberry.field(default=None, description="update_ci: what to set")
    min_up: int | None = strawberry.field(default=None, description="set_redundancy")
    min_up_percent: float | None = strawberry.field(default=None, description="set_redundancy")
    type: str | None = strawberry.field(default=None, description="add_rel, retire_rel")
    source_id: str | None = None
    target_id: str | None = None


def _given(edits: list[ProposalEditInput]) -> list[dict[str, Any]]:
    """The edits in the use case's shape (checked there, errors naming edits[i])."""
    out = []
    for e in edits:
        raw: dict[str, Any] = {
            "op": e.op,
            "ci": e.ci,
            "ci_id": e.ci_id,
            "fields": e.fields,
            "type": e.type,
            "source_id": e.source_id,
            "target_id": e.target_id,
        }
        if e.min_up is not None or e.min_up_percent is not None:
            raw["redundancy"] = {"min_up": e.min_up, "min_up_percent": e.min_up_percent}
        out.append({k: v for k, v in raw.items() if v is not None})
    return proposals.requested(out)


def _editor(info: PInfo) -> Caller:
    ctx = info.context
    return Caller(ctx.require(Permission.EDIT), ctx.request_id, "graphql")


@strawberry.type
class ProposalsMutation:
    @strawberry.mutation(
        description="A change's proposal with these edits (each checked; a bad one refused "
        "with why, nothing saved); a withdrawn one is opened again."
    )
    async def create_proposal(
        self,
        info: PInfo,
        change: strawberry.ID,
        edits: list[ProposalEditInput] | None = None,
        note: str = "",
    ) -> ProposalType:
        caller = _editor(info)
        ctx = info.context
        vis = await ctx.visibility()
        given = _given(edits or [])
        got = await ctx.call(
            proposals.create, ctx.store, vis, caller, str(change), given, note=note
        )
        return _proposal(got)

    @strawberry.mutation(description="A new version with these edits after the staged ones.")
    async def add_proposal_edits(
        self, info: PInfo, change: strawberry.ID, edits: list[ProposalEditInput], note: str = ""
    ) -> ProposalType:
        caller = _editor(info)
        ctx = info.context
        vis = await ctx.visibility()
        given = _given(edits)
        got = await ctx.call(
            proposals.add_edits, ctx.store, vis, caller, str(change), given, note=note
        )
        return _proposal(got)

    @strawberry.mutation(description="A new version without edit ``index``.")
    async def remove_proposal_edit(
        self, info: PInfo, change: strawberry.ID, index: int
    ) -> ProposalType:
        caller = _editor(info)
        ctx = info.context
        vis = await ctx.visibility()
        got = await ctx.call(proposals.remove_edit, ctx.store, vis, caller, str(change), index)
        return _proposal(got)

    @strawberry.mutation(description="Withdraw the proposal; its versions are kept.")
    async def withdraw_proposal(
        self, info: PInfo, change: strawberry.ID, note: str = ""
    ) -> ProposalType:
        caller = _editor(info)
        ctx = info.context
        vis = await ctx.visibility()
        got = await ctx.call(proposals.withdraw, ctx.store, vis, caller, str(change), note=note)
        return _proposal(got)
