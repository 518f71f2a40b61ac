# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""Problems and known errors in GraphQL: the records, similar past problems, and the
mutations of their life (cmdb/practice/problems.py, similar.py do the work).

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

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

import strawberry
from pydantic import BaseModel, ConfigDict, Field
from strawberry.types import Info

from cmdb.app.caller import Stamped as _Stamped
from cmdb.app.inputs import MAX_REFS, resolve_visible, validated
from cmdb.app.scope import (
    Visibility,
    change_readable,
    check_writable,
    in_view,
    incident_readable,
    readable,
)
from cmdb.auth.roles import Permission
from cmdb.domain.changeset import ApplyResult, ChangeSet
from cmdb.domain.errors import CmdbError, InvalidInput, NotFound
from cmdb.domain.model import CI
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
from cmdb.practice.problems import (
    OPEN_STATES,
    allowed_next,
    link,
    log_problem,
    transition_problem,
)
from cmdb.practice.problems import update_problem as practice_update
from cmdb.practice.reports import seen
from cmdb.practice.similar import Similar, similar_problems
from cmdb.store.contract import GraphStore

strawberry.enum(ProblemState, name="ProblemState")

PbInfo = Info[GqlContext, None]
T = TypeVar("T")

# The REST routes' bounds (cmdb/api/routers/problems.py), so both shells refuse alike.
MAX_SIMILAR = 100
DEFAULT_SIMILAR = 10
MAX_QUERY_TEXT = 2_000
MAX_TEXT = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


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


async def shown(
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
            got = await shown(ctx, p, reads)
            if got is not None:
                out.append(cast(ProblemType, got))
    return out


async def _visible_problem(ctx: GqlContext, problem_id: str) -> Problem:
    """The problem as the caller is shown it; not found when it does not read it."""
    try:
        found = await ctx.call(ctx.store.get_problem, problem_id)
    except NotFound:
        found = None
    got = await shown(ctx, found) if found is not None else None
    if got is None:
        raise NotFound(f"no problem {problem_id!r}", where="id")
    return got


@strawberry.type
class ProblemsQuery:
    @strawberry.field(description="One problem by id.")
    async def problem(self, info: PbInfo, id: strawberry.ID) -> ProblemType:
        return cast(ProblemType, await _visible_problem(info.context, str(id)))

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
        ci_id = (await _ci(ctx, ci, where="ci")).id if ci else None
        if incident is not None:
            vis = await ctx.visibility()
            await ctx.call(_check_incident, ctx.store, vis, incident, "incident")
        return [
            p
            for p in await problems_naming(ctx, ci_id)
            if (not state or p.state in state)
            and (known_error is None or _kedb(_problem(p)) is known_error)
            and (incident is None or incident in p.incident_ids)
        ]

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
        if not 1 <= limit <= MAX_SIMILAR:
            raise InvalidInput(f"limit must be between 1 and {MAX_SIMILAR}", where="limit")
        if len(text) > MAX_QUERY_TEXT:
            raise InvalidInput(f"text is longer than {MAX_QUERY_TEXT} characters", where="text")
        target = await _ci(ctx, ci, where="ci")
        vis = await ctx.visibility()
        found: list[Similar] = await ctx.call(
            similar_problems, in_view(ctx.store, vis), target.id, text=text, limit=limit
        )
        reads = None if vis.unrestricted else await _read_ids(ctx, vis)
        out: list[SimilarType] = []
        for s in found:
            got = await shown(ctx, s.problem, reads)
            if got is not None:
                out.append(
                    SimilarType(
                        problem=cast(ProblemType, got),
                        score=s.score,
                        reasons=s.reasons,
                        known_error=s.known_error,
                    )
                )
        return out


def _kedb(problem: Problem) -> bool:
    """In the known error database: open, with its root cause or a workaround recorded."""
    return problem.known and problem.state in OPEN_STATES


async def _ci(ctx: GqlContext, ref: str, *, where: str) -> Any:
    vis = await ctx.visibility()
    return await ctx.call(resolve_visible, ctx.store, vis, ref, where=where)


# --- mutations -------------------------------------------------------------------------


class _ProblemIn(BaseModel):
    """Bounds on what a mutation writes (the record itself has none)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"^\S+$")
    title: str = Field(min_length=1, max_length=500)
    cis: list[str] = Field(default_factory=list, max_length=MAX_REFS)
    incidents: list[str] = Field(default_factory=list, max_length=MAX_REFS)
    symptoms: list[Annotated[str, Field(max_length=MAX_TEXT)]] = Field(
        default_factory=list, max_length=MAX_REFS
    )
    description: str = Field(default="", max_length=MAX_TEXT)
    category: str = Field(default="", max_length=200)
    root_cause: str = Field(default="", max_length=MAX_TEXT)
    workaround: str = Field(default="", max_length=MAX_TEXT)


class _ProblemPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=500)
    cis: list[str] | None = Field(default=None, max_length=MAX_REFS)
    symptoms: list[Annotated[str, Field(max_length=MAX_TEXT)]] | None = Field(
        default=None, max_length=MAX_REFS
    )
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    category: str | None = Field(default=None, max_length=200)
    root_cause: str | None = Field(default=None, max_length=MAX_TEXT)
    workaround: str | None = Field(default=None, max_length=MAX_TEXT)


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


# The practice names the record's fields; a mutation's arguments name some differently.
_RENAMED = {"ci_ids": "cis", "incident_ids": "incidents", "change_ids": "changes"}


def _where(where: str | None, prefix: str = "", **renamed: str) -> str | None:
    """A practice error's field as the mutation names it: ``root_cause`` ->
    ``input.rootCause``, ``ci_ids`` -> ``input.cis``; ``renamed``: whole names."""
    if not where:
        return where
    head, *rest = where.split(".")
    if head in renamed:
        return ".".join([renamed[head], *rest])
    name = _RENAMED.get(head) or camel(head)
    return ".".join(p for p in (prefix, name, *rest) if p)


def _practice(
    fn: Callable[..., T],
    *args: Any,
    prefix: str = "",
    renamed: dict[str, str] | None = None,
    **kw: Any,
) -> T:
    """``fn(*args, **kw)``, its errors naming the mutation's fields."""
    try:
        return fn(*args, **kw)
    except CmdbError as exc:
        exc.where = _where(exc.where, prefix, **(renamed or {}))
        raise


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], data: dict[str, Any]) -> M:
    return cast(M, _practice(validated, model, data, prefix="input"))


class _Guarded(_Stamped):
    """The store a problem mutation writes through: each change set stamped with the
    request id, and refused (Forbidden, nothing written) when a problem in it names
    anything outside the caller's view."""

    def __init__(self, store: GraphStore, vis: Visibility, request_id: str | None) -> None:
        super().__init__(store, request_id)
        self._vis = vis

    def apply(self, cs: ChangeSet) -> ApplyResult:
        for p in cs.problems:
            check_writable(self._vis, p, "write it")
        return super().apply(cs)


async def _write(info: PbInfo, work: Callable[[GraphStore, Visibility, str], Problem]) -> Problem:
    """``work(store, vis, actor)`` in a worker thread, writing through :class:`_Guarded`."""
    ctx = info.context
    principal = ctx.require(Permission.EDIT)
    vis = await ctx.visibility()
    store = cast(GraphStore, _Guarded(ctx.store, vis, ctx.request_id))
    return await ctx.call(work, store, vis, principal.name)


def _writable_problem(store: GraphStore, vis: Visibility, problem_id: str, what: str) -> Problem:
    """The problem, if the caller reads it (else not found) and may write it."""
    try:
        problem = store.get_problem(problem_id)
    except NotFound:
        problem = None
    if problem is None or not readable(vis, problem):
        raise NotFound(f"no problem {problem_id!r}", where="id")
    check_writable(vis, problem, what)
    return problem


def _cis(store: GraphStore, vis: Visibility, refs: Sequence[str], where: str) -> list[CI]:
    got = [resolve_visible(store, vis, r, where=f"{where}.{n}") for n, r in enumerate(refs)]
    return list({c.id: c for c in got}.values())


def _check_incident(store: GraphStore, vis: Visibility, incident_id: str, where: str) -> None:
    """Not found unless the caller reads the incident (a hidden one answers as missing)."""
    if not incident_readable(store, vis, incident_id):
        raise NotFound(f"no incident {incident_id!r}", where=where)


def _check_change(store: GraphStore, vis: Visibility, change_id: str, where: str) -> None:
    if not change_readable(store, vis, change_id):
        raise NotFound(f"no change {change_id!r}", where=where)


def _readable_ids(
    check: Callable[[GraphStore, Visibility, str, str], None],
    store: GraphStore,
    vis: Visibility,
    ids: Sequence[str],
    where: str,
) -> list[str]:
    """``ids`` (once each) if the caller reads every one; else not found, naming the first
    it does not read by its position."""
    for n, rid in enumerate(ids):
        check(store, vis, rid, f"{where}.{n}")
    return list(dict.fromkeys(ids))


async def _answer(info: PbInfo, problem: Problem) -> ProblemType:
    # What was written names only ids in view (the write was refused otherwise); its
    # incidents and changes are still shown as the caller reads them.
    return cast(ProblemType, await shown(info.context, problem))


@strawberry.type
class ProblemMutation:
    @strawberry.mutation(
        description="Log a problem against the CIs at fault and/or its incidents (needs the "
        "edit permission); the services affected are computed."
    )
    async def log_problem(self, info: PbInfo, input: ProblemInput) -> ProblemType:
        info.context.require(Permission.EDIT)
        body = _validated(_ProblemIn, dict(vars(input)))

        def work(store: GraphStore, vis: Visibility, actor: str) -> Problem:
            cis = _cis(store, vis, body.cis, "input.cis")
            incidents = _readable_ids(
                _check_incident, store, vis, body.incidents, "input.incidents"
            )
            return _practice(
                log_problem,
                store,
                prefix="input",
                problem_id=body.id,
                title=body.title,
                cis=cis,
                actor=actor,
                now=_now(),
                incident_ids=incidents,
                symptoms=body.symptoms,
                description=body.description,
                category=body.category,
                root_cause=body.root_cause,
                workaround=body.workaround,
            )

        return await _answer(info, await _write(info, work))

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
        body = _validated(_ProblemPatchIn, given)
        fields: dict[str, object] = body.model_dump(exclude_unset=True, exclude={"cis"})

        def work(store: GraphStore, vis: Visibility, actor: str) -> Problem:
            _writable_problem(store, vis, str(id), "amend it")
            if body.cis is not None:
                fields["ci_ids"] = [c.id for c in _cis(store, vis, body.cis, "input.cis")]
            return _practice(
                practice_update, store, str(id), fields, actor=actor, now=_now(),
                prefix="input", renamed={"state": "id"},
            )  # fmt: skip

        return await _answer(info, await _write(info, work))

    @strawberry.mutation(
        description="One step of a problem's life: logged -> investigating -> known_error -> "
        "resolved -> closed (an illegal one names the allowed next states; a known error "
        "needs its root cause or a workaround first)."
    )
    async def transition_problem(
        self, info: PbInfo, id: strawberry.ID, to: ProblemState
    ) -> ProblemType:
        def work(store: GraphStore, vis: Visibility, actor: str) -> Problem:
            _writable_problem(store, vis, str(id), "move it")
            return _practice(
                transition_problem, store, str(id), to, actor=actor, now=_now(),
                renamed={"state": "to"},
            )  # fmt: skip

        return await _answer(info, await _write(info, work))

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

        def work(store: GraphStore, vis: Visibility, actor: str) -> Problem:
            _writable_problem(store, vis, str(id), "link it")
            incs = _readable_ids(_check_incident, store, vis, incident_ids, "incidents")
            chgs = _readable_ids(_check_change, store, vis, change_ids, "changes")
            return _practice(link, store, str(id), actor=actor, incident_ids=incs, change_ids=chgs)

        return await _answer(info, await _write(info, work))
