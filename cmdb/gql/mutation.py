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

from datetime import timedelta
from enum import StrEnum
from typing import Any, cast

import strawberry
from pydantic import ValidationError
from strawberry.scalars import JSON

from cmdb.auth.roles import Permission
from cmdb.domain.changeset import (
    ApplyResult,
    ChangeSet,
    CIRef,
    CIRetire,
    CIUpsert,
    RelRetire,
    RelUpsert,
)
from cmdb.domain.classes import check_class
from cmdb.domain.errors import Forbidden, InvalidInput, NotFound
from cmdb.domain.identifiers import Identifier, natural_key
from cmdb.domain.model import CI, Criticality, LifecycleStatus
from cmdb.domain.relationships import parse_phrase
from cmdb.gql.context import GqlContext
from cmdb.gql.practice_mutation import PracticeMutation
from cmdb.gql.problems import ProblemMutation
from cmdb.gql.query import resolve_ref
from cmdb.gql.types import CIType, GInfo, RelType, to_gql
from discovery.reconcile.policy import load_precedence
from discovery.reconcile.service import ingest_payload

SOURCE = "graphql"


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class RetireStatus(StrEnum):
    WITHDRAWN = "withdrawn"
    DISPOSED = "disposed"


strawberry.enum(Outcome, name="Outcome")
strawberry.enum(RetireStatus, name="RetireStatus")


def invalid(exc: ValidationError) -> InvalidInput:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    return InvalidInput(msg, where=f"input.{loc}" if loc else "input")


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

    def to_upsert(self) -> CIUpsert:
        check_class(self.ci_class, where="input.class")
        idents = [Identifier.parse(t) for t in self.identifiers or []]
        if self.id is None and not any(i.unique for i in idents):
            idents.append(natural_key(self.ci_class, self.name))
        attrs: object = self.attributes if self.attributes is not None else {}
        if not isinstance(attrs, dict):
            raise InvalidInput("attributes must be an object", where="input.attributes")
        fields: dict[str, Any] = {
            "class": self.ci_class,
            "name": self.name,
            "identifiers": idents,
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
        try:
            return CIUpsert.model_validate(fields)
        except ValidationError as exc:
            raise invalid(exc) from exc


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


def _apply(ctx: GqlContext, **ops: Any) -> ApplyResult:
    cs = ChangeSet(actor=ctx.principal.name, source=SOURCE, request_id=ctx.request_id, **ops)
    return ctx.store.apply(cs)


def _outcome(created: int, updated: int) -> Outcome:
    return Outcome.CREATED if created else Outcome.UPDATED if updated else Outcome.UNCHANGED


async def _existing(ctx: GqlContext, up: CIUpsert) -> CI | None:
    """The CI an upsert would write to, if it exists (for the scope check)."""
    if up.id is not None:
        try:
            return await ctx.call(ctx.store.get_ci, up.id)
        except NotFound:
            return None
    unique = [i for i in up.identifiers if i.unique]
    hits = await ctx.call(ctx.store.find_by_identifiers, unique)
    for ident in unique:
        if hits.get(ident):
            return hits[ident][0]
    return None


@strawberry.type
class Mutation(PracticeMutation, ProblemMutation):
    @strawberry.mutation(description="Create or update a CI (needs the edit permission).")
    async def upsert_ci(self, info: GInfo, input: CIInput) -> CIResultType:
        ctx = info.context
        principal = ctx.require(Permission.EDIT)
        up = input.to_upsert()
        if principal.scoped:
            target = await _existing(ctx, up)
            if target is None:
                raise Forbidden("a service-scoped token cannot create CIs")
            await ctx.ensure_visible(target.id, where="input")
        result = await ctx.call(_apply, ctx, ci_upserts=[up])
        ci = await ctx.call(ctx.store.get_ci, result.ci_ids[0])
        return CIResultType(outcome=_outcome(result.created, result.updated), ci=to_gql(ci))

    @strawberry.mutation(description="Retire a CI; its record and history stay.")
    async def retire_ci(
        self, info: GInfo, ref: str, status: RetireStatus = RetireStatus.WITHDRAWN
    ) -> RetireCIResultType:
        ctx = info.context
        ctx.require(Permission.EDIT)
        ci = await resolve_ref(ctx, ref, where="ref")
        op = CIRetire(ref=CIRef(id=ci.id), status=LifecycleStatus(status.value))
        result = await ctx.call(_apply, ctx, ci_retires=[op])
        ci = await ctx.call(ctx.store.get_ci, ci.id)
        return RetireCIResultType(retired=bool(result.retired), ci=to_gql(ci))

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
        ctx.require(Permission.EDIT)
        rtype, s, t = await _ends(ctx, source, type, target)
        if attributes is not None and not isinstance(attributes, dict):
            raise InvalidInput("attributes must be an object", where="attributes")
        try:
            op = RelUpsert(
                type=rtype,
                source=CIRef(id=s.id),
                target=CIRef(id=t.id),
                confidence=confidence,
                attributes=cast(dict[str, Any], attributes or {}),
            )
        except ValidationError as exc:
            raise invalid(exc) from exc
        result = await ctx.call(_apply, ctx, rel_upserts=[op])
        rel = await ctx.call(ctx.store.get_relationship, result.rel_ids[0])
        return RelationshipResultType(
            outcome=_outcome(result.rels_created, result.rels_updated),
            relationship=cast(RelType, rel),
        )

    @strawberry.mutation(description="Retire a relationship; it stays in history and as-of.")
    async def retire_relationship(
        self, info: GInfo, source: str, type: str, target: str
    ) -> RetireRelationshipResultType:
        ctx = info.context
        ctx.require(Permission.EDIT)
        rtype, s, t = await _ends(ctx, source, type, target)
        op = RelRetire(type=rtype, source=CIRef(id=s.id), target=CIRef(id=t.id))
        result = await ctx.call(_apply, ctx, rel_retires=[op])
        return RetireRelationshipResultType(retired=bool(result.rels_retired))

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
        principal = ctx.require(Permission.DISCOVER)
        if principal.scoped:
            raise Forbidden("a service-scoped token cannot push inventories")
        if not source.strip():
            raise InvalidInput("a push needs a source name", where="source")
        settings = ctx.settings
        policy = settings.discovery_precedence_file
        report = await ctx.call(
            ingest_payload,
            ctx.store,
            payload.encode(),
            fmt=format,
            source=source.strip(),
            scope=scope,
            dry_run=dry_run,
            filename=filename,
            actor=principal.name,
            precedence=load_precedence(policy) if policy is not None else None,
            stale_after_runs=settings.discovery_stale_after_runs,
            touch_after=timedelta(seconds=settings.discovery_touch_after_s),
        )
        return DiscoveryRunResultType(
            run_id=report.run.id,
            status=report.run.status.value,
            dry_run=report.run.dry_run,
            summary=cast(JSON, report.summary()),
            report=cast(JSON, report.model_dump(mode="json")),
        )


async def _ends(ctx: GqlContext, source: str, phrase: str, target: str) -> tuple[str, CI, CI]:
    rtype, reverse = parse_phrase(phrase)
    s = await resolve_ref(ctx, source, where="source")
    t = await resolve_ref(ctx, target, where="target")
    return (rtype.name, t, s) if reverse else (rtype.name, s, t)
