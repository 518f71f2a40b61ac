# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""The Mutation root: CI and relationship edits, and discovery pushes.

Edits have the CLI's semantics (``cmdb ci add|retire``, ``cmdb rel add|retire``): one
change set per mutation, written with the caller's name as actor and ``graphql`` as
source, so history says who did what from where. A role without the permission gets
FORBIDDEN before anything is read or written. A service-scoped token edits only CIs
inside its scope and cannot create CIs or push inventories (either could reach beyond).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from cmdb.app import cis, discovery
from cmdb.app.caller import Caller
from cmdb.app.scope import Visibility
from cmdb.auth.roles import Permission
from cmdb.domain.errors import Forbidden, InvalidInput
from cmdb.domain.model import Criticality, LifecycleStatus
from cmdb.gql.context import GqlContext
from cmdb.gql.practice_mutation import PracticeMutation
from cmdb.gql.problems import ProblemMutation
from cmdb.gql.proposal_merge import ProposalMergeMutation
from cmdb.gql.proposals import ProposalsMutation
from cmdb.gql.types import CIType, GInfo, RelType, to_gql
from cmdb.gql.webhooks import WebhooksMutation

SOURCE = "graphql"
# An input's field is "input.<field>"; a store's refusal names the change set's operation.
WORDS = cis.Words(fields="input", ci_class="input.class", body=False)


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class RetireStatus(StrEnum):
    WITHDRAWN = "withdrawn"
    DISPOSED = "disposed"


strawberry.enum(Outcome, name="Outcome")
strawberry.enum(RetireStatus, name="RetireStatus")


@strawberry.input(name="CIInput", description="Create a CI, or update the one id or a "
    "unique identifier points at. Only the fields given are written; attributes merge "
    "key by key (null removes a key). Without id or unique identifier the CI is keyed "
    "key=<class>:<name>, so the same input twice changes nothing.")  # fmt: skip
class CIInput:
    ci_class: str = strawberry.field(name="class")
    name: str
    id: str | None = None
    identifiers: list[str] | None = strawberry.field(default=None, description="KIND=VALUE")
    attributes: JSON | None = None
    description: str | None = None
    status: LifecycleStatus | None = None
    owner: str | None = None
    location: str | None = None
    version: str | None = None
    environment: str | None = None
    criticality: Criticality | None = None

    def fields(self) -> dict[str, Any]:
        """The upsert's fields as given (cmdb.app.cis checks and keys them)."""
        attrs: object = self.attributes if self.attributes is not None else {}
        if not isinstance(attrs, dict):
            raise InvalidInput("attributes must be an object", where="input.attributes")
        fields: dict[str, Any] = {
            "class": self.ci_class,
            "name": self.name,
            "identifiers": list(self.identifiers or []),
            "attributes": attrs,
        }
        if self.id is not None:
            fields["id"] = self.id
        given = {
            "description": self.description,
            "status": self.status,
            "owner": self.owner,
            "location": self.location,
            "version": self.version,
            "environment": self.environment,
            "criticality": self.criticality,
        }
        fields.update({k: v for k, v in given.items() if v is not None})
        return fields


@strawberry.type(name="CIResult")
class CIResultType:
    outcome: Outcome
    ci: CIType


@strawberry.type(name="RetireCIResult")
class RetireCIResultType:
    retired: bool = strawberry.field(description="false: it was already retired")
    ci: CIType


@strawberry.type(name="RelationshipResult")
class RelationshipResultType:
    outcome: Outcome
    relationship: RelType


@strawberry.type(name="RetireRelationshipResult")
class RetireRelationshipResultType:
    retired: bool = strawberry.field(description="false: it was already retired")


@strawberry.type(name="DiscoveryRunResult")
class DiscoveryRunResultType:
    run_id: str
    status: str
    dry_run: bool
    summary: JSON = strawberry.field(description="created, updated, unchanged, stale, ...")
    report: JSON = strawberry.field(description="the whole run report")


async def _as_caller(ctx: GqlContext, permission: Permission) -> tuple[Caller, Visibility]:
    """The permission checked first (before anything is read), then the caller's view."""
    principal = ctx.require(permission)
    return Caller(principal, ctx.request_id, SOURCE), await ctx.visibility()


@strawberry.type
class Mutation(
    PracticeMutation, ProblemMutation, WebhooksMutation, ProposalsMutation, ProposalMergeMutation
):
    @strawberry.mutation(description="Create or update a CI (needs the edit permission).")
    async def upsert_ci(self, info: GInfo, input: CIInput) -> CIResultType:
        ctx = info.context
        caller, vis = await _as_caller(ctx, Permission.EDIT)
        try:
            done = await ctx.call(cis.upsert, ctx.store, caller, vis, input.fields(), WORDS)
        except cis.OutsideScope:
            # GraphQL's word for it; as in REST, a CI outside the view reads as a new one.
            raise Forbidden("a service-scoped token cannot create CIs") from None
        return CIResultType(outcome=Outcome(done.outcome), ci=to_gql(done.ci))

    @strawberry.mutation(description="Retire a CI; its record and history stay.")
    async def retire_ci(
        self, info: GInfo, ref: str, status: RetireStatus = RetireStatus.WITHDRAWN
    ) -> RetireCIResultType:
        ctx = info.context
        caller, vis = await _as_caller(ctx, Permission.EDIT)
        status_ = LifecycleStatus(status.value)
        done = await ctx.call(cis.retire, ctx.store, caller, vis, ref, status_, WORDS)
        return RetireCIResultType(retired=done.outcome == "retired", ci=to_gql(done.ci))

    @strawberry.mutation(
        description="Relate two CIs: type is a name (DEPENDS_ON) or a phrase either way "
        '("depends on", "used by": a reverse phrase swaps the ends).'
    )
    async def upsert_relationship(
        self,
        info: GInfo,
        source: str,
        type: str,
        target: str,
        confidence: float | None = None,
        attributes: JSON | None = None,
    ) -> RelationshipResultType:
        ctx = info.context
        caller, vis = await _as_caller(ctx, Permission.EDIT)
        if attributes is not None and not isinstance(attributes, dict):
            raise InvalidInput("attributes must be an object", where="attributes")
        _, done = await ctx.call(
            cis.relate, ctx.store, caller, vis, source, type, target,
            confidence=confidence, attributes=cast(dict[str, Any], attributes or {}),
            words=WORDS,
        )  # fmt: skip
        return RelationshipResultType(
            outcome=Outcome(done.outcome), relationship=cast(RelType, done.relationship)
        )

    @strawberry.mutation(description="Retire a relationship; it stays in history and as-of.")
    async def retire_relationship(
        self, info: GInfo, source: str, type: str, target: str
    ) -> RetireRelationshipResultType:
        ctx = info.context
        caller, vis = await _as_caller(ctx, Permission.EDIT)
        _, outcome = await ctx.call(
            cis.unrelate, ctx.store, caller, vis, source, type, target, WORDS
        )
        return RetireRelationshipResultType(retired=outcome == "retired")

    @strawberry.mutation(
        description="Push an inventory (needs the discover permission): the payload as "
        "text in one of the discovery formats, reconciled as one run of `source`."
    )
    async def push_discovery(
        self,
        info: GInfo,
        format: str,
        payload: str,
        source: str,
        scope: str | None = None,
        dry_run: bool = False,
        filename: str | None = None,
    ) -> DiscoveryRunResultType:
        ctx = info.context
        caller = Caller(ctx.require(Permission.DISCOVER), ctx.request_id, SOURCE)
        # The argument is required here (REST defaults it to the format): blank is no name.
        if not source.strip():
            raise InvalidInput("a push needs a source name", where="source")
        report = await ctx.call(
            discovery.push, ctx.store, caller, ctx.settings, payload.encode(), fmt=format,
            source=source.strip(), scope=scope, dry_run=dry_run, filename=filename,
            payload_is="payload",
        )  # fmt: skip
        return DiscoveryRunResultType(
            run_id=report.run.id,
            status=report.run.status.value,
            dry_run=report.run.dry_run,
            summary=cast(JSON, report.summary()),
            report=cast(JSON, report.model_dump(mode="json")),
        )
