# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""The Query root: CIs (one, a page, services and SLAs), history, records, the engine.

A CI reference is what the CLI takes: an id, ``kind=value``, ``Class:name`` or a unique
name. Anything outside a scoped caller's services answers "not found", like a CI that does
not exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, cast

import strawberry

from cmdb.app import impact as impact_app
from cmdb.app.changes import visible_change
from cmdb.app.impact import MAX_PATHS
from cmdb.app.inputs import resolve_visible
from cmdb.auth.roles import authority
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import CI, LifecycleStatus
from cmdb.domain.records import ApprovalLevel
from cmdb.domain.relationships import REGISTRY
from cmdb.domain.service import ServiceKind
from cmdb.gql.context import GqlContext
from cmdb.gql.impact_types import (
    AvailabilityResultType,
    CauseResultType,
    ImpactReportType,
    RecoveryPlanType,
    SpofResultType,
)
from cmdb.gql.practice import PracticeQuery
from cmdb.gql.problems import ProblemsQuery
from cmdb.gql.proposal_merge import ProposalMergeQuery
from cmdb.gql.proposals import ProposalsQuery
from cmdb.gql.reports import ReportsQuery
from cmdb.gql.types import (
    ChangeRecordType,
    CIType,
    GInfo,
    HistoryEntryType,
    IncidentType,
    RelationshipKindType,
    RelType,
    ServiceType,
    SLAType,
    scoped_record,
    to_gql,
)
from cmdb.gql.webhooks import WebhooksQuery
from cmdb.store.contract import CIFilter
from impact.severity import FailureMode

DEFAULT_PAGE = 100
MAX_CAUSES = 50


async def resolve_ref(
    ctx: GqlContext, ref: str, *, where: str, as_of: datetime | None = None
) -> CI:
    """The CI a reference names, if the caller may see it (as of ``as_of``): the one
    resolver every shell uses (cmdb.app.inputs), so a scoped caller's candidates and
    answers are the CLI's and REST's."""
    vis = await ctx.visibility()
    ci = await ctx.call(resolve_visible, ctx.store, vis, ref, where=where)
    if as_of is not None:
        ci = await ctx.call(ctx.store.get_ci, ci.id, as_of=as_of)
    return ci


async def resolve_refs(ctx: GqlContext, refs: list[str], *, where: str) -> list[CI]:
    if not refs:
        raise InvalidInput("give at least one CI", where=where)
    got = [await resolve_ref(ctx, r, where=where) for r in refs]
    return list({c.id: c for c in got}.values())


@strawberry.input(name="CIFilter", description="All given conditions must hold.")
class CIFilterInput:
    ci_class: str | None = strawberry.field(
        default=None, name="class", description="a class; includes its subclasses"
    )
    status: list[LifecycleStatus] | None = None
    environment: str | None = None
    owner: str | None = None
    location: str | None = None
    name: str | None = strawberry.field(default=None, description="exact name")
    name_contains: str | None = strawberry.field(
        default=None,
        description="any case; orders the page best match first: exact name, prefix, word, "
        "substring, then services, applications and hosts before ports and packages",
    )
    source: str | None = strawberry.field(default=None, description="seen by this source")

    def to_filter(self) -> CIFilter:
        return CIFilter(
            ci_class=self.ci_class,
            status=self.status,
            environment=self.environment,
            owner=self.owner,
            location=self.location,
            name=self.name,
            name_contains=self.name_contains,
            source=self.source,
        )


@strawberry.type(name="PageInfo")
class PageInfoType:
    end_cursor: str | None = strawberry.field(description="pass as `after` for the next page")
    has_next_page: bool


@strawberry.type(
    name="CIConnection",
    description="One page of CIs, ordered by id (best match first with nameContains). For a "
    "service-scoped token a page holds only the CIs in scope, so it may be shorter than "
    "`first` while more pages follow.",
)
class CIConnectionType:
    nodes: list[CIType]
    page_info: PageInfoType


@strawberry.type(name="ServiceSLA")
class ServiceSLAType:
    service: ServiceType
    sla: SLAType


@strawberry.type(name="Principal", description="Who the token stands for.")
class PrincipalType:
    name: str
    role: str
    services: list[str]
    authority: ApprovalLevel | None = strawberry.field(
        description="the most senior change approval the role may give; null: none"
    )


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime] | None:
    if (start is None) != (end is None):
        raise InvalidInput("give both start and end (a change window), or neither", where="end")
    return (start, end) if start is not None and end is not None else None


@strawberry.type
class Query(
    PracticeQuery, ReportsQuery, ProblemsQuery, WebhooksQuery, ProposalsQuery, ProposalMergeQuery
):
    @strawberry.field(description="The caller.")
    def me(self, info: GInfo) -> PrincipalType:
        p = info.context.principal
        return PrincipalType(
            name=p.name, role=p.role.value, services=list(p.services), authority=authority(p.role)
        )

    @strawberry.field(
        description="One CI by id, kind=value, Class:name or unique name; asOf: as it was."
    )
    async def ci(self, info: GInfo, ref: str, as_of: datetime | None = None) -> CIType:
        return to_gql(await resolve_ref(info.context, ref, where="ref", as_of=as_of), as_of)

    @strawberry.field(
        description="CIs a page at a time (cursor pagination, ordered by id; with "
        "filter.nameContains, best match first)."
    )
    async def cis(
        self,
        info: GInfo,
        filter: CIFilterInput | None = None,
        first: Annotated[int, strawberry.argument(description="page size")] = DEFAULT_PAGE,
        after: Annotated[
            str | None, strawberry.argument(description="a pageInfo.endCursor")
        ] = None,
    ) -> CIConnectionType:
        ctx = info.context
        if not 1 <= first <= ctx.settings.page_limit_max:
            raise InvalidInput(
                f"first must be between 1 and {ctx.settings.page_limit_max}", where="first"
            )
        vis = await ctx.visibility()
        flt = filter.to_filter() if filter is not None else None
        page = await ctx.call(ctx.store.list_cis, flt, limit=first, cursor=after)
        return CIConnectionType(
            nodes=[to_gql(c) for c in page.items if vis.allows(c.id)],
            page_info=PageInfoType(
                end_cursor=page.next_cursor, has_next_page=page.next_cursor is not None
            ),
        )

    @strawberry.field(description="One service by reference.")
    async def service(self, info: GInfo, ref: str, as_of: datetime | None = None) -> ServiceType:
        ci = await resolve_ref(info.context, ref, where="ref", as_of=as_of)
        if ci.service is None:
            raise InvalidInput(f"{ci.label()} is not a Service", where="ref")
        return cast(ServiceType, to_gql(ci, as_of))

    @strawberry.field(description="Every service (the caller may see), by name.")
    async def services(self, info: GInfo, kind: ServiceKind | None = None) -> list[ServiceType]:
        found = await _services(info.context)
        return [
            cast(ServiceType, to_gql(c))
            for c in found
            if kind is None or (c.service is not None and c.service.kind is kind)
        ]

    @strawberry.field(description="Every SLA, with its service.")
    async def slas(self, info: GInfo) -> list[ServiceSLAType]:
        out: list[ServiceSLAType] = []
        for c in await _services(info.context):
            if c.service is not None and c.service.sla is not None:
                svc = cast(ServiceType, to_gql(c))
                out.append(ServiceSLAType(service=svc, sla=cast(SLAType, c.service.sla)))
        return out

    @strawberry.field(description="One relationship by id.")
    async def relationship(
        self, info: GInfo, id: strawberry.ID, as_of: datetime | None = None
    ) -> RelType:
        ctx = info.context
        rel = await ctx.call(ctx.store.get_relationship, str(id), as_of=as_of)
        vis = await ctx.visibility()
        if not vis.allows_rel(rel):
            raise NotFound(f"no relationship {str(id)!r}", where="id")
        return cast(RelType, rel)

    @strawberry.field(description="The relationship types: names both ways, impact flow.")
    def relationship_types(self) -> list[RelationshipKindType]:
        return [
            RelationshipKindType(name=t.name, forward=t.forward, reverse=t.reverse, impact=t.impact)
            for t in REGISTRY.values()
        ]

    @strawberry.field(description="A CI's history (up to asOf), oldest first.")
    async def history(
        self, info: GInfo, ref: str, as_of: datetime | None = None
    ) -> list[HistoryEntryType]:
        ci = await resolve_ref(info.context, ref, where="ref")
        rows = await info.context.loaders.history.load(ci.id)
        return cast(list[HistoryEntryType], [h for h in rows if as_of is None or h.at <= as_of])

    @strawberry.field(description="Change records, optionally those naming one CI.")
    async def changes(self, info: GInfo, ci: str | None = None) -> list[ChangeRecordType]:
        ctx = info.context
        ci_id = (await resolve_ref(ctx, ci, where="ci")).id if ci else None
        vis = await ctx.visibility()
        found = [
            scoped_record(c, vis)
            for c in await ctx.loaders.changes()
            if ci_id is None or ci_id in c.ci_ids or ci_id in c.service_ids
        ]
        return [c for c in found if c is not None]

    @strawberry.field
    async def change(self, info: GInfo, id: strawberry.ID) -> ChangeRecordType:
        ctx = info.context
        rec = scoped_record(await ctx.call(ctx.store.get_change, str(id)), await ctx.visibility())
        if rec is None:
            raise NotFound(f"no change {str(id)!r}", where="id")
        return cast(ChangeRecordType, rec)

    @strawberry.field(description="Incident records, optionally naming one CI, or only open.")
    async def incidents(
        self, info: GInfo, ci: str | None = None, open_only: bool = False
    ) -> list[IncidentType]:
        ctx = info.context
        ci_id = (await resolve_ref(ctx, ci, where="ci")).id if ci else None
        vis = await ctx.visibility()
        if ci_id is not None or open_only:  # the store finds those by their links or state
            listed = await ctx.call(
                lambda: ctx.store.list_incidents(ci_id=ci_id, open_only=open_only)
            )
        else:
            listed = await ctx.loaders.incidents()
        found = [scoped_record(i, vis) for i in listed]
        return [i for i in found if i is not None]

    @strawberry.field
    async def incident(self, info: GInfo, id: strawberry.ID) -> IncidentType:
        ctx = info.context
        rec = scoped_record(await ctx.call(ctx.store.get_incident, str(id)), await ctx.visibility())
        if rec is None:
            raise NotFound(f"no incident {str(id)!r}", where="id")
        return cast(IncidentType, rec)

    # -- the impact engine ---------------------------------------------------------------

    @strawberry.field(
        description="What failing CIs does to services: with start and end (or a change "
        "with a planned window), a change's impact over that window; without, an "
        "incident's impact now. Severity, score, explaining paths and SLA exposure."
    )
    async def impact(
        self,
        info: GInfo,
        cis: Annotated[list[str] | None, strawberry.argument(description="CI references")] = None,
        change: Annotated[
            str | None,
            strawberry.argument(description="an RFC id: its CIs and planned window"),
        ] = None,
        start: datetime | None = None,
        end: datetime | None = None,
        mode: FailureMode = FailureMode.DOWN,
        as_of: datetime | None = None,
        paths: Annotated[int, strawberry.argument(description=f"0..{MAX_PATHS}")] = 3,
    ) -> ImpactReportType:
        ctx = info.context
        vis = await ctx.visibility()
        refs = list(cis or [])
        if change is not None:
            rec = await ctx.call(visible_change, ctx.store, vis, change, where="change")
            # Only the CIs in the caller's view (its answer is about those).
            refs += vis.keep(rec.ci_ids)
            start = start or rec.planned_start
            end = end or rec.planned_end
        failed = await resolve_refs(ctx, refs, where="cis")
        window = _window(start, end)
        if window is not None:
            got = await ctx.call(
                impact_app.change_impact, ctx.store, vis, failed, window[0], window[1], mode=mode,
                as_of=as_of, paths=paths,
            )  # fmt: skip
        else:
            got = await ctx.call(
                impact_app.incident_impact,
                ctx.store,
                vis,
                failed,
                mode=mode,
                as_of=as_of,
                paths=paths,
            )
        return cast(ImpactReportType, got)

    @strawberry.field(description="Single points of failure under a service, costliest "
        "first (limit: only the N costliest; leftOut says how many more).")  # fmt: skip
    async def spof(
        self, info: GInfo, service: str, as_of: datetime | None = None, limit: int | None = None
    ) -> SpofResultType:
        ctx = info.context
        svc = await resolve_ref(ctx, service, where="service", as_of=as_of)
        vis = await ctx.visibility()
        got = await ctx.call(impact_app.spof, ctx.store, vis, svc, as_of=as_of, limit=limit)
        return cast(SpofResultType, got)

    @strawberry.field(description="Expected availability of a service against its SLA.")
    async def availability(
        self, info: GInfo, service: str, as_of: datetime | None = None
    ) -> AvailabilityResultType:
        ctx = info.context
        svc = await resolve_ref(ctx, service, where="service", as_of=as_of)
        vis = await ctx.visibility()
        got = await ctx.call(impact_app.availability, ctx.store, vis, svc, as_of=as_of)
        return cast(AvailabilityResultType, got)

    @strawberry.field(description="The order to bring a service's CIs back (cold start, or "
        "with current: the CIs down in open incidents).")  # fmt: skip
    async def recovery(
        self, info: GInfo, service: str, as_of: datetime | None = None, current: bool = False
    ) -> RecoveryPlanType:
        ctx = info.context
        svc = await resolve_ref(ctx, service, where="service", as_of=as_of)
        vis = await ctx.visibility()
        got = await ctx.call(impact_app.recovery, ctx.store, vis, svc, as_of=as_of, current=current)
        return cast(RecoveryPlanType, got)

    @strawberry.field(description="Likely root causes of failing CIs or services.")
    async def cause(
        self,
        info: GInfo,
        cis: list[str],
        as_of: datetime | None = None,
        lookback_minutes: int = 24 * 60,
        top: Annotated[int, strawberry.argument(description=f"1..{MAX_CAUSES}")] = 10,
    ) -> CauseResultType:
        ctx = info.context
        if not 1 <= top <= MAX_CAUSES:
            raise InvalidInput(f"top must be between 1 and {MAX_CAUSES}", where="top")
        if lookback_minutes < 1:
            raise InvalidInput("lookbackMinutes must be positive", where="lookbackMinutes")
        affected = await resolve_refs(ctx, cis, where="cis")
        got = await ctx.call(
            impact_app.cause, ctx.store, await ctx.visibility(), affected, as_of=as_of,
            lookback=timedelta(minutes=lookback_minutes), top=top,
        )  # fmt: skip
        return cast(CauseResultType, got)


async def _services(ctx: GqlContext) -> list[CI]:
    vis = await ctx.visibility()
    page = await ctx.call(
        ctx.store.list_cis, CIFilter(ci_class="Service"), limit=ctx.settings.page_limit_max
    )
    return sorted((c for c in page.items if vis.allows(c.id)), key=lambda c: (c.name, c.id))
