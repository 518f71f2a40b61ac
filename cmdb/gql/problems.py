# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""Problems and known errors in GraphQL: the records, similar past problems, and the
mutations of their life (the use cases of cmdb/app/problems.py, as REST's).

Scope, as for changes and incidents: a service-scoped token reads a problem naming at
least one CI or service in its view (``cmdb.app.scope.readable``), shown with only the
ids in view (its incidents and changes: those it reads); anything else answers "not
found". It writes a problem only when everything the problem names is in view
(``cmdb.app.scope.writable``), judged on the record as it would be written,
since the services a problem affects are computed by the write itself.

Similar problems for a scoped caller are scored on what it sees: the problems it reads,
the CIs in view, and paths through them only (a reason must not name a hidden CI).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

import strawberry
from pydantic import BaseModel
from strawberry.types import Info

from cmdb.app import problems
from cmdb.app.caller import Caller
from cmdb.app.inputs import MAX_REFS, validated
from cmdb.app.problem_inputs import (
    DEFAULT_SIMILAR,
    MAX_SIMILAR,
    NewProblem,
    ProblemLinks,
    ProblemPatch,
    ProblemStep,
)
from cmdb.app.scope import Visibility, readable, seen
from cmdb.auth.roles import Permission
from cmdb.domain.errors import CmdbError, InvalidInput
from cmdb.domain.records import Problem, ProblemState
from cmdb.gql.context import GqlContext
from cmdb.gql.types import (
    ChangeRecordType,
    CIType,
    IncidentType,
    ServiceType,
    camel,
    scoped_record,
    to_gql,
)
from cmdb.practice.problems import allowed_next
from cmdb.store.contract import GraphStore

strawberry.enum(ProblemState, name="ProblemState")

PbInfo = Info[GqlContext, None]
T = TypeVar("T")


# --- the record ------------------------------------------------------------------------


def _problem(self: object) -> Problem:
    return cast(Problem, self)


@strawberry.type(
    name="Problem",
    description="The root cause of one or more incidents; a known error once its root "
    "cause or a workaround is recorded.",
)
class ProblemType:
    id: strawberry.ID
    title: str
    state: ProblemState
    description: str
    category: str = strawberry.field(description="suspected cause category")
    ci_ids: list[str] = strawberry.field(description="the CIs at fault (suspected)")
    service_ids: list[str] = strawberry.field(
        description="services currently (its incidents') or potentially (the impact of its "
        "CIs failing) affected"
    )
    incident_ids: list[str]
    change_ids: list[str] = strawberry.field(description="changes raised to remove the cause")
    symptoms: list[str] = strawberry.field(description="error messages and signs")
    root_cause: str
    workaround: str
    opened_at: datetime
    known_error_at: datetime | None
    resolved_at: datetime | None

    @strawberry.field(description="its root cause or a workaround is recorded")
    def known_error(self) -> bool:
        return _problem(self).known

    @strawberry.field(description="The states it may go to next.")
    def allowed_next(self) -> list[ProblemState]:
        return allowed_next(_problem(self))

    @strawberry.field(description="the CIs at fault (those in the caller's scope)")
    async def cis(self, info: PbInfo) -> list[CIType]:
        got = await info.context.loaders.ci.load_many([(i, None) for i in self.ci_ids])
        return [to_gql(c) for c in got if c is not None]

    @strawberry.field(description="the services affected (those in the caller's scope)")
    async def services(self, info: PbInfo) -> list[ServiceType]:
        got = await info.context.loaders.ci.load_many([(i, None) for i in self.service_ids])
        return [cast(ServiceType, to_gql(c)) for c in got if c is not None and c.service]

    @strawberry.field(description="its incidents (those the caller reads)")
    async def incidents(self, info: PbInfo) -> list[IncidentType]:
        vis = await info.context.visibility()
        found = [
            scoped_record(i, vis)
            for i in await info.context.loaders.incidents()
            if i.id in self.incident_ids
        ]
        return [i for i in found if i is not None]

    @strawberry.field(description="the changes raised to remove its cause (those it reads)")
    async def changes(self, info: PbInfo) -> list[ChangeRecordType]:
        vis = await info.context.visibility()
        found = [
            scoped_record(c, vis)
            for c in await info.context.loaders.changes()
            if c.id in self.change_ids
        ]
        return [c for c in found if c is not None]


@strawberry.type(name="SimilarProblem", description="A past problem like one on a CI.")
class SimilarType:
    problem: ProblemType
    score: float
    reasons: list[str] = strawberry.field(description="the evidence, strongest first")
    known_error: bool = strawberry.field(description="its root cause or a workaround is known")


async def _read_ids(ctx: GqlContext, vis: Visibility) -> tuple[set[str], set[str]]:
    """The incidents and the changes a scoped caller reads, by id."""
    incidents = {i.id for i in await ctx.loaders.incidents() if readable(vis, i)}
    changes = {c.id for c in await ctx.loaders.changes() if readable(vis, c)}
    return incidents, changes


async def _shown(
    ctx: GqlContext, problem: Problem, reads: tuple[set[str], set[str]] | None = None
) -> Problem | None:
    """The problem as the caller is shown it, or None when it may not read it (``reads``:
    :func:`_read_ids`, when the caller has it already)."""
    vis = await ctx.visibility()
    if vis.unrestricted:
        return problem
    if not readable(vis, problem):
        return None
    incidents, changes = reads if reads is not None else await _read_ids(ctx, vis)
    return seen(vis.ids, problem).model_copy(
        update={
            "incident_ids": [i for i in problem.incident_ids if i in incidents],
            "change_ids": [c for c in problem.change_ids if c in changes],
        }
    )


async def problems_naming(ctx: GqlContext, ci_id: str | None) -> list[ProblemType]:
    """Problems naming ``ci_id`` (at fault, or a service affected; every one for None), as
    the caller is shown them; one store read per request (the loader)."""
    vis = await ctx.visibility()
    reads = None if vis.unrestricted else await _read_ids(ctx, vis)
    out: list[ProblemType] = []
    for p in await ctx.loaders.problems():
        if ci_id is None or ci_id in p.ci_ids or ci_id in p.service_ids:
            got = await _shown(ctx, p, reads)
            if got is not None:
                out.append(cast(ProblemType, got))
    return out


# --- errors in the field's words ---------------------------------------------------------

# The use cases name a request's fields (REST's); a field's arguments name some differently.
_RENAMED = {"ci_ids": "cis", "incident_ids": "incidents", "change_ids": "changes"}
_ID = {"problem_id": "id"}


def _where(where: str | None, prefix: str = "", **renamed: str) -> str | None:
    """A use case's error field as the GraphQL field names it: ``root_cause`` ->
    ``input.rootCause``, ``ci_ids`` -> ``input.cis``; ``renamed``: whole names."""
    if not where:
        return where
    head, *rest = where.split(".")
    if head in renamed:
        return ".".join([renamed[head], *rest])
    name = _RENAMED.get(head) or camel(head)
    return ".".join(p for p in (prefix, name, *rest) if p)


def _named(
    fn: Callable[..., T],
    *args: Any,
    prefix: str = "",
    renamed: dict[str, str] | None = None,
    **kw: Any,
) -> T:
    """``fn(*args, **kw)``, its errors naming the field's arguments."""
    try:
        return fn(*args, **kw)
    except CmdbError as exc:
        exc.where = _where(exc.where, prefix, **(renamed or {}))
        raise


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], data: dict[str, Any]) -> M:
    return cast(M, _named(validated, model, data, prefix="input"))


def _readable_ids(
    check: Callable[[GraphStore, Visibility, str, str], None],
    store: GraphStore,
    vis: Visibility,
    ids: list[str],
    where: str,
) -> list[str]:
    """``ids`` (once each) if the caller reads every one; else not found, naming the first
    it does not read by its position."""
    for n, rid in enumerate(ids):
        check(store, vis, rid, f"{where}.{n}")
    return list(dict.fromkeys(ids))


# --- reading -----------------------------------------------------------------------------


@strawberry.type
class ProblemsQuery:
    @strawberry.field(description="One problem by id.")
    async def problem(self, info: PbInfo, id: strawberry.ID) -> ProblemType:
        ctx = info.context
        vis = await ctx.visibility()
        got = await ctx.call(_named, problems.get, ctx.store, vis, str(id), renamed=_ID)
        return cast(ProblemType, got)

    @strawberry.field(
        description="Problems by id, optionally those naming one CI (at fault, or a service "
        "affected; id, kind=value or name), in some states, known errors or not, or linked "
        "to one incident."
    )
    async def problems(
        self,
        info: PbInfo,
        ci: str | None = None,
        state: list[ProblemState] | None = None,
        known_error: Annotated[
            bool | None,
            strawberry.argument(
                description="true: the known error database (open problems whose root cause "
                "or workaround is known); false: the others"
            ),
        ] = None,
        incident: Annotated[
            str | None, strawberry.argument(description="linked to this incident")
        ] = None,
    ) -> list[ProblemType]:
        ctx = info.context
        vis = await ctx.visibility()
        found = await ctx.call(
            problems.list_problems,
            ctx.store,
            vis,
            ci=ci,
            states=state,
            known_error=known_error,
            incident=incident,
        )
        return [cast(ProblemType, p) for p in found]

    @strawberry.field(
        description="Past problems like one on a CI, best first, each with its score and "
        "the evidence: the same CI at fault or hit by its incidents, a CI at fault of the "
        "same class and version or package, or near it in the graph, and words shared "
        "with `text` (symptoms, an error message)."
    )
    async def similar_problems(
        self,
        info: PbInfo,
        ci: str,
        text: str = "",
        limit: Annotated[
            int, strawberry.argument(description=f"1..{MAX_SIMILAR}")
        ] = DEFAULT_SIMILAR,
    ) -> list[SimilarType]:
        ctx = info.context
        problems.check_similar_bounds(text=text, limit=limit)
        vis = await ctx.visibility()
        got = await ctx.call(problems.similar, ctx.store, vis, ci, text=text, limit=limit)
        return [
            SimilarType(
                problem=cast(ProblemType, s.problem),
                score=s.score,
                reasons=s.reasons,
                known_error=s.known_error,
            )
            for s in got.items
        ]


# --- mutations -------------------------------------------------------------------------


@strawberry.input(name="ProblemInput", description="A new problem: the CIs at fault (id, "
    "kind=value or unique name) and/or its incidents. With a root cause or a workaround "
    "it starts as a known error.")  # fmt: skip
class ProblemInput:
    id: str
    title: str
    cis: list[str] = strawberry.field(default_factory=list)
    incidents: list[str] = strawberry.field(default_factory=list, description="incident ids")
    symptoms: list[str] = strawberry.field(default_factory=list)
    description: str = ""
    category: str = ""
    root_cause: str = ""
    workaround: str = ""


@strawberry.input(name="ProblemUpdateInput", description="What to amend; only the fields "
    "given are written. A root cause or a workaround on an open problem makes it a known "
    "error; new CIs at fault recompute the services affected.")  # fmt: skip
class ProblemUpdateInput:
    title: str | None = None
    cis: list[str] | None = None
    symptoms: list[str] | None = None
    description: str | None = None
    category: str | None = None
    root_cause: str | None = None
    workaround: str | None = None


async def _write(
    info: PbInfo, work: Callable[[GraphStore, Caller, Visibility], Problem]
) -> ProblemType:
    """``work(store, caller, vis)`` in a worker thread, as the caller (needs the edit
    permission); the problem as the use case shows it."""
    ctx = info.context
    principal = ctx.require(Permission.EDIT)
    vis = await ctx.visibility()
    got = await ctx.call(work, ctx.store, Caller(principal, ctx.request_id), vis)
    return cast(ProblemType, got)


@strawberry.type
class ProblemMutation:
    @strawberry.mutation(
        description="Log a problem against the CIs at fault and/or its incidents (needs the "
        "edit permission); the services affected are computed."
    )
    async def log_problem(self, info: PbInfo, input: ProblemInput) -> ProblemType:
        info.context.require(Permission.EDIT)
        data = dict(vars(input))
        data["incident_ids"] = data.pop("incidents")
        new = _validated(NewProblem, data)

        def work(store: GraphStore, caller: Caller, vis: Visibility) -> Problem:
            incidents = _readable_ids(
                problems.check_incident, store, vis, new.incident_ids, "input.incidents"
            )
            given = new.model_copy(update={"incident_ids": incidents})
            return _named(problems.log, store, caller, vis, given, prefix="input")

        return await _write(info, work)

    @strawberry.mutation(
        description="Amend a problem's text or its CIs at fault (not a closed one). Recording "
        "a root cause or a workaround on an open problem makes it a known error."
    )
    async def update_problem(
        self, info: PbInfo, id: strawberry.ID, input: ProblemUpdateInput
    ) -> ProblemType:
        info.context.require(Permission.EDIT)
        given = {k: v for k, v in vars(input).items() if v is not None}
        if not given:
            raise InvalidInput("give at least one field to amend", where="input")
        patch = _validated(ProblemPatch, given)

        def work(store: GraphStore, caller: Caller, vis: Visibility) -> Problem:
            return _named(
                problems.update, store, caller, vis, str(id), patch,
                prefix="input", renamed={**_ID, "state": "id"},
            )  # fmt: skip

        return await _write(info, work)

    @strawberry.mutation(
        description="One step of a problem's life: logged -> investigating -> known_error -> "
        "resolved -> closed (an illegal one names the allowed next states; a known error "
        "needs its root cause or a workaround first)."
    )
    async def transition_problem(
        self, info: PbInfo, id: strawberry.ID, to: ProblemState
    ) -> ProblemType:
        step = ProblemStep(to=to)

        def work(store: GraphStore, caller: Caller, vis: Visibility) -> Problem:
            return _named(
                problems.transition, store, caller, vis, str(id), step,
                renamed={**_ID, "state": "to"},
            )  # fmt: skip

        return await _write(info, work)

    @strawberry.mutation(
        description="Link incidents (their services join those affected) and the changes "
        "raised to remove the cause."
    )
    async def link_problem(
        self,
        info: PbInfo,
        id: strawberry.ID,
        incidents: list[str] | None = None,
        changes: list[str] | None = None,
    ) -> ProblemType:
        info.context.require(Permission.EDIT)
        incident_ids, change_ids = list(incidents or []), list(changes or [])
        if not incident_ids and not change_ids:
            raise InvalidInput("give incidents or changes to link", where="incidents")
        for name, ids in (("incidents", incident_ids), ("changes", change_ids)):
            if len(ids) > MAX_REFS:
                raise InvalidInput(f"link at most {MAX_REFS} at a time", where=name)

        def work(store: GraphStore, caller: Caller, vis: Visibility) -> Problem:
            links = ProblemLinks(
                incident_ids=_readable_ids(
                    problems.check_incident, store, vis, incident_ids, "incidents"
                ),
                change_ids=_readable_ids(problems.check_change, store, vis, change_ids, "changes"),
            )
            return _named(problems.link, store, caller, vis, str(id), links, renamed=_ID)

        return await _write(info, work)
